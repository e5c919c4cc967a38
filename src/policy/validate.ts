// The contract's policy rules (SPEC section 2, PolicyRules.sol), checked in TypeScript before anything is sent.
import { type Address, getAddress, isAddress, isAddressEqual, isHex, zeroAddress } from "viem";

import { ENTRY_POINT_V08_ADDRESS, PERMIT2_ADDRESS } from "../abis/generated.js";
import { MAX_CAP, UNLIMITED } from "../constants.js";
import { InvalidPolicyInputError } from "../errors/policy.js";
import type { AgentPolicy } from "../types.js";
import { shortAddress } from "../utils/format.js";

export type ValidatePolicyOptions = {
  /** The account the policy is for (the account may be neither a token nor a merchant). */
  address?: Address | undefined;
  /** The account's EntryPoint (default: the canonical v0.8 one). */
  entryPoint?: Address | undefined;
};

/** Which forbidden address `a` is (`"the account itself"`, `"the EntryPoint"`, `"Permit2"`), if any. */
export function forbiddenRole(a: Address, opts: ValidatePolicyOptions): string | undefined {
  if (opts.address && isAddressEqual(a, opts.address)) return "the account itself";
  if (isAddressEqual(a, opts.entryPoint ?? ENTRY_POINT_V08_ADDRESS)) return "the EntryPoint";
  if (isAddressEqual(a, PERMIT2_ADDRESS)) return "Permit2";
  return undefined;
}

function fail(field: string, message: string): never {
  throw new InvalidPolicyInputError(message, { field });
}

function checkUint(field: string, value: unknown, bits: number, kind: "number" | "bigint"): void {
  const ok =
    kind === "number"
      ? typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value < 2 ** bits
      : typeof value === "bigint" && value >= 0n && value < 1n << BigInt(bits);
  if (!ok) {
    fail(
      field,
      `${field} must be ${kind === "number" ? "a whole number" : "a bigint"} in [0, 2^${bits}); got ${String(value)}.`,
    );
  }
}

function checkCap(field: string, value: bigint, unit: string): void {
  if (value > MAX_CAP && value !== UNLIMITED) {
    fail(field, `${field} ${value} is above the largest cap (2^128-2 ${unit}). Lower it, or use UNLIMITED (2^256-1).`);
  }
}

function checkAddress(field: string, value: unknown): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: true })) {
    fail(field, `${field} ${JSON.stringify(value)} is not an address (or its checksum is wrong).`);
  }
  return getAddress(value);
}

/**
 * Checks an {@link AgentPolicy} (in contract units) against every rule the contract applies on grant and update, and
 * the ranges of its fields, so a bad policy is refused before it is sent. The messages name the field, what is wrong
 * and how to fix it. `buildPolicy` checks its human inputs with friendlier messages and then calls this too.
 *
 * @throws InvalidPolicyInputError
 * @example
 * validatePolicy(policy, { address: account })
 */
export function validatePolicy(policy: AgentPolicy, opts: ValidatePolicyOptions = {}): void {
  checkUint("validAfter", policy.validAfter, 48, "number");
  checkUint("validUntil", policy.validUntil, 48, "number");
  checkUint("period", policy.period, 32, "number");
  checkUint("activeHours", policy.activeHours, 168, "bigint");
  checkUint("maxCallsPerPeriod", policy.maxCallsPerPeriod, 32, "number");
  checkUint("gasBudget", policy.gasBudget, 256, "bigint");
  if (!isHex(policy.mandate, { strict: true }) || policy.mandate.length !== 66) {
    fail("mandate", `mandate ${JSON.stringify(policy.mandate)} must be 32 bytes of hex (a keccak256 hash).`);
  }
  if (policy.validUntil <= policy.validAfter) {
    fail(
      "validUntil",
      `validUntil (${policy.validUntil}) must be after validAfter (${policy.validAfter}). Move validUntil later (NO_EXPIRY for none) or validAfter earlier.`,
    );
  }
  if (policy.period === 0) fail("period", "period must be greater than 0 seconds.");
  if (policy.activeHours === 0n) {
    fail("activeHours", "activeHours must allow at least one hour (it is 0). Use ANY_HOUR to allow any time.");
  }
  checkCap("gasBudget", policy.gasBudget, "wei");

  const tokens: Address[] = [];
  policy.limits.forEach((lim, i) => {
    const f = `limits[${i}]`;
    const token = checkAddress(`${f}.token`, lim.token);
    const role = forbiddenRole(token, opts);
    if (role) {
      fail(
        `${f}.token`,
        `${f}.token ${shortAddress(token)} is ${role}. A policy may not list the account, the EntryPoint or Permit2 as a token.`,
      );
    }
    const j = tokens.findIndex((t) => isAddressEqual(t, token));
    if (j !== -1) {
      fail(
        `${f}.token`,
        `${f}.token ${shortAddress(token)} is listed twice (also limits[${j}]). Merge the two limits.`,
      );
    }
    tokens.push(token);
    for (const k of ["perPayment", "perPeriod", "lifetime"] as const) {
      checkUint(`${f}.${k}`, lim[k], 256, "bigint");
      checkCap(`${f}.${k}`, lim[k], "units");
    }
    if (lim.perPayment > lim.perPeriod) {
      fail(
        `${f}.perPayment`,
        `${f}.perPayment ${lim.perPayment} is larger than perPeriod ${lim.perPeriod} for ${shortAddress(token)}. Lower perPayment or raise perPeriod.`,
      );
    }
    if (lim.perPeriod > lim.lifetime) {
      fail(
        `${f}.perPeriod`,
        `${f}.perPeriod ${lim.perPeriod} is larger than lifetime ${lim.lifetime} for ${shortAddress(token)}. Lower perPeriod or raise lifetime.`,
      );
    }
    checkLane(f, token, lim);
  });

  const merchants: Address[] = [];
  policy.merchants.forEach((m, i) => {
    const f = `merchants[${i}]`;
    const merchant = checkAddress(f, m);
    if (isAddressEqual(merchant, zeroAddress)) {
      fail(f, `${f} is the zero address. Remove it: a merchant must be an address that can be paid.`);
    }
    const role = forbiddenRole(merchant, opts);
    if (role) {
      fail(
        f,
        `${f} ${shortAddress(merchant)} is ${role}. A merchant may not be the account, the EntryPoint or Permit2.`,
      );
    }
    const t = tokens.findIndex((x) => isAddressEqual(x, merchant));
    if (t !== -1) {
      fail(f, `${f} ${shortAddress(merchant)} is the token of limits[${t}]. A merchant may not be a listed token.`);
    }
    const j = merchants.findIndex((x) => isAddressEqual(x, merchant));
    if (j !== -1)
      fail(f, `${f} ${shortAddress(merchant)} is listed twice (also merchants[${j}]). Remove the duplicate.`);
    merchants.push(merchant);
  });
}

/** The x402 lane fields of one limit (SPEC section 7), checked as the contract checks them. */
function checkLane(f: string, token: Address, lim: AgentPolicy["limits"][number]) {
  const count = lim.laneCount ?? 0;
  const max = lim.laneMax ?? 0n;
  checkUint(`${f}.laneCount`, count, 32, "number");
  checkUint(`${f}.laneMax`, max, 256, "bigint");
  if (count === 0) return;
  if (isAddressEqual(token, zeroAddress)) {
    fail(`${f}.laneCount`, `${f} is ETH: an x402 lane needs an ERC-20 token. Set laneCount to 0 for ETH.`);
  }
  if (count > 256) fail(`${f}.laneCount`, `${f}.laneCount ${count} is above 256. Lower it to at most 256 per period.`);
  if (max === 0n || max > lim.perPayment) {
    fail(
      `${f}.laneMax`,
      `${f}.laneMax ${max} must be above 0 and at most perPayment ${lim.perPayment} when laneCount is set. Choose the largest x402 payment within perPayment.`,
    );
  }
  if (max > MAX_CAP)
    fail(`${f}.laneMax`, `${f}.laneMax ${max} is above 2^128-2 units (a lane is never unlimited). Lower it.`);
}

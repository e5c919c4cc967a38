import {
  type Address,
  type Chain,
  type Client,
  type Hex,
  type Transport,
  getAddress,
  isAddress,
  isAddressEqual,
  isHex,
  keccak256,
  parseUnits,
  stringToBytes,
  zeroAddress,
  zeroHash,
} from "viem";
import { getBlock } from "viem/actions";
import { getAction } from "viem/utils";

import { ANY_HOUR, MAX_CAP, NO_EXPIRY, UNLIMITED, UNLIMITED_CALLS } from "../constants.js";
import { InvalidPolicyInputError } from "../errors/policy.js";
import type { AgentPolicy, TokenLimit } from "../types.js";
import { formatUtc, shortAddress } from "../utils/format.js";
import { readTokenMetadata } from "../utils/tokens.js";
import { type Duration, parseDuration } from "./duration.js";
import { type WeeklySchedule, activeHoursFromSchedule } from "./schedule.js";
import { forbiddenRole, validatePolicy } from "./validate.js";

/** An amount in token units as a decimal string (`"25.50"`), or `"unlimited"`. */
export type AmountInput = string;

/** A moment: a Date or unix seconds. */
export type TimeInput = Date | number;

export type TokenLimitInput = {
  /** The token's address, or `"ETH"` (or the zero address) for native ETH. */
  token: Address | "ETH";
  /** Largest single payment, e.g. `"25"`. */
  perPayment: AmountInput;
  /** Most per period, e.g. `"100"`. */
  perPeriod: AmountInput;
  /** Most ever, e.g. `"1000"`. */
  lifetime: AmountInput;
  /**
   * The x402 lane (signature payments, SPEC section 7): at most `count` payments per period of at most `max` each
   * (e.g. `{ count: 20, max: "0.50" }`). Omitted: no lane.
   */
  lane?: { count: number; max: AmountInput };
};

/** A policy in human terms; {@link buildPolicy} turns it into the contract's {@link AgentPolicy}. */
export type PolicyInput = {
  /** Caps per token (amounts in token units; decimals are read on-chain). The agent may pay with no other token. */
  limits: readonly TokenLimitInput[];
  /** The only addresses the agent may pay (no duplicates). */
  merchants: readonly string[];
  /** Length of a spending period: `"1d"`, `"12h"`, `"30d"`, or seconds. */
  period: Duration;
  /**
   * When the agent may act. `from`: a Date, unix seconds or `"now"` (the latest block's time); omitted, the agent may
   * act at once and periods are aligned to unix time (`"1d"` periods reset at 00:00 UTC), since the period schedule
   * is anchored at `from`. `for` (a duration from `from`, which then defaults to `"now"`) or `until` (a Date, unix
   * seconds or `"never"`, the default) end it; `until` is the last allowed second.
   */
  validity?:
    | {
        from?: TimeInput | "now" | undefined;
        for?: Duration | undefined;
        until?: TimeInput | "never" | undefined;
      }
    | undefined;
  /** Weekly windows in local time zones (see `activeHoursFromSchedule`); omitted, any hour of the week. */
  schedule?: WeeklySchedule | readonly WeeklySchedule[] | undefined;
  /** The date whose UTC offsets the schedule uses (default: now). See the daylight-saving note in `schedule.ts`. */
  scheduleAt?: TimeInput | undefined;
  /** Calls per period (each call of a batch counts), or `"unlimited"` (the default). */
  maxCallsPerPeriod?: number | "unlimited" | undefined;
  /**
   * Total wei the account may pay for the agent's UserOperations: a decimal string in ETH (`"0.05"`), a bigint in
   * wei, or `"unlimited"`. Default 0: the agent can act only directly (paying its own gas) or through an allowed
   * paymaster. Size it with `estimateGasBudget`.
   */
  gasBudget?: string | bigint | undefined;
  /** The human instruction this grant implements: its text (hashed with keccak256 of its UTF-8 bytes) or a hash. */
  mandate?: { text: string } | { hash: Hex } | undefined;
  /** The account the policy is for, so that it is refused as a token or merchant. */
  address?: Address | undefined;
};

export type BuildPolicyReturnType = AgentPolicy;

const AMOUNT = /^\d+(\.\d+)?$/;

function fail(field: string, message: string): never {
  throw new InvalidPolicyInputError(message, { field });
}

function parseAmount(field: string, value: unknown, decimals: number, symbol: string): bigint {
  if (value === undefined) {
    fail(field, `${field} is missing for ${symbol}. Give an amount such as "100" or "unlimited".`);
  }
  if (typeof value !== "string") {
    fail(
      field,
      `${field} for ${symbol} must be a decimal string such as "25.50" or "unlimited", not a ${typeof value}. Put it in quotes.`,
    );
  }
  if (value === "unlimited") return UNLIMITED;
  if (!AMOUNT.test(value)) {
    fail(
      field,
      `${field} "${value}" for ${symbol} is not a decimal amount. Use digits with an optional "." such as "25.50", or "unlimited".`,
    );
  }
  const fraction = value.split(".")[1] ?? "";
  if (fraction.length > decimals) {
    fail(
      field,
      `${field} "${value}" for ${symbol} has more than ${decimals} decimals. Round it to ${decimals} decimals.`,
    );
  }
  const units = parseUnits(value, decimals);
  if (units > MAX_CAP) {
    fail(
      field,
      `${field} "${value}" for ${symbol} is above the largest cap (2^128-2 units). Lower it or use "unlimited".`,
    );
  }
  return units;
}

function parseTime(field: string, value: unknown): number {
  let s: number;
  if (value instanceof Date) s = Math.floor(value.getTime() / 1000);
  else if (typeof value === "number" && Number.isSafeInteger(value)) s = value;
  else fail(field, `${field} must be a Date or unix seconds; got ${JSON.stringify(value)}.`);
  if (Number.isNaN(s) || s < 0 || s >= NO_EXPIRY) {
    fail(field, `${field} is out of range: it must be between 1970 and 2^48-2 seconds.`);
  }
  return s;
}

function parseAddress(field: string, value: unknown): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: true })) {
    fail(
      field,
      `${field} ${JSON.stringify(value)} is not an address (or its checksum is wrong). Use a 20-byte hex address.`,
    );
  }
  return getAddress(value);
}

/**
 * Builds the contract's {@link AgentPolicy} from a policy in human terms, checking every field first. Amounts are
 * decimal strings in token units (decimals read on-chain with `decimals()`; ETH has 18), durations are `"1d"`-style,
 * the weekly schedule is local time in IANA time zones (converted to the UTC hour-of-week mask, rounding inward), the
 * mandate is the instruction's text or hash. Every rule the contract applies (SPEC section 2) is checked here too,
 * so nothing invalid is ever sent.
 *
 * @throws InvalidPolicyInputError naming the field, what is wrong and how to fix it.
 * @example
 * const policy = await buildPolicy(publicClient, {
 *   limits: [{ token: usdc, perPayment: "25", perPeriod: "100", lifetime: "1000" }],
 *   merchants: [coffeeShop, apiProvider],
 *   period: "1d",
 *   validity: { from: "now", for: "30d" },
 *   schedule: { days: "Mon-Fri", from: "09:00", to: "17:30", timeZone: "Europe/Berlin" },
 *   gasBudget: "0.05",
 *   mandate: { text: "Buy office coffee and API credits, at most 100 USDC a day" },
 * })
 */
export async function buildPolicy(
  client: Client<Transport, Chain | undefined>,
  input: PolicyInput,
): Promise<BuildPolicyReturnType> {
  const roles = { address: input.address };

  // tokens: addresses first (no chain reads), then decimals and amounts
  if (!Array.isArray(input.limits))
    fail("limits", "limits must be a list of { token, perPayment, perPeriod, lifetime }.");
  const tokens: Address[] = input.limits.map((lim, i) => {
    const f = `limits[${i}].token`;
    const token = lim?.token === "ETH" ? zeroAddress : parseAddress(f, lim?.token);
    const role = forbiddenRole(token, roles);
    if (role) {
      fail(
        f,
        `${f} ${shortAddress(token)} is ${role}. A policy may not list the account, the EntryPoint or Permit2 as a token.`,
      );
    }
    return token;
  });
  tokens.forEach((t, i) => {
    const j = tokens.findIndex((x) => isAddressEqual(x, t));
    if (j !== i) {
      const name = isAddressEqual(t, zeroAddress) ? "ETH" : shortAddress(t);
      fail(
        `limits[${i}].token`,
        `limits[${i}].token ${name} is listed twice (also limits[${j}]). Merge the two limits into one.`,
      );
    }
  });

  // merchants
  if (!Array.isArray(input.merchants)) fail("merchants", "merchants must be a list of addresses.");
  const merchants = input.merchants.map((m, i) => {
    const f = `merchants[${i}]`;
    const merchant = parseAddress(f, m);
    if (isAddressEqual(merchant, zeroAddress)) {
      fail(f, `${f} is the zero address. Remove it: a merchant must be an address that can be paid.`);
    }
    const role = forbiddenRole(merchant, roles);
    if (role)
      fail(
        f,
        `${f} ${shortAddress(merchant)} is ${role}. A merchant may not be the account, the EntryPoint or Permit2.`,
      );
    const t = tokens.findIndex((x) => isAddressEqual(x, merchant));
    if (t !== -1) {
      fail(
        f,
        `${f} ${shortAddress(merchant)} is the token of limits[${t}]. A merchant may not be a listed token; remove it from merchants.`,
      );
    }
    return merchant;
  });
  merchants.forEach((m, i) => {
    const j = merchants.findIndex((x) => isAddressEqual(x, m));
    if (j !== i)
      fail(
        `merchants[${i}]`,
        `merchants[${i}] ${shortAddress(m)} is listed twice (also merchants[${j}]). Remove the duplicate.`,
      );
  });

  // period, schedule, calls, gas, mandate: no chain needed
  if (input.period === undefined) fail("period", `period is missing. Give a duration such as "1d" or "12h".`);
  const period = parseDuration(input.period, "period", 2 ** 32 - 1);
  const activeHours =
    input.schedule === undefined ? ANY_HOUR : activeHoursFromSchedule(input.schedule, { at: input.scheduleAt });

  let maxCallsPerPeriod = UNLIMITED_CALLS;
  if (input.maxCallsPerPeriod !== undefined && input.maxCallsPerPeriod !== "unlimited") {
    const n = input.maxCallsPerPeriod;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0 || n >= UNLIMITED_CALLS) {
      fail(
        "maxCallsPerPeriod",
        `maxCallsPerPeriod ${JSON.stringify(n)} must be a whole number from 0 to ${UNLIMITED_CALLS - 1}, or "unlimited".`,
      );
    }
    maxCallsPerPeriod = n;
  }

  let gasBudget = 0n;
  const g = input.gasBudget;
  if (g === "unlimited") gasBudget = UNLIMITED;
  else if (typeof g === "bigint") {
    if (g < 0n) fail("gasBudget", `gasBudget ${g} must not be negative.`);
    gasBudget = g;
  } else if (typeof g === "string") {
    if (!AMOUNT.test(g)) {
      fail(
        "gasBudget",
        `gasBudget "${g}" is not a decimal amount of ETH. Use a string such as "0.05", a bigint in wei, or "unlimited".`,
      );
    }
    if ((g.split(".")[1] ?? "").length > 18) {
      fail("gasBudget", `gasBudget "${g}" has more than 18 decimals. Round it to 18 decimals (1 wei).`);
    }
    gasBudget = parseUnits(g, 18);
  } else if (g !== undefined) {
    fail("gasBudget", `gasBudget must be a decimal string in ETH such as "0.05", a bigint in wei, or "unlimited".`);
  }
  if (gasBudget > MAX_CAP && gasBudget !== UNLIMITED) {
    fail("gasBudget", `gasBudget is above the largest budget (2^128-2 wei). Lower it or use "unlimited".`);
  }

  let mandate: Hex = zeroHash;
  const md = input.mandate as { text?: unknown; hash?: unknown } | undefined;
  if (md !== undefined) {
    if (typeof md.text === "string" && md.hash === undefined) {
      if (md.text.trim() === "")
        fail("mandate.text", "mandate.text is empty. Write the instruction the agent follows, or omit mandate.");
      mandate = keccak256(stringToBytes(md.text));
    } else if (md.hash !== undefined && md.text === undefined) {
      if (typeof md.hash !== "string" || !isHex(md.hash, { strict: true }) || md.hash.length !== 66) {
        fail("mandate.hash", `mandate.hash ${JSON.stringify(md.hash)} is not 32 bytes of hex.`);
      }
      mandate = md.hash as Hex;
    } else {
      fail("mandate", `mandate must be { text: "..." } or { hash: "0x..." } (32 bytes), one of the two.`);
    }
  }

  // validity (reads the chain's time only for "now")
  const v = input.validity ?? {};
  if (v.for !== undefined && v.until !== undefined) {
    fail("validity", `validity has both "for" and "until". Give one of them.`);
  }
  let chainNow: number | undefined;
  const now = async () => (chainNow ??= Number((await getAction(client, getBlock, "getBlock")({})).timestamp));
  let validAfter = 0;
  if (v.from === "now" || (v.from === undefined && v.for !== undefined)) validAfter = await now();
  else if (v.from !== undefined) validAfter = parseTime("validity.from", v.from);
  let validUntil = NO_EXPIRY;
  if (v.for !== undefined) {
    validUntil = validAfter + parseDuration(v.for, "validity.for") - 1;
    if (validUntil >= NO_EXPIRY)
      fail("validity.for", `validity.for ${JSON.stringify(v.for)} ends after 2^48-2 seconds. Shorten it.`);
  } else if (v.until !== undefined && v.until !== "never") {
    validUntil = parseTime("validity.until", v.until);
  }
  if (validUntil <= validAfter) {
    fail(
      "validity.until",
      `validity.until (${formatUtc(validUntil)}) is not after validity.from (${formatUtc(validAfter)}). Move "until" later or "from" earlier.`,
    );
  }

  // amounts, with each token's decimals read on-chain
  const limits: TokenLimit[] = [];
  for (let i = 0; i < input.limits.length; i++) {
    const lim = input.limits[i];
    const token = tokens[i];
    let meta;
    try {
      meta = await readTokenMetadata(client, token);
    } catch (e) {
      throw new InvalidPolicyInputError(
        `limits[${i}].token ${shortAddress(token)} did not answer decimals(). Check that it is an ERC-20 token deployed on this chain.`,
        { field: `limits[${i}].token`, cause: e as Error },
      );
    }
    const f = `limits[${i}]`;
    const perPayment = parseAmount(`${f}.perPayment`, lim.perPayment, meta.decimals, meta.symbol);
    const perPeriod = parseAmount(`${f}.perPeriod`, lim.perPeriod, meta.decimals, meta.symbol);
    const lifetime = parseAmount(`${f}.lifetime`, lim.lifetime, meta.decimals, meta.symbol);
    if (perPayment > perPeriod) {
      fail(
        `${f}.perPayment`,
        `perPayment "${lim.perPayment}" is larger than perPeriod "${lim.perPeriod}" for ${meta.symbol}. Lower perPayment or raise perPeriod.`,
      );
    }
    if (perPeriod > lifetime) {
      fail(
        `${f}.perPeriod`,
        `perPeriod "${lim.perPeriod}" is larger than lifetime "${lim.lifetime}" for ${meta.symbol}. Lower perPeriod or raise lifetime.`,
      );
    }
    const laneCount = lim.lane?.count ?? 0;
    const laneMax = lim.lane ? parseAmount(`${f}.lane.max`, lim.lane.max, meta.decimals, meta.symbol) : 0n;
    limits.push({ token, perPayment, perPeriod, lifetime, laneCount, laneMax });
  }

  const policy: AgentPolicy = {
    validAfter,
    validUntil,
    period,
    activeHours,
    maxCallsPerPeriod,
    gasBudget,
    mandate,
    limits,
    merchants,
  };
  validatePolicy(policy, roles); // the contract's rules, once more on the result
  return policy;
}

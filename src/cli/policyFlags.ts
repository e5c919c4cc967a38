// A policy from the command line: an optional JSON file in buildPolicy's human terms, then flags on top. The result
// goes through buildPolicy (every field checked, amounts in token units with on-chain decimals) before anything is sent.
import { readFileSync } from "node:fs";

import {
  type Address,
  type PublicClient,
  formatEther,
  formatGwei,
  formatUnits,
  isAddressEqual,
  parseGwei,
  zeroAddress,
} from "viem";

import { NO_EXPIRY, UNLIMITED, UNLIMITED_CALLS } from "../constants.js";
import { type PolicyInput, type TokenLimitInput, buildPolicy } from "../policy/buildPolicy.js";
import { parseDuration } from "../policy/duration.js";
import { DEFAULT_GAS_PER_OP, estimateGasBudget } from "../policy/gasBudget.js";
import type { WeeklySchedule } from "../policy/schedule.js";
import { validatePolicy } from "../policy/validate.js";
import type { AgentPolicy } from "../types.js";
import { readTokenMetadata } from "../utils/tokens.js";
import { type Context, parseAddressFlag, shown } from "./context.js";
import { UsageError } from "./errors.js";

export const POLICY_OPTIONS = {
  policy: { type: "string" },
  token: { type: "string", multiple: true },
  limit: { type: "string", multiple: true },
  merchant: { type: "string", multiple: true },
  "remove-merchant": { type: "string", multiple: true },
  period: { type: "string" },
  "valid-from": { type: "string" },
  "valid-for": { type: "string" },
  "valid-until": { type: "string" },
  hours: { type: "string", multiple: true },
  "max-calls": { type: "string" },
  "gas-budget": { type: "string" },
  "ops-per-period": { type: "string" },
  periods: { type: "string" },
  "max-fee": { type: "string" },
  "gas-per-op": { type: "string" },
  mandate: { type: "string" },
  "mandate-hash": { type: "string" },
  "dry-run": { type: "boolean" },
} as const;

export const POLICY_HELP = `Policy flags (amounts in token units, e.g. 25 or 25.50 USDC; "unlimited" for no cap):
  --policy <file.json>     a policy in human terms (buildPolicy's input: limits, merchants, period, validity,
                           schedule, maxCallsPerPeriod, gasBudget, mandate); the flags below change it
  --token [SYM=]<token>:<perPayment>/<perPeriod>/<lifetime>
                           caps for one token (an address, or ETH); SYM, if given, must be the token's
                           on-chain symbol. Repeat for several tokens. e.g. --token USDC=0x5FbD...:25/100/1000
  --limit token=<token>,perPayment=<n>,perPeriod=<n>,lifetime=<n>
                           the same, spelled out
  --merchant <address>     an address the agent may pay (repeat, or comma-separate)
  --remove-merchant <addr> drop a merchant of the file (or, for update, of the current policy)
  --period <duration>      length of a spending period: 1d, 12h, 1w, 1h30m, or seconds
  --valid-from <time>      first second the agent may act: now, an ISO date (2026-12-01T09:00Z) or unix seconds;
                           also the anchor of the period schedule (default: 0, periods aligned to unix time)
  --valid-for <duration>   how long from --valid-from (default from: now), e.g. 30d
  --valid-until <time>     last second the agent may act (ISO date, unix seconds, or never)
  --hours "<days> <HH:MM>-<HH:MM> [IANA zone]"
                           weekly active hours, e.g. "Mon-Fri 09:00-17:30 Europe/Berlin" (repeat for several
                           windows; "any" for every hour). Converted to whole UTC hours with the zone's offset
                           at the chain's current time; after a daylight-saving change, update the policy.
  --max-calls <n>          calls per period (each call of a batch counts), or unlimited (default)
  --gas-budget <ETH>       wei the account may pay for the agent's UserOperations, in ETH (0.05), unlimited,
                           or auto (derived, see below). Default 0: the agent can only act directly.
  --ops-per-period <n>     derive the gas budget: UserOperations expected per period...
  --periods <n>            ...for this many periods (default: --valid-for / --period, else 30)...
  --max-fee <gwei>         ...at this maxFeePerGas (default: the chain's current estimate)...
  --gas-per-op <gas>       ...with this sum of gas limits per op (default ${DEFAULT_GAS_PER_OP}), plus 50%
  --mandate <text>         the human instruction the grant implements (its keccak256 is stored)
  --mandate-hash <0x...>   or the instruction's hash, if it is kept elsewhere
  --dry-run                print the policy that would be sent, and send nothing`;

const FILE_KEYS = new Set([
  "limits",
  "merchants",
  "period",
  "validity",
  "schedule",
  "scheduleAt",
  "maxCallsPerPeriod",
  "gasBudget",
  "mandate",
]);

/** Reads a policy file (JSON in buildPolicy's terms); unknown keys are refused, to catch typos. */
export function readPolicyFile(path: string): Partial<PolicyInput> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new UsageError(`--policy ${path} cannot be read`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--policy ${path} is not valid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new UsageError(`--policy ${path} must hold a JSON object`);
  }
  for (const key of Object.keys(parsed)) {
    if (!FILE_KEYS.has(key)) {
      throw new UsageError(`--policy ${path}: unknown field "${key}" (known: ${[...FILE_KEYS].join(", ")})`);
    }
  }
  return parsed as Partial<PolicyInput>;
}

const tokenOf = (flag: string, value: string): Address | "ETH" =>
  value.trim().toUpperCase() === "ETH" ? "ETH" : parseAddressFlag(flag, value.trim());

type LabelledLimit = TokenLimitInput & { label?: string };

/** `[SYM=]<token>:<perPayment>/<perPeriod>/<lifetime>` */
function parseTokenFlag(value: string): LabelledLimit {
  const m = /^(?:([^=:]+)=)?([^:]+):([^/]+)\/([^/]+)\/([^/]+)$/.exec(value.trim());
  if (!m) {
    throw new UsageError(
      `--token "${shown(value)}" is not [SYM=]<token>:<perPayment>/<perPeriod>/<lifetime>, e.g. USDC=0x...:25/100/1000`,
    );
  }
  return {
    label: m[1]?.trim(),
    token: tokenOf("token", m[2]),
    perPayment: m[3].trim(),
    perPeriod: m[4].trim(),
    lifetime: m[5].trim(),
  };
}

const LIMIT_KEYS: Readonly<Record<string, "token" | "perPayment" | "perPeriod" | "lifetime">> = {
  token: "token",
  perpayment: "perPayment",
  "per-payment": "perPayment",
  perperiod: "perPeriod",
  "per-period": "perPeriod",
  lifetime: "lifetime",
};

/** `token=<token>,perPayment=<n>,perPeriod=<n>,lifetime=<n>` */
function parseLimitFlag(value: string): LabelledLimit {
  const out: Record<string, string> = {};
  for (const part of value.split(",")) {
    const [k, ...rest] = part.split("=");
    const key = LIMIT_KEYS[k.trim().toLowerCase()];
    if (!key || rest.length === 0) {
      throw new UsageError(
        `--limit "${shown(value)}": each part must be token=, perPayment=, perPeriod= or lifetime= (got "${shown(part.trim())}")`,
      );
    }
    out[key] = rest.join("=").trim();
  }
  if (out.token === undefined) throw new UsageError(`--limit "${shown(value)}" names no token=`);
  return { ...out, token: tokenOf("limit", out.token) } as LabelledLimit;
}

/** "Mon-Fri 09:00-17:30 Europe/Berlin" */
function parseHoursFlag(value: string): WeeklySchedule {
  const m = /^\s*(\S+)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})(?:\s+(\S+))?\s*$/.exec(value);
  if (!m) {
    throw new UsageError(
      `--hours "${shown(value)}" is not "<days> <HH:MM>-<HH:MM> [time zone]", e.g. "Mon-Fri 09:00-17:30 Europe/Berlin"`,
    );
  }
  return { days: m[1], from: m[2], to: m[3], timeZone: m[4] ?? "UTC" };
}

/** now | ISO date | unix seconds (| never) */
function parseTimeFlag(flag: string, value: string): Date | number | "now" | "never" {
  const v = value.trim();
  if (v === "now" || v === "never") return v;
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) {
    throw new UsageError(
      `--${flag} "${shown(v)}" is not a time: use now, an ISO date such as 2026-12-01T09:00Z, or unix seconds`,
    );
  }
  return new Date(t);
}

const durationOf = (v: string): string | number => (/^\d+$/.test(v.trim()) ? Number(v.trim()) : v.trim());

function wholeFlag(flag: string, value: string, min: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${flag} must be a whole number of at least ${min} (got "${shown(value)}")`);
  }
  return Number(value);
}

/** The current policy in buildPolicy's terms (for update: flags change it). The schedule stays as its UTC mask. */
export async function policyToInput(client: PublicClient, policy: AgentPolicy): Promise<PolicyInput> {
  const limits = await Promise.all(
    policy.limits.map(async (l): Promise<TokenLimitInput> => {
      const { decimals } = await readTokenMetadata(client, l.token);
      const amount = (x: bigint) => (x === UNLIMITED ? "unlimited" : formatUnits(x, decimals));
      return {
        token: isAddressEqual(l.token, zeroAddress) ? "ETH" : l.token,
        perPayment: amount(l.perPayment),
        perPeriod: amount(l.perPeriod),
        lifetime: amount(l.lifetime),
      };
    }),
  );
  return {
    limits,
    merchants: [...policy.merchants],
    period: policy.period,
    validity: { from: policy.validAfter, until: policy.validUntil === NO_EXPIRY ? "never" : policy.validUntil },
    maxCallsPerPeriod: policy.maxCallsPerPeriod === UNLIMITED_CALLS ? "unlimited" : policy.maxCallsPerPeriod,
    gasBudget: policy.gasBudget === UNLIMITED ? "unlimited" : policy.gasBudget,
    mandate: { hash: policy.mandate },
  };
}

export type PolicyFromFlagsResult = { policy: AgentPolicy; notes: string[] };

/**
 * Builds the policy to send: `base` (nothing for grant; the current policy for update), then the --policy file's
 * fields, then the flags. `activeHours` keeps `keepHours` when no schedule was given (update).
 */
export async function policyFromFlags(
  ctx: Context,
  opts: { address: Address; base?: PolicyInput; keepHours?: bigint },
): Promise<PolicyFromFlagsResult> {
  const client = ctx.publicClient();
  const notes: string[] = [];
  const input: Partial<PolicyInput> = { ...opts.base };
  const file = ctx.str("policy");
  if (file) Object.assign(input, readPolicyFile(file));

  // limits: a flag for a token already listed replaces its caps
  const flagged = [...ctx.list("token").map(parseTokenFlag), ...ctx.list("limit").map(parseLimitFlag)];
  if (flagged.length > 0) {
    const limits: TokenLimitInput[] = [...(Array.isArray(input.limits) ? input.limits : [])];
    const same = (a: TokenLimitInput["token"], b: TokenLimitInput["token"]) =>
      (a === "ETH" ? zeroAddress : a).toLowerCase() === (b === "ETH" ? zeroAddress : b).toLowerCase();
    for (const { label: _label, ...lim } of flagged) {
      const i = limits.findIndex((l) => same(l.token, lim.token));
      if (i === -1) limits.push(lim);
      else limits[i] = lim;
    }
    input.limits = limits;
  }

  // merchants: added unless listed, then removed
  const merchants: string[] = [...(Array.isArray(input.merchants) ? input.merchants : [])];
  const has = (a: string) => merchants.findIndex((m) => typeof m === "string" && m.toLowerCase() === a.toLowerCase());
  for (const value of ctx.list("merchant").flatMap((v) => v.split(","))) {
    const m = parseAddressFlag("merchant", value);
    if (has(m) === -1) merchants.push(m);
  }
  for (const value of ctx.list("remove-merchant").flatMap((v) => v.split(","))) {
    const m = parseAddressFlag("remove-merchant", value);
    const i = has(m);
    if (i === -1) throw new UsageError(`--remove-merchant ${m} is not one of the policy's merchants`);
    merchants.splice(i, 1);
  }
  input.merchants = merchants;

  const period = ctx.str("period");
  if (period !== undefined) input.period = durationOf(period);

  // validity: the flags given replace their part; --valid-for counts from --valid-from, else from now
  const from = ctx.str("valid-from");
  const forFlag = ctx.str("valid-for");
  const until = ctx.str("valid-until");
  if (forFlag !== undefined && until !== undefined) {
    throw new UsageError("--valid-for and --valid-until both end the validity; give one of them");
  }
  if (from !== undefined || forFlag !== undefined || until !== undefined) {
    const v = { ...input.validity };
    if (forFlag !== undefined) {
      delete v.until;
      v.for = durationOf(forFlag);
      if (from === undefined) v.from = "now";
    }
    if (until !== undefined) {
      delete v.for;
      const t = parseTimeFlag("valid-until", until);
      if (t === "now") throw new UsageError("--valid-until now would end the agent at once; use revoke instead");
      v.until = t;
    }
    if (from !== undefined) {
      const t = parseTimeFlag("valid-from", from);
      if (t === "never") throw new UsageError("--valid-from never: use a time, or do not grant");
      v.from = t;
    }
    input.validity = v;
  }

  // weekly hours, converted with the time zones' offsets at the chain's time
  const hours = ctx.list("hours");
  let keepHours = opts.keepHours;
  if (hours.length > 0) {
    keepHours = undefined;
    if (hours.length === 1 && hours[0].trim().toLowerCase() === "any") delete input.schedule;
    else input.schedule = hours.map(parseHoursFlag);
  } else if (input.schedule !== undefined) keepHours = undefined;
  if (input.schedule !== undefined && input.scheduleAt === undefined) {
    input.scheduleAt = new Date(Number((await client.getBlock()).timestamp) * 1000);
  }

  const maxCalls = ctx.str("max-calls");
  if (maxCalls !== undefined) {
    input.maxCallsPerPeriod = maxCalls.trim() === "unlimited" ? "unlimited" : wholeFlag("max-calls", maxCalls, 0);
  }

  // gas budget: ETH, unlimited, or derived from the expected UserOperations
  const gas = ctx.str("gas-budget")?.trim();
  const ops = ctx.str("ops-per-period");
  if (gas === "auto" || (gas === undefined && ops !== undefined)) {
    if (ops === undefined) throw new UsageError("--gas-budget auto needs --ops-per-period <n>");
    const paymentsPerPeriod = wholeFlag("ops-per-period", ops, 1);
    let periods = 30;
    const periodsFlag = ctx.str("periods");
    if (periodsFlag !== undefined) periods = wholeFlag("periods", periodsFlag, 1);
    else if (input.validity?.for !== undefined && input.period !== undefined) {
      const span = parseDuration(input.validity.for, "validity.for");
      periods = Math.max(1, Math.ceil(span / parseDuration(input.period, "period")));
    }
    const maxFee = ctx.str("max-fee");
    let maxFeePerGas: bigint;
    if (maxFee !== undefined) {
      if (!/^\d+(\.\d{1,9})?$/.test(maxFee.trim())) {
        throw new UsageError(`--max-fee must be a price in gwei such as 2 or 0.5 (got "${shown(maxFee)}")`);
      }
      maxFeePerGas = parseGwei(maxFee.trim());
    } else maxFeePerGas = (await client.estimateFeesPerGas()).maxFeePerGas;
    const gasPerOpFlag = ctx.str("gas-per-op");
    const gasPerOp = gasPerOpFlag !== undefined ? BigInt(wholeFlag("gas-per-op", gasPerOpFlag, 1)) : undefined;
    const est = estimateGasBudget({ paymentsPerPeriod, periods, maxFeePerGas, gasPerOp });
    input.gasBudget = est.gasBudget;
    notes.push(
      `gas budget ${formatEther(est.gasBudget)} ETH: ${est.operations} UserOperations (${paymentsPerPeriod} per period for ${periods} periods) at ${formatEther(est.maxCostPerOp)} ETH each (${gasPerOp ?? DEFAULT_GAS_PER_OP} gas at ${formatGwei(maxFeePerGas)} gwei), plus ${est.headroomPercent}%`,
    );
  } else if (gas !== undefined) {
    input.gasBudget = gas;
  }

  const mandate = ctx.str("mandate");
  const mandateHash = ctx.str("mandate-hash");
  if (mandate !== undefined && mandateHash !== undefined) {
    throw new UsageError("--mandate and --mandate-hash both set the mandate; give one of them");
  }
  if (mandate !== undefined) input.mandate = { text: mandate };
  if (mandateHash !== undefined) input.mandate = { hash: mandateHash.trim() as `0x${string}` };

  if (input.limits === undefined) input.limits = [];
  if (input.period === undefined) {
    throw new UsageError("--period is missing: give the length of a spending period, e.g. --period 1d");
  }
  const policy = await buildPolicy(client, { ...(input as PolicyInput), address: opts.address });
  if (keepHours !== undefined) {
    policy.activeHours = keepHours;
    validatePolicy(policy, { address: opts.address });
  }

  // SYM=0x... must be the token's own symbol: a pasted wrong address is caught before the grant
  for (const { label, token } of flagged) {
    if (!label || token === "ETH") continue;
    const { symbol } = await readTokenMetadata(client, token);
    if (symbol.toLowerCase() !== label.toLowerCase()) {
      throw new UsageError(
        `--token ${label}=${token}: that token's symbol is ${symbol}, not ${label}; check the address`,
      );
    }
  }
  if (policy.gasBudget === 0n) {
    notes.push("gas budget 0: the agent can act only directly (paying its own gas) or through an allowed paymaster");
  }
  if (policy.limits.length === 0) notes.push("no token limits: the agent cannot pay with any token");
  return { policy, notes };
}

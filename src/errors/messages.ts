// One human sentence per refusal. Pure: everything it needs comes in the context (token metadata, the policy, the
// calls that were refused, the time to count from).
import {
  type AbiFunction,
  type Address,
  type Hex,
  decodeFunctionData,
  erc20Abi,
  getAddress,
  isAddressEqual,
  toFunctionSelector,
  toHex,
  zeroAddress,
} from "viem";

import { agentAccountAbi, entryPointV08Abi } from "../abis/generated.js";
import { NO_EXPIRY, UNLIMITED } from "../constants.js";
import type { AgentPolicy, Execution, TokenMetadata } from "../types.js";
import {
  formatAmount,
  formatHourOfWeek,
  formatRelative,
  formatUtc,
  periodAdjective,
  shortAddress,
} from "../utils/format.js";
import { nonceKeyOf } from "../utils/agentId.js";
import { lookupToken } from "../utils/tokens.js";
import type { GuardrailViolation } from "./violation.js";

/** What the message writer may use besides the error's own arguments. */
export type DescribeContext = {
  /** The time to count relative times from (unix seconds). */
  now: bigint;
  tokens?: Readonly<Record<string, TokenMetadata>> | undefined;
  labels?: Readonly<Record<string, string>> | undefined;
  calls?: readonly Execution[] | undefined;
  policy?: AgentPolicy | undefined;
};

/** EntryPoint codes, in agent terms. */
export const AA_EXPLANATIONS: Readonly<Record<string, string>> = {
  AA10: "the account already exists, so the op must not carry initCode",
  AA13: "the account factory failed or ran out of gas",
  AA14: "the account factory returned an address other than the sender",
  AA15: "the account factory did not deploy the sender",
  AA20: "the account is not deployed and the op carries no initCode",
  AA21: "the account's EntryPoint deposit cannot cover the op's maximum gas cost; the owner must top it up",
  AA22: "it is outside the agent's validity window",
  AA23: "the account refused it during validation",
  AA24: "it is not signed by a current agent key",
  AA25: "its nonce is wrong: use the agent's own nonce key and the EntryPoint's next sequence number",
  AA26: "validation used more gas than its verificationGasLimit",
  AA30: "the paymaster is not deployed",
  AA31: "the paymaster's EntryPoint deposit is too low",
  AA32: "it is outside the paymaster's validity window",
  AA33: "the paymaster refused it during validation",
  AA34: "the paymaster's signature is invalid",
  AA36: "the paymaster used more gas than its paymasterVerificationGasLimit",
  AA40: "validation used more gas than its verificationGasLimit",
  AA41: "validation had too little verificationGasLimit left for the paymaster",
  AA50: "the paymaster's postOp reverted",
  AA51: "its prefund was below the actual gas cost",
  AA90: "the bundler named an invalid beneficiary",
  AA91: "the EntryPoint could not pay the bundler",
  AA92: "it called an EntryPoint function that is internal only",
  AA93: "its paymasterAndData is malformed",
  AA94: "one of its gas values is too large",
  AA95: "the bundle ran out of gas",
  AA96: "its aggregator is invalid",
};

/** Names of a few selectors that agents are refused, to make `CallNotAllowed` readable. */
const SELECTOR_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  [
    "transfer(address,uint256)",
    "approve(address,uint256)",
    "transferFrom(address,address,uint256)",
    "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
    "increaseAllowance(address,uint256)",
    "decreaseAllowance(address,uint256)",
    "transferAndCall(address,uint256,bytes)",
    "multicall(bytes[])",
    "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)",
    "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)",
    "executeAsAgent(bytes32,(address,uint256,bytes)[])",
    "execute(bytes32,bytes)",
  ]
    .map((sig) => [toFunctionSelector(sig), sig.slice(0, sig.indexOf("("))])
    // every function of the account and of the EntryPoint (agents are refused both), by name
    .concat(
      [...agentAccountAbi, ...entryPointV08Abi]
        .filter((item) => item.type === "function")
        .map((item) => [toFunctionSelector(item as AbiFunction), (item as AbiFunction).name]),
    ),
);

const PANIC_REASONS: Readonly<Record<number, string>> = {
  0x01: "an assertion failed",
  0x11: "an arithmetic operation overflowed or underflowed",
  0x12: "a division or modulo by zero",
  0x21: "a conversion to an invalid enum value",
  0x22: "an incorrectly encoded storage byte array",
  0x31: "pop() on an empty array",
  0x32: "an array index out of bounds",
  0x41: "too much memory allocated",
  0x51: "a call to a zero-initialized internal function",
};

function label(ctx: DescribeContext, a: Address): string {
  const lower = a.toLowerCase();
  const named = ctx.labels && Object.entries(ctx.labels).find(([k]) => k.toLowerCase() === lower)?.[1];
  return named ? `${named} (${shortAddress(a)})` : shortAddress(a);
}

/** "Key 0x12…34" for a bare address, "The agent's old key (0x12…34)" for a labelled one, to start a sentence. */
function keyLabel(ctx: DescribeContext, a: Address): string {
  const text = label(ctx, a);
  return text.startsWith("0x") ? `Key ${text}` : text.charAt(0).toUpperCase() + text.slice(1);
}

function tokenLabel(ctx: DescribeContext, token: Address): string {
  if (isAddressEqual(token, zeroAddress)) return "ETH";
  const meta = lookupToken(ctx.tokens, token);
  return meta ? `${meta.symbol} (${shortAddress(token)})` : `token ${label(ctx, token)}`;
}

/** `30.00 USDC`, or `30000000 units of token 0xCf7E…0Fc9` when the token is not known. */
function money(ctx: DescribeContext, token: Address, amount: bigint): string {
  const meta = lookupToken(ctx.tokens, token);
  if (!meta) return `${amount} units of token ${label(ctx, token)}`;
  return `${formatAmount(amount, meta.decimals)} ${meta.symbol}`;
}

/** `20.00 of 100.00 USDC`, `20.00 USDC` (no limit known), or the same in raw units. */
function moneyOf(ctx: DescribeContext, token: Address, rem: bigint, limit: bigint | undefined): string {
  const meta = lookupToken(ctx.tokens, token);
  const known = limit !== undefined && limit !== UNLIMITED;
  if (!meta) return known ? `${rem} of ${limit} units` : `${rem} units`;
  const r = formatAmount(rem, meta.decimals);
  return known ? `${r} of ${formatAmount(limit, meta.decimals)} ${meta.symbol}` : `${r} ${meta.symbol}`;
}

function limitOf(ctx: DescribeContext, token: Address) {
  return ctx.policy?.limits.find((l) => isAddressEqual(l.token, token));
}

/**
 * Finds a refused payment among the calls: who it was to, and whether it was an approval. The merchant is left out
 * when several calls match with different recipients.
 */
export function findPayment(
  calls: readonly Execution[] | undefined,
  token: Address,
  amount: bigint,
): { merchant?: Address; approval: boolean } | undefined {
  if (!calls) return undefined;
  const found: { merchant: Address; approval: boolean }[] = [];
  for (const c of calls) {
    if (isAddressEqual(token, zeroAddress)) {
      if (c.value === amount && c.value !== 0n) found.push({ merchant: getAddress(c.target), approval: false });
      continue;
    }
    if (!isAddressEqual(c.target, token) || c.callData.length !== 2 + 68 * 2) continue;
    try {
      const d = decodeFunctionData({ abi: erc20Abi, data: c.callData });
      if ((d.functionName === "transfer" || d.functionName === "approve") && d.args[1] === amount) {
        found.push({ merchant: d.args[0], approval: d.functionName === "approve" });
      }
    } catch {
      // not a transfer or approve
    }
  }
  if (found.length === 0) return undefined;
  const same = found.every((f) => isAddressEqual(f.merchant, found[0].merchant));
  return same ? found[0] : { approval: found.every((f) => f.approval) };
}

function paymentPhrase(ctx: DescribeContext, token: Address, amount: bigint): string {
  const p = findPayment(ctx.calls, token, amount);
  const noun = p?.approval ? "Approval" : "Payment";
  const to = p?.merchant ? ` ${p.approval ? "for" : "to"} ${label(ctx, p.merchant)}` : "";
  return `${noun} of ${money(ctx, token, amount)}${to}`;
}

function resets(ctx: DescribeContext, at: bigint): string {
  return `resets ${formatRelative(at, ctx.now)} (${formatUtc(at)})`;
}

/** The sentence for a decoded violation (its `message` is ignored). */
export function describeViolation(v: Omit<GuardrailViolation, "message">, ctx: DescribeContext): string {
  const agent = v.agentId ? `Agent ${shortAddress(v.agentId)}` : "The agent";
  switch (v.name) {
    case "AgentsPaused":
      return "All agents of this account are paused; the owner must unpause them before any agent can act.";
    case "AgentIsRevoked":
      return `${agent} was revoked and can never act again.`;
    case "AgentUnknown":
      return `${keyLabel(ctx, v.key!)} is not the agent's current key (it was never granted, was rotated away, or the agent was revoked).`;
    case "CallNotAllowed": {
      if (isAddressEqual(v.target!, zeroAddress) && v.selector === "0x00000000") {
        return ctx.calls?.length === 0
          ? "An empty batch is not allowed: give the agent at least one call."
          : "The agent may not call the zero address, nor send an empty batch.";
      }
      const sel = v.selector!;
      const target = tokenOrLabel(ctx, v.target!);
      if (sel === "0x00000000") return `The agent may not call ${target}: it is not one of its merchants.`;
      const fn = SELECTOR_NAMES[sel] ? `${SELECTOR_NAMES[sel]} (${sel})` : `function ${sel}`;
      return `The agent may not call ${fn} on ${target}.`;
    }
    case "TokenNotAllowed":
      return `The agent may not pay with ${tokenLabel(ctx, v.token!)}: it is not one of the tokens in its policy.`;
    case "MerchantNotAllowed":
      return `${label(ctx, v.merchant!)} is not one of the agent's merchants, so the agent may not pay it.`;
    case "PerPaymentCapExceeded":
      return `${paymentPhrase(ctx, v.token!, v.amount!)} is over the per-payment cap of ${money(ctx, v.token!, v.limit!)}.`;
    case "WrongNonceKey": {
      const own = v.agentId ? ` ${toHex(nonceKeyOf(v.agentId))}` : "";
      return `The UserOperation uses nonce key ${toHex(v.nonceKey!)}, but the agent must use its own nonce key${own} (the low 192 bits of its agentId).`;
    }
    case "PaymasterNotAllowed":
      return `Paymaster ${label(ctx, v.paymaster!)} is not allowed for agents; the owner can allow it with setAgentPaymaster.`;
    case "GasBudgetExceeded": {
      const budget = ctx.policy && ctx.policy.gasBudget !== UNLIMITED ? ctx.policy.gasBudget : undefined;
      const of = budget !== undefined ? ` of its ${money(ctx, zeroAddress, budget)} gas budget` : " of its gas budget";
      return `The UserOperation may cost up to ${money(ctx, zeroAddress, v.required!)} in gas, but the agent has only ${money(ctx, zeroAddress, v.remaining!)}${of} left.`;
    }
    case "AgentNotYetValid":
      return `${agent} may act only from ${formatUtc(v.validAfter!)} (${formatRelative(v.validAfter!, ctx.now)}).`;
    case "AgentExpired":
      return `${agent}'s permission expired at ${formatUtc(v.validUntil!)} (${formatRelative(v.validUntil!, ctx.now)}).`;
    case "OutsideActiveHours": {
      const next = v.nextAllowedAt;
      const when =
        next !== undefined ? `; it may act next at ${formatUtc(next)} (${formatRelative(next, ctx.now)})` : "";
      return `The agent may not act during ${formatHourOfWeek(v.hourOfWeek!)}, outside its active hours${when}.`;
    }
    case "CallLimitExceeded": {
      const n = v.limit!;
      const kind = ctx.policy ? `${periodAdjective(ctx.policy.period)} call limit` : "call limit per period";
      return `The batch would exceed the ${kind} of ${n} ${n === 1n ? "call" : "calls"}, ${resets(ctx, v.resetsAt!)}.`;
    }
    case "PeriodCapExceeded": {
      const lim = limitOf(ctx, v.token!);
      const kind = ctx.policy ? `${periodAdjective(ctx.policy.period)} cap` : "period cap";
      return `${paymentPhrase(ctx, v.token!, v.amount!)} would exceed the ${kind}: ${moneyOf(ctx, v.token!, v.remaining!, lim?.perPeriod)} left, ${resets(ctx, v.resetsAt!)}.`;
    }
    case "LifetimeCapExceeded": {
      const lim = limitOf(ctx, v.token!);
      return `${paymentPhrase(ctx, v.token!, v.amount!)} would exceed the lifetime cap: ${moneyOf(ctx, v.token!, v.remaining!, lim?.lifetime)} left, and it never resets.`;
    }
    case "TokenCallFailed":
      return `The call to ${tokenLabel(ctx, v.token!)} failed (it returned false or has no code), so nothing was paid.`;
    case "AgentReentrancy":
      return "The account refused a call back into it while an agent batch was running.";
    case "MalformedAgentCallData":
      return "The UserOperation's callData calls executeAsAgent but its arguments are not a valid ABI encoding.";
    case "InvalidPolicy":
      return `The policy was refused: ${v.reason}.`;
    case "AgentAlreadyExists":
      return `${agent} already exists, was revoked, or shares its nonce key (low 192 bits) with an agent granted before; choose another agentId.`;
    case "AgentNotFound":
      return `${agent} was never granted on this account.`;
    case "InvalidAgentKey":
      return `${label(ctx, v.key!)} cannot be an agent key: it is the zero address, the owner or the account itself.`;
    case "AgentKeyInUse":
      return `${keyLabel(ctx, v.key!)} is already registered or was retired (a key serves one agent, once); use a fresh key.`;
    case "GrantExpired":
      return `The signed grant expired at ${formatUtc(v.deadline!)} (${formatRelative(v.deadline!, ctx.now)}); ask the owner to sign a new one.`;
    case "InvalidGrantSignature":
      return "The grant is not signed by the owner, or its signature was already used; ask the owner to sign it again with the current grant nonce.";
    case "NotAuthorized":
      return `${label(ctx, v.caller!)} may not call this function (only the owner may, or the guardian to pause agents and revoke an agent).`;
    case "LaneNotEnabled":
      return `The agent has no x402 lane for ${tokenLabel(ctx, v.token!)}: its policy sets no lane payments (laneCount 0) for it.`;
    case "LaneNotOpen":
      return `The agent's x402 lane for ${tokenLabel(ctx, v.token!)} is not open for the period ending ${formatUtc(v.period!)}: open it (openLane) in that period before signing lane payments.`;
    case "LaneSlotUnavailable": {
      const token = tokenLabel(ctx, v.token!);
      if (v.slots === 0n) {
        return `The x402 lane for ${token} holds no slot in this period (it was closed, or the caps left no room for one); it opens again next period.`;
      }
      return `Lane slot ${v.slot} for ${token} is already used or out of range: the lane holds ${v.slots} ${v.slots === 1n ? "slot" : "slots"} this period (0 to ${v.slots! - 1n}).`;
    }
    case "LaneWindowInvalid":
      return `A lane payment must be valid inside its period: validAfter ${formatUtc(v.validAfter!)} must be before validBefore ${formatUtc(v.validBefore!)}, which may not be after the period's end ${formatUtc(v.period!)}.`;
    case "Error":
      return v.reason ? `The call reverted: ${v.reason}.` : "The call reverted without a reason.";
    case "Panic": {
      const code = Number(v.panicCode!);
      return `The call failed with a panic: ${PANIC_REASONS[code] ?? "an unknown panic"} (code 0x${code.toString(16)}).`;
    }
    case "UserOperationRejected": {
      const why = (v.aaCode && AA_EXPLANATIONS[v.aaCode]) ?? v.reason ?? "no reason given";
      let extra = "";
      if (v.aaCode === "AA22" && ctx.policy) {
        const { validAfter, validUntil } = ctx.policy;
        const window = [
          validAfter > 0 ? `from ${formatUtc(validAfter)}` : "",
          validUntil !== NO_EXPIRY ? `until ${formatUtc(validUntil)}` : "",
        ].filter(Boolean);
        if (window.length > 0) extra = ` (valid ${window.join(" ")})`;
      }
      return `The EntryPoint rejected the UserOperation${v.aaCode ? ` (${v.aaCode})` : ""}: ${why}${extra}.`;
    }
    case "BundlerRejected":
      return v.rpcCode === -32502
        ? "The bundler refused the UserOperation: its validation breaks the ERC-7562 rules (a banned opcode or storage access)."
        : `The bundler refused the UserOperation (code ${v.rpcCode}): ${v.reason ?? "no reason given"}.`;
    case "UserOperationFailed":
      return v.data && v.data !== "0x"
        ? `The UserOperation was included but failed at execution with an unknown error (${shortAddress(v.data)}).`
        : "The UserOperation was included but failed at execution without a revert reason (often out of gas).";
    default: {
      const args = (v.args ?? []).map((a) =>
        typeof a === "string" && a.startsWith("0x") ? shortAddress(a as Hex) : String(a),
      );
      return `The call reverted with ${v.name}(${args.join(", ")}).`;
    }
  }
}

function tokenOrLabel(ctx: DescribeContext, a: Address): string {
  return lookupToken(ctx.tokens, a) && !isAddressEqual(a, zeroAddress) ? tokenLabel(ctx, a) : label(ctx, a);
}

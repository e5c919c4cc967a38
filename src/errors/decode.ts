// Turns whatever a failed agent (or owner) action produced into a typed, explained violation. Never throws.
import {
  type Abi,
  type Address,
  type Hex,
  decodeErrorResult,
  decodeFunctionData,
  isAddressEqual,
  isHex,
  parseEventLogs,
} from "viem";

import { agentAccountAbi, agentAccountFactoryAbi, entryPointV08Abi, testUsdcAbi } from "../abis/generated.js";
import type { AgentPolicy, Execution, TokenMetadata } from "../types.js";
import { nextAllowedHour } from "../utils/hours.js";
import { type DescribeContext, describeViolation, findPayment } from "./messages.js";
import type { GuardrailViolation, StoplineErrorName } from "./violation.js";

/** What the decoder may use to write better sentences. Everything is optional. */
export type DecodeGuardrailViolationOptions = {
  /** Time to count "resets in 3 h" from: a Date, unix seconds, or unix seconds as bigint. Default: the wall clock. */
  now?: Date | number | bigint | undefined;
  /** Symbol and decimals by token address (ETH needs no entry). Unknown tokens are shown in raw units. */
  tokens?: Readonly<Record<string, TokenMetadata>> | undefined;
  /** Names for addresses (merchants, keys), shown next to the short address. */
  labels?: Readonly<Record<string, string>> | undefined;
  /** The calls that were refused, to name the merchant of a refused payment (found in the error when it can be). */
  calls?: readonly Execution[] | undefined;
  /** The agent's policy, for the caps' totals ("20.00 of 100.00 USDC"), the period name ("daily"), the validity
   *  window and the next allowed hour. */
  policy?: AgentPolicy | undefined;
  /** For receipts holding several UserOperations: the one to explain. */
  userOpHash?: Hex | undefined;
  /**
   * The bundle's UserOperations (`handleOps`' first argument), to find the refused op's agent and calls: by index for
   * an EntryPoint error, by sender and nonce for a receipt. Taken from the error itself when it carries the request.
   */
  ops?: readonly BundledOp[] | undefined;
};

/** The fields of a bundled UserOperation the decoder uses. */
export type BundledOp = { sender?: Address | undefined; nonce?: bigint | undefined; callData: Hex };

export type DecodeGuardrailViolationReturnType = GuardrailViolation | undefined;

/** The names of the account's own errors. */
export const STOPLINE_ERRORS: ReadonlySet<string> = new Set<StoplineErrorName>([
  "AgentsPaused",
  "AgentIsRevoked",
  "AgentUnknown",
  "CallNotAllowed",
  "TokenNotAllowed",
  "MerchantNotAllowed",
  "PerPaymentCapExceeded",
  "WrongNonceKey",
  "PaymasterNotAllowed",
  "GasBudgetExceeded",
  "AgentNotYetValid",
  "AgentExpired",
  "OutsideActiveHours",
  "CallLimitExceeded",
  "PeriodCapExceeded",
  "LifetimeCapExceeded",
  "TokenCallFailed",
  "AgentReentrancy",
  "MalformedAgentCallData",
  "InvalidPolicy",
  "AgentAlreadyExists",
  "AgentNotFound",
  "InvalidAgentKey",
  "AgentKeyInUse",
  "GrantExpired",
  "InvalidGrantSignature",
  "NotAuthorized",
  "LaneNotEnabled",
  "LaneNotOpen",
  "LaneSlotUnavailable",
  "LaneWindowInvalid",
]);

/** Every error the toolkit can decode: the account's, the factory's, the EntryPoint's and the ERC-20 ones. */
const KNOWN_ERRORS = [...agentAccountAbi, ...agentAccountFactoryAbi, ...entryPointV08Abi, ...testUsdcAbi].filter(
  (x) => x.type === "error",
) as Abi;

/** Argument names of the account's errors that the violation calls differently. */
const RENAMED: Readonly<Record<string, string>> = { cap: "limit", i: "slot" };

type Facts = Omit<GuardrailViolation, "message">;

type Found = {
  /** The refused calls and agent, when the error carried the request (executeAsAgent or handleOps arguments). */
  calls?: readonly Execution[];
  agentId?: Hex;
  /** handleOps' ops, to find the refused op's calls once its index is known. */
  ops?: readonly BundledOp[];
};

function toSeconds(now: DecodeGuardrailViolationOptions["now"]): bigint {
  if (now === undefined) return BigInt(Math.floor(Date.now() / 1000));
  if (now instanceof Date) return BigInt(Math.floor(now.getTime() / 1000));
  return typeof now === "bigint" ? now : BigInt(Math.floor(now));
}

function isRevertData(x: unknown): x is Hex {
  return typeof x === "string" && x.length >= 10 && x.length % 2 === 0 && isHex(x, { strict: true });
}

function aaCodeOf(text: string): string | undefined {
  return /\b(AA\d\d)\b/.exec(text)?.[1];
}

/** An `executeAsAgent(agentId, calls)` callData, decoded; undefined for anything else. */
function agentCallOf(callData: unknown): { agentId: Hex; calls: readonly Execution[] } | undefined {
  if (!isHex(callData)) return undefined;
  try {
    const d = decodeFunctionData({ abi: agentAccountAbi, data: callData });
    if (d.functionName !== "executeAsAgent") return undefined;
    return { agentId: d.args[0], calls: d.args[1] };
  } catch {
    return undefined;
  }
}

/** The facts of one ABI-encoded error (nested EntryPoint wrappers unwrapped), or undefined if it is not known. */
function factsFromData(data: Hex, depth = 0): Facts | undefined {
  if (depth > 4) return undefined;
  let d: {
    errorName: string;
    args: readonly unknown[] | undefined;
    abiItem: { inputs?: readonly { name?: string }[] };
  };
  try {
    d = decodeErrorResult({ abi: KNOWN_ERRORS, data }) as unknown as typeof d;
  } catch {
    return undefined;
  }
  const args = d.args ?? [];
  switch (d.errorName) {
    case "FailedOpWithRevert": {
      const [opIndex, reason, inner] = args as [bigint, string, Hex];
      const aaCode = aaCodeOf(reason);
      const innerFacts = isRevertData(inner) ? factsFromData(inner, depth + 1) : undefined;
      if (innerFacts) return { ...innerFacts, aaCode, opIndex };
      return { name: "UserOperationRejected", aaCode, reason, opIndex, data };
    }
    case "FailedOp": {
      const [opIndex, reason] = args as [bigint, string];
      return { name: "UserOperationRejected", aaCode: aaCodeOf(reason), reason, opIndex, data };
    }
    case "DelegateAndRevert": {
      const [, ret] = args as [boolean, Hex];
      return isRevertData(ret) ? factsFromData(ret, depth + 1) : undefined;
    }
    case "PostOpReverted": {
      const [ret] = args as [Hex];
      return (
        (isRevertData(ret) ? factsFromData(ret, depth + 1) : undefined) ?? {
          name: "UserOperationRejected",
          aaCode: "AA50",
          data,
        }
      );
    }
    case "Error": {
      // the EntryPoint refuses a few ops with a plain require message ("AA93 invalid paymasterAndData")
      const reason = args[0] as string;
      const aaCode = /^AA\d\d\b/.test(reason) ? reason.slice(0, 4) : undefined;
      return aaCode ? { name: "UserOperationRejected", aaCode, reason, data } : { name: "Error", reason, data };
    }
    case "Panic":
      return { name: "Panic", panicCode: args[0] as bigint, data };
  }
  if (!STOPLINE_ERRORS.has(d.errorName)) return { name: d.errorName, args, data };
  const facts: Record<string, unknown> = { name: d.errorName, data };
  (d.abiItem.inputs ?? []).forEach((input, i) => {
    const key = RENAMED[input.name ?? ""] ?? input.name ?? `arg${i}`;
    facts[key] = key === "hourOfWeek" ? Number(args[i]) : args[i];
  });
  return facts as Facts;
}

/** Alto (and most bundlers) put no `data` in JSON-RPC errors: the revert data is in the message. */
function factsFromText(text: string, code: number | undefined): Facts | undefined {
  const withData =
    /(AA\d\d)\b[^\n]*?\b(0x[0-9a-fA-F]{8,})/.exec(text) ??
    /reverted(?: during simulation)? with reason:\s*(?:([A-Za-z0-9 ]*?)\s)?(0x[0-9a-fA-F]{8,})/.exec(text);
  if (withData) {
    const hex = withData[2].length % 2 === 0 ? (withData[2] as Hex) : undefined;
    const facts = hex ? factsFromData(hex) : undefined;
    const aaCode = withData[1] ? aaCodeOf(withData[1]) : undefined;
    if (facts) return aaCode && !facts.aaCode ? { ...facts, aaCode } : facts;
  }
  const aa = /\b(AA\d\d)\b[ :]*([^\n]*)/.exec(text);
  if (aa) {
    return { name: "UserOperationRejected", aaCode: aa[1], reason: `${aa[1]} ${aa[2]}`.trim(), rpcCode: code };
  }
  if (code !== undefined && ((code <= -32500 && code >= -32507) || code === -32521)) {
    return { name: "BundlerRejected", rpcCode: code, reason: text.split("\n")[0] };
  }
  return undefined;
}

function record(x: unknown): Record<string, unknown> | undefined {
  return x !== null && typeof x === "object" ? (x as Record<string, unknown>) : undefined;
}

/** Revert data a node may carry, in the places viem, EDR, Hardhat, ethers and JSON-RPC providers put it. */
function dataOf(node: Record<string, unknown>): Hex[] {
  const out: Hex[] = [];
  const push = (x: unknown) => isRevertData(x) && out.push(x);
  push(node.raw);
  push(node.data);
  const data = record(node.data);
  if (data) {
    push(data.data);
    push(data.revertData);
    push(record(data.originalError)?.data);
  }
  push(record(node.error)?.data);
  return out;
}

/** Context carried by a node: the request that failed. */
function requestOf(node: Record<string, unknown>, found: Found): void {
  const fn = node.functionName;
  const args = node.args;
  if (fn === "executeAsAgent" && Array.isArray(args) && found.calls === undefined) {
    found.agentId = args[0] as Hex;
    found.calls = args[1] as readonly Execution[];
  } else if (fn === "handleOps" && Array.isArray(args) && Array.isArray(args[0]) && found.ops === undefined) {
    found.ops = args[0] as BundledOp[];
  }
  if (found.calls === undefined) {
    // viem's UserOperationExecutionError shows the op's callData in its meta messages
    const m = /callData:\s+(0x[0-9a-fA-F]+)/.exec(typeof node.message === "string" ? node.message : "");
    const call = m ? agentCallOf(m[1]) : undefined;
    if (call) Object.assign(found, call);
  }
}

function walk(error: unknown): Record<string, unknown>[] {
  const nodes: Record<string, unknown>[] = [];
  const seen = new Set<unknown>();
  let cur: unknown = error;
  while (record(cur) && !seen.has(cur) && nodes.length < 32) {
    seen.add(cur);
    nodes.push(cur as Record<string, unknown>);
    const r = cur as Record<string, unknown>;
    cur = r.cause ?? r.error ?? r.originalError;
  }
  return nodes;
}

function factsFromError(error: unknown, found: Found): Facts | undefined {
  if (typeof error === "string") {
    return isRevertData(error) ? factsFromData(error) : factsFromText(error, undefined);
  }
  const nodes = walk(error);
  for (const n of nodes) requestOf(n, found);
  for (const n of nodes) {
    for (const d of dataOf(n)) {
      const f = factsFromData(d);
      if (f) return f;
    }
    // viem decoded Error(string) into `reason`
    if (typeof n.reason === "string" && n.name === "ContractFunctionRevertedError") {
      return { name: "Error", reason: n.reason };
    }
  }
  for (const n of nodes) {
    const code = typeof n.code === "number" ? n.code : undefined;
    for (const key of ["details", "shortMessage", "message"] as const) {
      const text = n[key];
      if (typeof text !== "string" || text === "") continue;
      const f = factsFromText(text, code);
      if (f) return f;
    }
  }
  return undefined;
}

function finish(
  facts: Facts,
  found: Found,
  opts: DecodeGuardrailViolationOptions,
  refusedOp?: { sender: Address; nonce: bigint },
): GuardrailViolation {
  let calls = opts.calls ?? found.calls;
  let agentId = facts.agentId ?? found.agentId;
  const ops = opts.ops ?? found.ops;
  if (calls === undefined && ops) {
    const op = refusedOp
      ? ops.find((o) => o.sender && isAddressEqual(o.sender, refusedOp.sender) && o.nonce === refusedOp.nonce)
      : facts.opIndex !== undefined
        ? ops[Number(facts.opIndex)]
        : undefined;
    const call = agentCallOf(op?.callData);
    if (call) {
      calls = call.calls;
      agentId ??= call.agentId;
    }
  }
  const f: Facts = { ...facts };
  // the agent of an EntryPoint refusal (AA22, AA24) is known from the op it refused
  if (f.agentId === undefined && agentId !== undefined && /^UserOperation(Rejected|Failed)$/.test(f.name)) {
    f.agentId = agentId;
  }
  const ctx: DescribeContext = {
    now: toSeconds(opts.now),
    tokens: opts.tokens,
    labels: opts.labels,
    calls,
    policy: opts.policy,
  };
  if (f.name === "OutsideActiveHours" && opts.policy) {
    f.nextAllowedAt = nextAllowedHour(opts.policy.activeHours, ctx.now);
  }
  if (f.merchant === undefined && f.token !== undefined && f.amount !== undefined && calls) {
    const merchant = findPayment(calls, f.token, f.amount)?.merchant;
    if (merchant) f.merchant = merchant;
  }
  return { ...f, message: describeViolation(f, ctx) };
}

/**
 * Turns anything a failed agent or owner action produces into a typed violation with a one-sentence `message`:
 * viem errors (`ContractFunctionExecutionError`, `CallExecutionError`, `EstimateGasExecutionError`, bundler errors,
 * walked through their causes), raw revert data, EntryPoint `FailedOp` / `FailedOpWithRevert` (the AA code explained
 * in agent terms, the account's error inside decoded), bundler JSON-RPC errors without `data` (Alto's
 * "... reverted with reason: AA23 reverted 0x..." and "... reverted during simulation with reason: 0x..."; -32502
 * ERC-7562), a receipt holding `UserOperationRevertReason` (see {@link decodeUserOperationReceipt}), `Error(string)`
 * and `Panic(uint256)`. Anything it cannot decode gives `undefined`; it never throws.
 *
 * Pure and synchronous: pass what it cannot know in `opts` (token symbols and decimals, the policy, the time), or use
 * `explainGuardrailViolation`, which reads them from the chain.
 *
 * @example
 * try {
 *   await walletClient.writeContract({ address: account, abi: agentAccountAbi, functionName: "executeAsAgent", args })
 * } catch (e) {
 *   const v = decodeGuardrailViolation(e, { tokens: { [usdc]: { symbol: "USDC", decimals: 6 } } })
 *   if (v?.name === "PeriodCapExceeded") console.log(v.message)
 *   // Payment of 30.00 USDC to 0x9965…A4dc would exceed the period cap: 20.00 USDC left, resets in 3 h 12 min (2026-11-28 00:00 UTC).
 * }
 */
export function decodeGuardrailViolation(
  error: unknown,
  opts: DecodeGuardrailViolationOptions = {},
): DecodeGuardrailViolationReturnType {
  try {
    const r = record(error);
    if (r && Array.isArray(r.logs)) return decodeUserOperationReceipt(r as never, opts);
    // a GuardrailViolationError (e.g. thrown by an owner action) carries its violation, already explained
    const own = r && record(r.violation);
    if (own && typeof own.name === "string" && typeof own.message === "string") return own as GuardrailViolation;
    const found: Found = {};
    // a refused preflight (payAsAgent's AgentCallsRefusedError) carries the raw violation bytes
    if (r && typeof r.violation === "string" && /^0x[0-9a-fA-F]{8,}$/.test(r.violation)) {
      const facts = factsFromData(r.violation as Hex);
      if (facts) return finish(facts, found, opts);
    }
    const facts = factsFromError(error, found);
    return facts ? finish(facts, found, opts) : undefined;
  } catch {
    return undefined;
  }
}

/** A transaction receipt (of `handleOps`) or a bundler's UserOperation receipt. */
export type UserOperationReceiptLike = {
  logs: readonly { address: Address; topics: readonly Hex[]; data: Hex }[];
  userOpHash?: Hex;
  success?: boolean;
  reason?: string;
  /** The transaction receipt inside a bundler's UserOperation receipt. */
  receipt?: { logs: readonly { address: Address; topics: readonly Hex[]; data: Hex }[] };
};

/**
 * The refusal at execution time recorded in a receipt: the first `UserOperationRevertReason` (or
 * `PostOpRevertReason`) of the EntryPoint, decoded, or `UserOperationFailed` for an op mined with `success == false`
 * and no reason. Takes a `handleOps` transaction receipt or a bundler's UserOperation receipt
 * (`waitForUserOperationReceipt`); `opts.userOpHash` picks one op of a bundle. `undefined` when every op succeeded.
 *
 * @example
 * const receipt = await bundlerClient.waitForUserOperationReceipt({ hash })
 * const refusal = decodeUserOperationReceipt(receipt)
 * if (refusal) console.log(refusal.message)
 */
export function decodeUserOperationReceipt(
  receipt: UserOperationReceiptLike,
  opts: DecodeGuardrailViolationOptions = {},
): DecodeGuardrailViolationReturnType {
  try {
    const wanted = opts.userOpHash ?? receipt.userOpHash;
    // a bundler's receipt may keep only the op's own logs; the transaction receipt inside it has them all
    const logs = parseEventLogs({
      abi: entryPointV08Abi,
      logs: [...receipt.logs, ...(receipt.receipt?.logs ?? [])] as never,
      eventName: ["UserOperationRevertReason", "PostOpRevertReason", "UserOperationEvent"],
    });
    const mine = logs.filter((l) => wanted === undefined || l.args.userOpHash.toLowerCase() === wanted.toLowerCase());
    for (const l of mine) {
      if (l.eventName === "UserOperationEvent") continue;
      const facts: Facts =
        factsFromData(l.args.revertReason) ??
        (l.eventName === "PostOpRevertReason"
          ? { name: "UserOperationRejected", aaCode: "AA50", data: l.args.revertReason }
          : { name: "UserOperationFailed", data: l.args.revertReason });
      return finish({ ...facts, userOpHash: l.args.userOpHash }, {}, opts, l.args);
    }
    if (receipt.success === false && typeof receipt.reason === "string" && isRevertData(receipt.reason)) {
      const facts = factsFromData(receipt.reason);
      if (facts) return finish({ ...facts, userOpHash: receipt.userOpHash }, {}, opts);
    }
    const failed = mine.find((l) => l.eventName === "UserOperationEvent" && !l.args.success);
    if (failed && failed.eventName === "UserOperationEvent") {
      return finish({ name: "UserOperationFailed", userOpHash: failed.args.userOpHash }, {}, opts);
    }
    return undefined;
  } catch {
    return undefined;
  }
}

import type { Address, Hex } from "viem";

/** The custom errors of a Stopline account (SPEC section 6, plus `NotAuthorized`). */
export type StoplineErrorName =
  | "AgentsPaused"
  | "AgentIsRevoked"
  | "AgentUnknown"
  | "CallNotAllowed"
  | "TokenNotAllowed"
  | "MerchantNotAllowed"
  | "PerPaymentCapExceeded"
  | "WrongNonceKey"
  | "PaymasterNotAllowed"
  | "GasBudgetExceeded"
  | "AgentNotYetValid"
  | "AgentExpired"
  | "OutsideActiveHours"
  | "CallLimitExceeded"
  | "PeriodCapExceeded"
  | "LifetimeCapExceeded"
  | "TokenCallFailed"
  | "AgentReentrancy"
  | "MalformedAgentCallData"
  | "InvalidPolicy"
  | "AgentAlreadyExists"
  | "AgentNotFound"
  | "InvalidAgentKey"
  | "AgentKeyInUse"
  | "GrantExpired"
  | "InvalidGrantSignature"
  | "NotAuthorized"
  | "LaneNotEnabled"
  | "LaneNotOpen"
  | "LaneSlotUnavailable"
  | "LaneWindowInvalid";

/**
 * What the decoder can name besides the account's own errors:
 * - `UserOperationRejected`: the EntryPoint refused the op with an AA code and no account error inside (AA22, AA24, ...);
 * - `BundlerRejected`: the bundler refused the op for its own rules (ERC-7562, JSON-RPC -32502 and kin);
 * - `UserOperationFailed`: the op was mined with `success == false` and no revert reason;
 * - `Error` / `Panic`: Solidity's `Error(string)` and `Panic(uint256)`;
 * - any other error of the known ABIs (EntryPoint, ERC-20 `ERC20InsufficientBalance`, ...) by its own name.
 */
export type GuardrailViolationName =
  StoplineErrorName | "UserOperationRejected" | "BundlerRejected" | "UserOperationFailed" | "Error" | "Panic";

/**
 * A refusal, decoded: the error's name, its arguments under readable names (only those that apply), and `message`, one
 * human sentence that uses token symbols and decimals and relative times. Numbers are the contract's own (token units,
 * unix seconds, wei).
 */
export type GuardrailViolation = {
  name: GuardrailViolationName | (string & {});
  /** One sentence for a person: what was refused and why, with the numbers that explain it. */
  message: string;
  agentId?: Hex;
  /** Token of the payment (the zero address for ETH). */
  token?: Address;
  /** Amount of the payment that was refused (token units). */
  amount?: bigint;
  /** The cap that was hit (token units; for `CallLimitExceeded`, the number of calls). */
  limit?: bigint;
  /** What was left of the cap or budget just before the refused payment (token units or wei). */
  remaining?: bigint;
  /** When the period resets (unix seconds). */
  resetsAt?: bigint;
  merchant?: Address;
  target?: Address;
  selector?: Hex;
  key?: Address;
  /** UTC hour of the week, 0 = Monday 00:00-00:59. */
  hourOfWeek?: number;
  /** For `OutsideActiveHours`, when the agent may act next (unix seconds), if the policy was known. */
  nextAllowedAt?: bigint;
  validAfter?: bigint;
  validUntil?: bigint;
  /** x402 lane: the end of the lane period (unix seconds) the payment falls in. */
  period?: bigint;
  /** x402 lane: the slot (`i`) of the refused payment. */
  slot?: bigint;
  /** x402 lane: how many slots the lane holds in the period. */
  slots?: bigint;
  /** x402 lane: EIP-3009's validBefore of the refused payment (unix seconds). */
  validBefore?: bigint;
  /** Maximum gas cost of the refused UserOperation (wei). */
  required?: bigint;
  paymaster?: Address;
  nonceKey?: bigint;
  /** The EntryPoint's code (`AA23`, `AA22`, ...) when the refusal came through the EntryPoint or a bundler. */
  aaCode?: string;
  /** Index of the op in the bundle, when the EntryPoint said. */
  opIndex?: bigint;
  /** The JSON-RPC error code, when the refusal came from a bundler. */
  rpcCode?: number;
  /** `InvalidPolicy`'s reason, `Error(string)`'s message, or the EntryPoint's own reason text. */
  reason?: string;
  deadline?: bigint;
  caller?: Address;
  /** `Panic(uint256)`'s code. */
  panicCode?: bigint;
  /** The UserOperation, when decoded from a receipt. */
  userOpHash?: Hex;
  /** Arguments of an error the toolkit knows by ABI only (not a Stopline error). */
  args?: readonly unknown[];
  /** The ABI-encoded error, when there was one. */
  data?: Hex;
};

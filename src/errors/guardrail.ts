// One error class per refusal, built from a decoded violation. All extend GuardrailViolationError (a viem BaseError).
import { BaseError } from "viem";

import type { GuardrailViolation } from "./violation.js";

export type GuardrailViolationErrorType = GuardrailViolationError & { name: "GuardrailViolationError" };

/**
 * A refusal as an error: `shortMessage` is the violation's sentence and `violation` holds its numbers. The base of
 * every guardrail error class; also used as is for refusals without a class of their own (`Error(string)`, `Panic`,
 * other contracts' errors).
 */
export class GuardrailViolationError extends BaseError {
  override name: string = "GuardrailViolationError";
  readonly violation: GuardrailViolation;

  constructor(violation: GuardrailViolation, options: { cause?: Error | undefined } = {}) {
    super(violation.message, {
      cause: options.cause,
      metaMessages: metaOf(violation),
      docsPath: undefined,
    });
    this.violation = violation;
  }
}

function metaOf(v: GuardrailViolation): string[] {
  const fields = Object.entries(v).filter(
    ([k, x]) => k !== "message" && k !== "name" && k !== "data" && x !== undefined,
  );
  return [`Violation: ${v.name}`, ...fields.map(([k, x]) => `  ${k}: ${Array.isArray(x) ? x.join(", ") : String(x)}`)];
}

/** All agents of the account are paused. */
export class AgentsPausedError extends GuardrailViolationError {
  override name = "AgentsPausedError";
}
/** The agent was revoked; it can never act again. */
export class AgentIsRevokedError extends GuardrailViolationError {
  override name = "AgentIsRevokedError";
}
/** The caller or signer is not the agent's current key. */
export class AgentUnknownError extends GuardrailViolationError {
  override name = "AgentUnknownError";
}
/** A call of the batch is not one an agent may make. */
export class CallNotAllowedError extends GuardrailViolationError {
  override name = "CallNotAllowedError";
}
/** A transfer or approve on a token that is not in the policy. */
export class TokenNotAllowedError extends GuardrailViolationError {
  override name = "TokenNotAllowedError";
}
/** A payment to an address that is not one of the agent's merchants. */
export class MerchantNotAllowedError extends GuardrailViolationError {
  override name = "MerchantNotAllowedError";
}
/** A payment larger than the token's per-payment cap. */
export class PerPaymentCapExceededError extends GuardrailViolationError {
  override name = "PerPaymentCapExceededError";
}
/** An agent UserOperation that does not use the agent's own nonce key. */
export class WrongNonceKeyError extends GuardrailViolationError {
  override name = "WrongNonceKeyError";
}
/** An agent UserOperation with a paymaster the owner did not allow. */
export class PaymasterNotAllowedError extends GuardrailViolationError {
  override name = "PaymasterNotAllowedError";
}
/** An agent UserOperation whose maximum gas cost exceeds what is left of the gas budget. */
export class GasBudgetExceededError extends GuardrailViolationError {
  override name = "GasBudgetExceededError";
}
/** The agent acted before its validity window. */
export class AgentNotYetValidError extends GuardrailViolationError {
  override name = "AgentNotYetValidError";
}
/** The agent acted after its validity window. */
export class AgentExpiredError extends GuardrailViolationError {
  override name = "AgentExpiredError";
}
/** The agent acted outside its weekly active hours. */
export class OutsideActiveHoursError extends GuardrailViolationError {
  override name = "OutsideActiveHoursError";
}
/** The batch would exceed the agent's calls per period. */
export class CallLimitExceededError extends GuardrailViolationError {
  override name = "CallLimitExceededError";
}
/** A payment over what is left of the token's cap in the current period. */
export class PeriodCapExceededError extends GuardrailViolationError {
  override name = "PeriodCapExceededError";
}
/** A payment over what is left of the token's lifetime cap. */
export class LifetimeCapExceededError extends GuardrailViolationError {
  override name = "LifetimeCapExceededError";
}
/** A token call returned false or hit an address without code. */
export class TokenCallFailedError extends GuardrailViolationError {
  override name = "TokenCallFailedError";
}
/** A call back into the account while an agent batch runs. */
export class AgentReentrancyError extends GuardrailViolationError {
  override name = "AgentReentrancyError";
}
/** A UserOperation's callData selects executeAsAgent but its arguments are not a valid ABI encoding. */
export class MalformedAgentCallDataError extends GuardrailViolationError {
  override name = "MalformedAgentCallDataError";
}

/** The contract refused a policy (the toolkit's own check is InvalidPolicyInputError). */
export class InvalidPolicyError extends GuardrailViolationError {
  override name = "InvalidPolicyError";
}
/** The agent id (or its nonce key) was used before. */
export class AgentAlreadyExistsError extends GuardrailViolationError {
  override name = "AgentAlreadyExistsError";
}
/** No agent was ever granted under this id. */
export class AgentNotFoundError extends GuardrailViolationError {
  override name = "AgentNotFoundError";
}
/** The key is the zero address, the owner or the account. */
export class InvalidAgentKeyError extends GuardrailViolationError {
  override name = "InvalidAgentKeyError";
}
/** The key is registered or retired. */
export class AgentKeyInUseError extends GuardrailViolationError {
  override name = "AgentKeyInUseError";
}
/** The signed grant's deadline has passed. */
export class GrantExpiredError extends GuardrailViolationError {
  override name = "GrantExpiredError";
}
/** The grant is not signed by the owner, or the signature was used. */
export class InvalidGrantSignatureError extends GuardrailViolationError {
  override name = "InvalidGrantSignatureError";
}
/** The caller may not call this owner (or guardian) function. */
export class NotAuthorizedError extends GuardrailViolationError {
  override name = "NotAuthorizedError";
}
/** x402 lane: the token's lane is off (laneCount 0), or it is ETH. */
export class LaneNotEnabledError extends GuardrailViolationError {
  override name = "LaneNotEnabledError";
}
/** x402 lane: the lane is not open for the period the payment falls in. */
export class LaneNotOpenError extends GuardrailViolationError {
  override name = "LaneNotOpenError";
}
/** x402 lane: the payment's slot is beyond the lane's slots for the period, or already used. */
export class LaneSlotUnavailableError extends GuardrailViolationError {
  override name = "LaneSlotUnavailableError";
}
/** x402 lane: the payment's validAfter/validBefore window is empty or outlives its lane period. */
export class LaneWindowInvalidError extends GuardrailViolationError {
  override name = "LaneWindowInvalidError";
}
/** The EntryPoint refused the UserOperation with an AA code and no account error inside (AA21, AA22, AA24, ...). */
export class UserOperationRejectedError extends GuardrailViolationError {
  override name = "UserOperationRejectedError";
}

/** The bundler refused the UserOperation for its own rules (ERC-7562 and other JSON-RPC -3250x errors). */
export class BundlerRejectedError extends GuardrailViolationError {
  override name = "BundlerRejectedError";
}

/** The UserOperation was mined but failed at execution without a decodable reason. */
export class UserOperationFailedError extends GuardrailViolationError {
  override name = "UserOperationFailedError";
}

const CLASSES: Readonly<
  Record<string, new (v: GuardrailViolation, o?: { cause?: Error | undefined }) => GuardrailViolationError>
> = {
  AgentsPaused: AgentsPausedError,
  AgentIsRevoked: AgentIsRevokedError,
  AgentUnknown: AgentUnknownError,
  CallNotAllowed: CallNotAllowedError,
  TokenNotAllowed: TokenNotAllowedError,
  MerchantNotAllowed: MerchantNotAllowedError,
  PerPaymentCapExceeded: PerPaymentCapExceededError,
  WrongNonceKey: WrongNonceKeyError,
  PaymasterNotAllowed: PaymasterNotAllowedError,
  GasBudgetExceeded: GasBudgetExceededError,
  AgentNotYetValid: AgentNotYetValidError,
  AgentExpired: AgentExpiredError,
  OutsideActiveHours: OutsideActiveHoursError,
  CallLimitExceeded: CallLimitExceededError,
  PeriodCapExceeded: PeriodCapExceededError,
  LifetimeCapExceeded: LifetimeCapExceededError,
  TokenCallFailed: TokenCallFailedError,
  AgentReentrancy: AgentReentrancyError,
  MalformedAgentCallData: MalformedAgentCallDataError,
  InvalidPolicy: InvalidPolicyError,
  AgentAlreadyExists: AgentAlreadyExistsError,
  AgentNotFound: AgentNotFoundError,
  InvalidAgentKey: InvalidAgentKeyError,
  AgentKeyInUse: AgentKeyInUseError,
  GrantExpired: GrantExpiredError,
  InvalidGrantSignature: InvalidGrantSignatureError,
  NotAuthorized: NotAuthorizedError,
  LaneNotEnabled: LaneNotEnabledError,
  LaneNotOpen: LaneNotOpenError,
  LaneSlotUnavailable: LaneSlotUnavailableError,
  LaneWindowInvalid: LaneWindowInvalidError,
  UserOperationRejected: UserOperationRejectedError,
  BundlerRejected: BundlerRejectedError,
  UserOperationFailed: UserOperationFailedError,
};

/**
 * The error class instance for a violation: `PeriodCapExceededError` for `PeriodCapExceeded`, and so on;
 * `GuardrailViolationError` for names without a class.
 *
 * @example
 * const v = decodeGuardrailViolation(e)
 * if (v) throw toGuardrailError(v, { cause: e as Error })
 */
export function toGuardrailError(
  violation: GuardrailViolation,
  options: { cause?: Error | undefined } = {},
): GuardrailViolationError {
  const C = CLASSES[violation.name] ?? GuardrailViolationError;
  return new C(violation, options);
}

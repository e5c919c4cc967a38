export {
  type DecodeGuardrailViolationOptions,
  type DecodeGuardrailViolationReturnType,
  type UserOperationReceiptLike,
  decodeGuardrailViolation,
  decodeUserOperationReceipt,
} from "./decode.js";
export {
  type ExplainGuardrailViolationParameters,
  type ExplainGuardrailViolationReturnType,
  explainGuardrailViolation,
} from "./explain.js";
export * from "./guardrail.js";
export { AA_EXPLANATIONS, type DescribeContext, describeViolation } from "./messages.js";
export { InvalidPolicyInputError, type InvalidPolicyInputErrorType } from "./policy.js";
export type { GuardrailViolation, GuardrailViolationName, StoplineErrorName } from "./violation.js";
export {
  explainTransaction,
  explainUserOperation,
  type ExplainTransactionParameters,
  type ExplainTransactionReturnType,
  type ExplainUserOperationParameters,
  type ExplainUserOperationReturnType,
} from "./lookup.js";

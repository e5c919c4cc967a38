// Stopline toolkit: owner and integrator actions, policies in human terms, and refusals explained.
export * from "./abis/index.js";
export * from "./actions/index.js";
export * from "./errors/index.js";
export * from "./policy/index.js";
export * from "./x402/index.js";
export { ANY_HOUR, ETH_METADATA, MAX_CAP, NATIVE_TOKEN, NO_EXPIRY, UNLIMITED, UNLIMITED_CALLS } from "./constants.js";
export { type StoplineActions, type StoplineActionsConfig, stoplineActions } from "./decorators.js";
export type { AgentPolicy, ContractTokenLimit, Execution, TokenLimit, TokenMetadata } from "./types.js";
export { toContractPolicy } from "./types.js";
export { agentIdFromNonceKey, isAgentId, nonceKeyOf, randomAgentId } from "./utils/agentId.js";
export {
  formatAmount,
  formatHourOfWeek,
  formatRelative,
  formatSpan,
  formatUtc,
  periodAdjective,
  shortAddress,
} from "./utils/format.js";
export { hourOfWeek, nextAllowedHour } from "./utils/hours.js";
export { lookupToken, readTokenMetadata } from "./utils/tokens.js";
export {
  AGENT_STUB_SIGNATURE,
  AgentCallsRefusedError,
  AgentKey,
  AgentKeyCannotSignError,
  AgentNonceKeyError,
  KeystoreError,
  agentNonceKey,
  createAgentKey,
  erc20Approval,
  erc20Payment,
  ethPayment,
  payAsAgent,
  toExecution,
  toStoplineAgentAccount,
  type AgentCall,
  type AgentCallsRefusedErrorType,
  type AgentKeyCannotSignErrorType,
  type AgentNonceKeyErrorType,
  type Call,
  type Erc20ApprovalParameters,
  type Erc20PaymentParameters,
  type EthPaymentParameters,
  type KeystoreErrorType,
  type PayAsAgentErrorType,
  type PayAsAgentParameters,
  type PayAsAgentReturnType,
  type StoplineAgentAccountImplementation,
  type ToStoplineAgentAccountParameters,
  type ToStoplineAgentAccountReturnType,
} from "./agent/index.js";

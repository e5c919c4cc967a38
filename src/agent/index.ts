// Agent side of the toolkit: act as an agent (UserOperation or direct call) and manage agent keys.
export {
  AGENT_STUB_SIGNATURE,
  agentNonceKey,
  toStoplineAgentAccount,
  type StoplineAgentAccountImplementation,
  type ToStoplineAgentAccountParameters,
  type ToStoplineAgentAccountReturnType,
} from "./toStoplineAgentAccount.js";
export {
  payAsAgent,
  type PayAsAgentErrorType,
  type PayAsAgentParameters,
  type PayAsAgentReturnType,
} from "./payAsAgent.js";
export {
  erc20Approval,
  erc20Payment,
  ethPayment,
  toExecution,
  type AgentCall,
  type Call,
  type Erc20ApprovalParameters,
  type Erc20PaymentParameters,
  type EthPaymentParameters,
  type Execution,
} from "./executions.js";
export { AgentKey, createAgentKey } from "./keys.js";
export {
  AgentCallsRefusedError,
  AgentKeyCannotSignError,
  AgentNonceKeyError,
  KeystoreError,
  type AgentCallsRefusedErrorType,
  type AgentKeyCannotSignErrorType,
  type AgentNonceKeyErrorType,
  type KeystoreErrorType,
} from "./errors.js";

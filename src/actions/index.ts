export {
  type CheckAgentCallsParameters,
  type CheckAgentCallsErrorType,
  type CheckAgentCallsReturnType,
  checkAgentCalls,
} from "./checkAgentCalls.js";
export {
  type CheckLanePaymentParameters,
  type CheckLanePaymentErrorType,
  type CheckLanePaymentReturnType,
  checkLanePayment,
} from "./checkLanePayment.js";
export {
  type CreateAgentAccountParameters,
  type CreateAgentAccountErrorType,
  type CreateAgentAccountReturnType,
  createAgentAccount,
} from "./createAgentAccount.js";
export {
  type AgentBlockedBy,
  type AgentTokenStatus,
  type FormattedAmount,
  type GetAgentStatusParameters,
  type GetAgentStatusErrorType,
  type GetAgentStatusReturnType,
  getAgentStatus,
} from "./getAgentStatus.js";
export {
  type GetAgentAccountAddressParameters,
  type GetAgentAccountAddressErrorType,
  type GetAgentAccountAddressReturnType,
  getAgentAccountAddress,
} from "./getAgentAccountAddress.js";
export {
  type GrantAgentParameters,
  type GrantAgentErrorType,
  type GrantAgentReturnType,
  grantAgent,
} from "./grantAgent.js";
export type { AccountWriteParameters, OwnerActionErrorType, WriteOptions } from "./internal.js";
export { type OpenLaneParameters, type OpenLaneErrorType, type OpenLaneReturnType, openLane } from "./openLane.js";
export {
  type PauseAgentsParameters,
  type PauseAgentsErrorType,
  type PauseAgentsReturnType,
  pauseAgents,
} from "./pauseAgents.js";
export {
  type RevokeAgentParameters,
  type RevokeAgentErrorType,
  type RevokeAgentReturnType,
  revokeAgent,
} from "./revokeAgent.js";
export {
  type RotateAgentKeyParameters,
  type RotateAgentKeyErrorType,
  type RotateAgentKeyReturnType,
  rotateAgentKey,
} from "./rotateAgentKey.js";
export {
  type SetAgentPaymasterParameters,
  type SetAgentPaymasterErrorType,
  type SetAgentPaymasterReturnType,
  setAgentPaymaster,
} from "./setAgentPaymaster.js";
export {
  type SetGuardianParameters,
  type SetGuardianErrorType,
  type SetGuardianReturnType,
  setGuardian,
} from "./setGuardian.js";
export {
  type AgentGrantTypedDataParameters,
  type SignAgentGrantParameters,
  type SignAgentGrantErrorType,
  type SignAgentGrantReturnType,
  type SignedAgentGrant,
  agentGrantTypes,
  getAgentGrantTypedData,
  signAgentGrant,
} from "./signAgentGrant.js";
export {
  type SubmitAgentGrantParameters,
  type SubmitAgentGrantErrorType,
  type SubmitAgentGrantReturnType,
  submitAgentGrant,
} from "./submitAgentGrant.js";
export {
  type UnpauseAgentsParameters,
  type UnpauseAgentsErrorType,
  type UnpauseAgentsReturnType,
  unpauseAgents,
} from "./unpauseAgents.js";
export {
  type UpdateAgentPolicyParameters,
  type UpdateAgentPolicyErrorType,
  type UpdateAgentPolicyReturnType,
  updateAgentPolicy,
} from "./updateAgentPolicy.js";

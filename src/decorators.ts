import type { Account, Address, Chain, Client, Transport } from "viem";

import {
  type CheckAgentCallsParameters,
  type CheckAgentCallsReturnType,
  type CheckLanePaymentParameters,
  type CheckLanePaymentReturnType,
  type CreateAgentAccountParameters,
  type CreateAgentAccountReturnType,
  type GetAgentAccountAddressParameters,
  type GetAgentAccountAddressReturnType,
  type GetAgentStatusParameters,
  type GetAgentStatusReturnType,
  type GrantAgentParameters,
  type GrantAgentReturnType,
  type OpenLaneParameters,
  type OpenLaneReturnType,
  type PauseAgentsParameters,
  type PauseAgentsReturnType,
  type RevokeAgentParameters,
  type RevokeAgentReturnType,
  type RotateAgentKeyParameters,
  type RotateAgentKeyReturnType,
  type SetAgentPaymasterParameters,
  type SetAgentPaymasterReturnType,
  type SetGuardianParameters,
  type SetGuardianReturnType,
  type SignAgentGrantParameters,
  type SignAgentGrantReturnType,
  type SubmitAgentGrantParameters,
  type SubmitAgentGrantReturnType,
  type UnpauseAgentsParameters,
  type UnpauseAgentsReturnType,
  type UpdateAgentPolicyParameters,
  type UpdateAgentPolicyReturnType,
  checkAgentCalls,
  checkLanePayment,
  createAgentAccount,
  getAgentAccountAddress,
  getAgentStatus,
  grantAgent,
  openLane,
  pauseAgents,
  revokeAgent,
  rotateAgentKey,
  setAgentPaymaster,
  setGuardian,
  signAgentGrant,
  submitAgentGrant,
  unpauseAgents,
  updateAgentPolicy,
} from "./actions/index.js";
import {
  type ExplainGuardrailViolationParameters,
  type ExplainGuardrailViolationReturnType,
  explainGuardrailViolation,
} from "./errors/explain.js";
import { type BuildPolicyReturnType, type PolicyInput, buildPolicy } from "./policy/buildPolicy.js";

/** Options of {@link stoplineActions}. */
export type StoplineActionsConfig = {
  /** The Stopline account the actions act on when a call does not name one (`address`). */
  address?: Address | undefined;
};

/** `address` becomes optional when the decorator was given one. */
type WithAddress<parameters> = parameters extends unknown
  ? Omit<parameters, "address"> & { address?: Address | undefined }
  : never;

export type StoplineActions<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = {
  createAgentAccount: (p: CreateAgentAccountParameters<chain, account>) => Promise<CreateAgentAccountReturnType>;
  getAgentAccountAddress: (p: GetAgentAccountAddressParameters) => Promise<GetAgentAccountAddressReturnType>;
  buildPolicy: (input: PolicyInput) => Promise<BuildPolicyReturnType>;
  grantAgent: (p: WithAddress<GrantAgentParameters<chain, account>>) => Promise<GrantAgentReturnType>;
  signAgentGrant: (p: WithAddress<SignAgentGrantParameters<account>>) => Promise<SignAgentGrantReturnType>;
  submitAgentGrant: (p: SubmitAgentGrantParameters<chain, account>) => Promise<SubmitAgentGrantReturnType>;
  updateAgentPolicy: (
    p: WithAddress<UpdateAgentPolicyParameters<chain, account>>,
  ) => Promise<UpdateAgentPolicyReturnType>;
  rotateAgentKey: (p: WithAddress<RotateAgentKeyParameters<chain, account>>) => Promise<RotateAgentKeyReturnType>;
  revokeAgent: (p: WithAddress<RevokeAgentParameters<chain, account>>) => Promise<RevokeAgentReturnType>;
  pauseAgents: (p?: WithAddress<PauseAgentsParameters<chain, account>>) => Promise<PauseAgentsReturnType>;
  unpauseAgents: (p?: WithAddress<UnpauseAgentsParameters<chain, account>>) => Promise<UnpauseAgentsReturnType>;
  setGuardian: (p: WithAddress<SetGuardianParameters<chain, account>>) => Promise<SetGuardianReturnType>;
  setAgentPaymaster: (
    p: WithAddress<SetAgentPaymasterParameters<chain, account>>,
  ) => Promise<SetAgentPaymasterReturnType>;
  getAgentStatus: (p: WithAddress<GetAgentStatusParameters>) => Promise<GetAgentStatusReturnType>;
  checkAgentCalls: (p: WithAddress<CheckAgentCallsParameters>) => Promise<CheckAgentCallsReturnType>;
  openLane: (p: WithAddress<OpenLaneParameters<chain, account>>) => Promise<OpenLaneReturnType>;
  checkLanePayment: (p: WithAddress<CheckLanePaymentParameters>) => Promise<CheckLanePaymentReturnType>;
  explainGuardrailViolation: (
    error: unknown,
    p?: WithAddress<ExplainGuardrailViolationParameters>,
  ) => Promise<ExplainGuardrailViolationReturnType>;
};

/**
 * The Stopline owner and integrator actions as a viem client decorator. Give the account's address once and the
 * actions default to it.
 *
 * @example
 * const owner = createWalletClient({ account, chain, transport: http() }).extend(stoplineActions({ address: stoplineAccount }))
 * await owner.grantAgent({ agentId, key, policy })
 * const status = await owner.getAgentStatus({ agentId })
 */
export function stoplineActions(config: StoplineActionsConfig = {}) {
  return <
    transport extends Transport,
    chain extends Chain | undefined = Chain | undefined,
    account extends Account | undefined = Account | undefined,
  >(
    client: Client<transport, chain, account>,
  ): StoplineActions<chain, account> => {
    const at = <p extends object>(params: p | undefined) =>
      ({ ...params, address: (params as { address?: Address } | undefined)?.address ?? config.address }) as never;
    return {
      createAgentAccount: (p) => createAgentAccount(client, p),
      getAgentAccountAddress: (p) => getAgentAccountAddress(client, p),
      buildPolicy: (input) => buildPolicy(client, { ...input, address: input.address ?? config.address }),
      grantAgent: (p) => grantAgent(client, at(p)),
      signAgentGrant: (p) => signAgentGrant(client, at(p)),
      submitAgentGrant: (p) => submitAgentGrant(client, p),
      updateAgentPolicy: (p) => updateAgentPolicy(client, at(p)),
      rotateAgentKey: (p) => rotateAgentKey(client, at(p)),
      revokeAgent: (p) => revokeAgent(client, at(p)),
      pauseAgents: (p) => pauseAgents(client, at(p)),
      unpauseAgents: (p) => unpauseAgents(client, at(p)),
      setGuardian: (p) => setGuardian(client, at(p)),
      setAgentPaymaster: (p) => setAgentPaymaster(client, at(p)),
      getAgentStatus: (p) => getAgentStatus(client, at(p)),
      checkAgentCalls: (p) => checkAgentCalls(client, at(p)),
      openLane: (p) => openLane(client, at(p)),
      checkLanePayment: (p) => checkLanePayment(client, at(p)),
      explainGuardrailViolation: (error, p) => explainGuardrailViolation(client, error, at(p)),
    };
  };
}

import type { Account, Chain, Client, Hash, Hex, Transport } from "viem";

import { validatePolicy } from "../policy/validate.js";
import { type AgentPolicy, toContractPolicy } from "../types.js";
import {
  type OwnerActionErrorType,
  type AccountWriteParameters,
  requireAddress,
  requireAgentId,
  send,
} from "./internal.js";

export type UpdateAgentPolicyParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = AccountWriteParameters<chain, account> & {
  agentId: Hex;
  /** The whole new policy (it replaces the old one, merchants included). */
  policy: AgentPolicy;
};

export type UpdateAgentPolicyReturnType = Hash;

export type UpdateAgentPolicyErrorType = OwnerActionErrorType;

/**
 * Replaces an agent's policy (`updatePolicy`). Counters are kept: what was spent in the current period stays charged
 * until it ends, a new `period` takes effect from the end of the current one, and a new `gasBudget` is a new total.
 * The policy is checked against the contract's rules first.
 *
 * @throws InvalidPolicyInputError before sending; `AgentNotFoundError`, `AgentIsRevokedError`, `NotAuthorizedError`.
 * @example
 * await updateAgentPolicy(ownerClient, { address: account, agentId, policy: { ...policy, gasBudget: parseEther("0.2") } })
 */
export async function updateAgentPolicy<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: UpdateAgentPolicyParameters<chain, account>,
): Promise<UpdateAgentPolicyReturnType> {
  const address = requireAddress(parameters.address);
  requireAgentId(parameters.agentId);
  validatePolicy(parameters.policy, { address });
  return send(client, parameters, "updatePolicy", [parameters.agentId, toContractPolicy(parameters.policy)]);
}

import { type Account, type Address, type Chain, type Client, type Hash, type Hex, type Transport } from "viem";

import { validatePolicy } from "../policy/validate.js";
import { type AgentPolicy, toContractPolicy } from "../types.js";
import {
  type OwnerActionErrorType,
  type AccountWriteParameters,
  requireAddress,
  requireAgentId,
  send,
  requireKeyAddress,
} from "./internal.js";

export type GrantAgentParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = AccountWriteParameters<chain, account> & {
  /** The new agent's id (its low 192 bits are its nonce key; see `randomAgentId`). */
  agentId: Hex;
  /** The agent's session key (an address the agent signs with). */
  key: Address;
  /** What the agent may do (see `buildPolicy`). */
  policy: AgentPolicy;
};

export type GrantAgentReturnType = Hash;

export type GrantAgentErrorType = OwnerActionErrorType;

/**
 * Grants a new agent: the owner key calls `grantAgent(agentId, key, policy)` on the account. The policy is checked
 * against every contract rule first (`validatePolicy`), so an invalid one is never sent.
 *
 * @throws InvalidPolicyInputError before sending; the contract's refusals as their guardrail error classes
 *   (`AgentAlreadyExistsError`, `AgentKeyInUseError`, `InvalidAgentKeyError`, `NotAuthorizedError`, ...).
 * @example
 * const policy = await buildPolicy(publicClient, { limits, merchants, period: "1d" })
 * const hash = await grantAgent(ownerClient, { address: account, agentId: randomAgentId(), key: agentKey.address, policy })
 */
export async function grantAgent<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: GrantAgentParameters<chain, account>,
): Promise<GrantAgentReturnType> {
  const { agentId, key, policy } = parameters;
  const address = requireAddress(parameters.address);
  requireAgentId(agentId);
  requireKeyAddress(key, "key");
  validatePolicy(policy, { address });
  return send(client, parameters, "grantAgent", [agentId, key, toContractPolicy(policy)]);
}

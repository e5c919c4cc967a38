import type { Account, Chain, Client, Hash, Hex, Transport } from "viem";

import { type OwnerActionErrorType, type AccountWriteParameters, requireAgentId, send } from "./internal.js";

export type RevokeAgentParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = AccountWriteParameters<chain, account> & { agentId: Hex };

export type RevokeAgentReturnType = Hash;

export type RevokeAgentErrorType = OwnerActionErrorType;

/**
 * Revokes an agent for good (`revokeAgent`); the owner or the guardian may. Its id can never be granted again.
 *
 * @throws `AgentNotFoundError`, `AgentIsRevokedError` (already revoked), `NotAuthorizedError`.
 * @example
 * await revokeAgent(guardianClient, { address: account, agentId })
 */
export async function revokeAgent<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: RevokeAgentParameters<chain, account>,
): Promise<RevokeAgentReturnType> {
  requireAgentId(parameters.agentId);
  return send(client, parameters, "revokeAgent", [parameters.agentId]);
}

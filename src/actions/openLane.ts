import type { Account, Address, Chain, Client, Hash, Hex, Transport } from "viem";

import { type AccountWriteParameters, type OwnerActionErrorType, requireAgentId, send } from "./internal.js";

export type OpenLaneParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = AccountWriteParameters<chain, account> & {
  agentId: Hex;
  /** The EIP-3009 token whose x402 lane opens. */
  token: Address;
};

export type OpenLaneReturnType = Hash;

export type OpenLaneErrorType = OwnerActionErrorType;

/**
 * Opens an agent's x402 lane for the current period (`openLane`): the account reserves `min(laneCount, room / laneMax)`
 * slots and charges them to the agent's period and lifetime counters at once (a hold), after giving back what the
 * previous period's lane did not use. Sent by the agent's current key (it pays the gas) or by the owner. Opening a lane
 * that is already open (or was closed) in this period does nothing. For the UserOperation path see `ensureLaneOpen`.
 *
 * @throws `LaneNotEnabledError`, `TokenNotAllowedError`, `AgentsPausedError`, `AgentIsRevokedError`,
 *   `AgentUnknownError` (neither the agent's key nor the owner), `AgentNotYetValidError`, `AgentExpiredError`,
 *   `AgentNotFoundError`.
 * @example
 * await openLane(agentWallet, { address: account, agentId, token: usdc })
 */
export async function openLane<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: OpenLaneParameters<chain, account>,
): Promise<OpenLaneReturnType> {
  requireAgentId(parameters.agentId);
  return send(client, parameters, "openLane", [parameters.agentId, parameters.token]);
}

import { type Account, type Address, type Chain, type Client, type Hash, type Hex, type Transport } from "viem";

import {
  type OwnerActionErrorType,
  type AccountWriteParameters,
  requireAgentId,
  send,
  requireKeyAddress,
} from "./internal.js";

export type RotateAgentKeyParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = AccountWriteParameters<chain, account> & {
  agentId: Hex;
  /** The agent's new key: never registered before (a rotated-away key is retired for good). */
  newKey: Address;
};

export type RotateAgentKeyReturnType = Hash;

export type RotateAgentKeyErrorType = OwnerActionErrorType;

/**
 * Replaces an agent's key (`rotateAgentKey`). The old key stops working at once and can never be registered again;
 * the agent's counters and policy stay.
 *
 * @throws `AgentKeyInUseError`, `InvalidAgentKeyError`, `AgentNotFoundError`, `AgentIsRevokedError`, `NotAuthorizedError`.
 * @example
 * await rotateAgentKey(ownerClient, { address: account, agentId, newKey: newAgentKey.address })
 */
export async function rotateAgentKey<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: RotateAgentKeyParameters<chain, account>,
): Promise<RotateAgentKeyReturnType> {
  requireAgentId(parameters.agentId);
  requireKeyAddress(parameters.newKey, "newKey");
  return send(client, parameters, "rotateAgentKey", [parameters.agentId, parameters.newKey]);
}

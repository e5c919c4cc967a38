import type { Account, Chain, Client, Hash, Transport } from "viem";

import { type OwnerActionErrorType, type AccountWriteParameters, send } from "./internal.js";

export type PauseAgentsParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = AccountWriteParameters<chain, account>;

export type PauseAgentsReturnType = Hash;

export type PauseAgentsErrorType = OwnerActionErrorType;

/**
 * Pauses every agent of the account (`pauseAgents`); the owner or the guardian may. Owner actions keep working;
 * only the owner can unpause.
 *
 * @throws `NotAuthorizedError`.
 * @example
 * await pauseAgents(guardianClient, { address: account })
 */
export async function pauseAgents<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: PauseAgentsParameters<chain, account>,
): Promise<PauseAgentsReturnType> {
  return send(client, parameters, "pauseAgents", []);
}

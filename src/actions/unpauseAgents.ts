import type { Account, Chain, Client, Hash, Transport } from "viem";

import { type OwnerActionErrorType, type AccountWriteParameters, send } from "./internal.js";

export type UnpauseAgentsParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = AccountWriteParameters<chain, account>;

export type UnpauseAgentsReturnType = Hash;

export type UnpauseAgentsErrorType = OwnerActionErrorType;

/**
 * Lets the account's agents act again (`unpauseAgents`); the owner only.
 *
 * @throws `NotAuthorizedError` (the guardian may pause but never unpause).
 * @example
 * await unpauseAgents(ownerClient, { address: account })
 */
export async function unpauseAgents<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: UnpauseAgentsParameters<chain, account>,
): Promise<UnpauseAgentsReturnType> {
  return send(client, parameters, "unpauseAgents", []);
}

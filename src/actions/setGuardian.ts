import { type Account, type Address, type Chain, type Client, type Hash, type Transport, zeroAddress } from "viem";

import { type OwnerActionErrorType, type AccountWriteParameters, send, requireKeyAddress } from "./internal.js";

export type SetGuardianParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = AccountWriteParameters<chain, account> & {
  /** The guardian (may pause agents and revoke any agent, nothing else); `null` or the zero address removes it. */
  guardian: Address | null;
};

export type SetGuardianReturnType = Hash;

export type SetGuardianErrorType = OwnerActionErrorType;

/**
 * Sets (or removes) the account's guardian (`setGuardian`); the owner only.
 *
 * @throws `NotAuthorizedError`.
 * @example
 * await setGuardian(ownerClient, { address: account, guardian: securityTeam })
 */
export async function setGuardian<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: SetGuardianParameters<chain, account>,
): Promise<SetGuardianReturnType> {
  const guardian = parameters.guardian ?? zeroAddress;
  requireKeyAddress(guardian, "guardian");
  return send(client, parameters, "setGuardian", [guardian]);
}

import {
  type Account,
  type Address,
  type Chain,
  type Client,
  type Hash,
  type Transport,
  isAddress,
  zeroAddress,
} from "viem";

import { InvalidPolicyInputError } from "../errors/policy.js";
import { type OwnerActionErrorType, type AccountWriteParameters, send } from "./internal.js";

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
  if (typeof guardian !== "string" || !isAddress(guardian, { strict: true })) {
    throw new InvalidPolicyInputError(
      `guardian ${JSON.stringify(guardian)} is not an address (or its checksum is wrong).`,
      {
        field: "guardian",
      },
    );
  }
  return send(client, parameters, "setGuardian", [guardian]);
}

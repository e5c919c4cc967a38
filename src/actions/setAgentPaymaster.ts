import { type Account, type Address, type Chain, type Client, type Hash, type Transport, isAddress } from "viem";

import { InvalidPolicyInputError } from "../errors/policy.js";
import { type OwnerActionErrorType, type AccountWriteParameters, send } from "./internal.js";

export type SetAgentPaymasterParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = AccountWriteParameters<chain, account> & {
  paymaster: Address;
  /** Whether agents' UserOperations may use it (their gas then no longer counts against the gas budget). */
  allowed: boolean;
};

export type SetAgentPaymasterReturnType = Hash;

export type SetAgentPaymasterErrorType = OwnerActionErrorType;

/**
 * Allows or forbids a paymaster for agents' UserOperations (`setAgentPaymaster`); the owner only.
 *
 * @throws `NotAuthorizedError`; InvalidPolicyInputError for the zero address.
 * @example
 * await setAgentPaymaster(ownerClient, { address: account, paymaster, allowed: true })
 */
export async function setAgentPaymaster<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: SetAgentPaymasterParameters<chain, account>,
): Promise<SetAgentPaymasterReturnType> {
  const { paymaster, allowed } = parameters;
  if (typeof paymaster !== "string" || !isAddress(paymaster, { strict: true }) || BigInt(paymaster) === 0n) {
    throw new InvalidPolicyInputError(
      `paymaster ${JSON.stringify(paymaster)} must be a non-zero address (with a valid checksum).`,
      { field: "paymaster" },
    );
  }
  return send(client, parameters, "setAgentPaymaster", [paymaster, allowed]);
}

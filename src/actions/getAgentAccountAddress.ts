import type { Address, Chain, Client, ReadContractErrorType, Transport } from "viem";
import { readContract } from "viem/actions";
import { getAction } from "viem/utils";

import { agentAccountFactoryAbi } from "../abis/generated.js";

export type GetAgentAccountAddressParameters = {
  /** The AgentAccountFactory. */
  factory: Address;
  /** The owner key of the account. */
  owner: Address;
  /** Salt, to give one owner several accounts (default 0). */
  salt?: bigint | undefined;
};

export type GetAgentAccountAddressReturnType = Address;

export type GetAgentAccountAddressErrorType = ReadContractErrorType;

/**
 * The address of `owner`'s Stopline account for `salt`, deployed or not (counterfactual: the factory's CREATE2
 * prediction). Fund it, or put it in a UserOperation's `sender`, before it exists.
 *
 * @example
 * const account = await getAgentAccountAddress(publicClient, { factory, owner: owner.address })
 */
export async function getAgentAccountAddress(
  client: Client<Transport, Chain | undefined>,
  parameters: GetAgentAccountAddressParameters,
): Promise<GetAgentAccountAddressReturnType> {
  const { factory, owner, salt = 0n } = parameters;
  return getAction(
    client,
    readContract,
    "readContract",
  )({ address: factory, abi: agentAccountFactoryAbi, functionName: "getAddress", args: [owner, salt] });
}

import type { Account, Address, Chain, Client, Hash, Transport } from "viem";

import { agentAccountFactoryAbi } from "../abis/generated.js";
import { getAgentAccountAddress } from "./getAgentAccountAddress.js";
import { type OwnerActionErrorType, type WriteOptions, send } from "./internal.js";

export type CreateAgentAccountParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = WriteOptions<chain, account> & {
  /** The AgentAccountFactory. */
  factory: Address;
  /** The owner key of the new account (anyone may send the transaction; the account always belongs to `owner`). */
  owner: Address;
  /** Salt, to give one owner several accounts (default 0). */
  salt?: bigint | undefined;
};

export type CreateAgentAccountReturnType = {
  /** The account's address (known before the transaction is mined). */
  address: Address;
  /** The `createAccount` transaction. */
  hash: Hash;
};

export type CreateAgentAccountErrorType = OwnerActionErrorType;

/**
 * Deploys `owner`'s Stopline account through the factory (idempotent: if it exists, the transaction does nothing).
 *
 * @example
 * const { address, hash } = await createAgentAccount(walletClient, { factory, owner: walletClient.account.address })
 * await publicClient.waitForTransactionReceipt({ hash })
 */
export async function createAgentAccount<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: CreateAgentAccountParameters<chain, account>,
): Promise<CreateAgentAccountReturnType> {
  const { factory, owner, salt = 0n } = parameters;
  const address = await getAgentAccountAddress(client, { factory, owner, salt });
  const hash = await send(client, parameters, "createAccount", [owner, salt], agentAccountFactoryAbi, factory);
  return { address, hash };
}

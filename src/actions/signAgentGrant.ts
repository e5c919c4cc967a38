import {
  type Account,
  type Address,
  type Chain,
  type Client,
  type Hex,
  type ReadContractErrorType,
  type SignTypedDataErrorType,
  type Transport,
  type TypedDataDefinition,
} from "viem";
import { getChainId, readContract, signTypedData } from "viem/actions";
import { getAction } from "viem/utils";

import { agentAccountAbi } from "../abis/generated.js";
import type { InvalidPolicyInputErrorType } from "../errors/policy.js";
import { validatePolicy } from "../policy/validate.js";
import { type AgentPolicy, toContractPolicy } from "../types.js";
import { requireAddress, requireAgentId, requireKeyAddress } from "./internal.js";

/**
 * The EIP-712 types of `grantAgentBySig` (SPEC section 4), so that a wallet shows the owner every field of the policy
 * it is asked to sign.
 */
export const agentGrantTypes = {
  AgentGrant: [
    { name: "agentId", type: "bytes32" },
    { name: "key", type: "address" },
    { name: "policy", type: "AgentPolicy" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  AgentPolicy: [
    { name: "validAfter", type: "uint48" },
    { name: "validUntil", type: "uint48" },
    { name: "period", type: "uint32" },
    { name: "activeHours", type: "uint168" },
    { name: "maxCallsPerPeriod", type: "uint32" },
    { name: "gasBudget", type: "uint256" },
    { name: "mandate", type: "bytes32" },
    { name: "limits", type: "TokenLimit[]" },
    { name: "merchants", type: "address[]" },
  ],
  TokenLimit: [
    { name: "token", type: "address" },
    { name: "perPayment", type: "uint256" },
    { name: "perPeriod", type: "uint256" },
    { name: "lifetime", type: "uint256" },
    { name: "laneCount", type: "uint32" },
    { name: "laneMax", type: "uint256" },
  ],
} as const;

/** A grant the owner signed, ready for anyone to submit with `submitAgentGrant`. */
export type SignedAgentGrant = {
  /** The Stopline account. */
  address: Address;
  chainId: number;
  agentId: Hex;
  key: Address;
  policy: AgentPolicy;
  /** The account's `grantNonce()` the signature is bound to (each grant by signature uses the next one). */
  nonce: bigint;
  /** Last second (unix) at which the grant may be submitted. */
  deadline: bigint;
  /** The owner's EIP-712 signature. */
  signature: Hex;
};

export type AgentGrantTypedDataParameters = Omit<SignedAgentGrant, "signature">;

/**
 * The full EIP-712 typed data of a grant (domain `{ name: "Stopline", version: "1", chainId, verifyingContract }`),
 * for a wallet to sign or for `hashTypedData`.
 */
export function getAgentGrantTypedData(
  parameters: AgentGrantTypedDataParameters,
): TypedDataDefinition<typeof agentGrantTypes, "AgentGrant"> {
  const { address, chainId, agentId, key, policy, nonce, deadline } = parameters;
  return {
    domain: { name: "Stopline", version: "1", chainId, verifyingContract: address },
    types: agentGrantTypes,
    primaryType: "AgentGrant",
    message: {
      agentId,
      key,
      policy: {
        ...toContractPolicy(policy),
        limits: [...toContractPolicy(policy).limits],
        merchants: [...policy.merchants],
      },
      nonce,
      deadline,
    },
  };
}

export type SignAgentGrantParameters<account extends Account | undefined = Account | undefined> = {
  /** The Stopline account. */
  address: Address;
  agentId: Hex;
  key: Address;
  policy: AgentPolicy;
  /** Until when the grant may be submitted: a Date or unix seconds. */
  deadline: Date | number | bigint;
  /** The grant nonce to sign; default: the account's current `grantNonce()`. */
  nonce?: bigint | undefined;
  /** Chain id of the account; default: the client's chain. */
  chainId?: number | undefined;
} & (account extends undefined
  ? { /** The owner key that signs. */ account: Account | Address }
  : { /** The owner key that signs; default: the client's account. */ account?: Account | Address | undefined });

export type SignAgentGrantReturnType = SignedAgentGrant;

export type SignAgentGrantErrorType = SignTypedDataErrorType | ReadContractErrorType | InvalidPolicyInputErrorType;

/**
 * The owner signs a grant (EIP-712, typed data {@link agentGrantTypes}) that anyone, e.g. the agent itself, can then
 * submit with `submitAgentGrant`: no owner transaction needed. The signature is bound to the account's current grant
 * nonce, so of several grants signed at the same nonce only the first submitted works.
 *
 * @example
 * const grant = await signAgentGrant(ownerClient, {
 *   address: account, agentId, key: agentKey.address, policy, deadline: new Date(Date.now() + 3_600_000),
 * })
 * // hand `grant` to the agent, which runs: await submitAgentGrant(agentClient, { grant })
 */
export async function signAgentGrant<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: SignAgentGrantParameters<account>,
): Promise<SignAgentGrantReturnType> {
  const { agentId, key, policy } = parameters;
  const address = requireAddress(parameters.address);
  requireAgentId(agentId);
  requireKeyAddress(key, "key");
  validatePolicy(policy, { address });
  const d = parameters.deadline;
  const deadline = d instanceof Date ? BigInt(Math.floor(d.getTime() / 1000)) : BigInt(d);
  const nonce =
    parameters.nonce ??
    (await getAction(
      client,
      readContract,
      "readContract",
    )({ address, abi: agentAccountAbi, functionName: "grantNonce" }));
  const chainId = parameters.chainId ?? client.chain?.id ?? (await getAction(client, getChainId, "getChainId")({}));
  const unsigned = { address, chainId, agentId, key, policy, nonce, deadline };
  const signature = await getAction(
    client,
    signTypedData,
    "signTypedData",
  )({ ...getAgentGrantTypedData(unsigned), account: parameters.account } as never);
  return { ...unsigned, signature };
}

import type { Account, Chain, Client, Hash, Transport } from "viem";

import { type OwnerActionErrorType, type WriteOptions, send } from "./internal.js";
import type { SignedAgentGrant } from "./signAgentGrant.js";
import { toContractPolicy } from "../types.js";

export type SubmitAgentGrantParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
> = WriteOptions<chain, account> & {
  /** The grant the owner signed with `signAgentGrant`. */
  grant: SignedAgentGrant;
};

export type SubmitAgentGrantReturnType = Hash;

export type SubmitAgentGrantErrorType = OwnerActionErrorType;

/**
 * Submits a grant the owner signed (`grantAgentBySig`). Anyone may send it (the agent, a relayer); it pays the gas.
 *
 * @throws `GrantExpiredError` (past the deadline), `InvalidGrantSignatureError` (not the owner's, or its nonce was
 *   used), then the refusals of `grantAgent`.
 * @example
 * const hash = await submitAgentGrant(agentClient, { grant })
 */
export async function submitAgentGrant<chain extends Chain | undefined, account extends Account | undefined>(
  client: Client<Transport, chain, account>,
  parameters: SubmitAgentGrantParameters<chain, account>,
): Promise<SubmitAgentGrantReturnType> {
  const { grant } = parameters;
  return send(client, { ...parameters, address: grant.address }, "grantAgentBySig", [
    grant.agentId,
    grant.key,
    toContractPolicy(grant.policy),
    grant.deadline,
    grant.signature,
  ]);
}

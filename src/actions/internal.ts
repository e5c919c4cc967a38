// Shared plumbing of the owner actions: the write options they take and the one place they send from.
import type {
  Account,
  Address,
  Chain,
  Client,
  DeriveChain,
  FormattedTransactionRequest,
  GetChainParameter,
  Hash,
  IsUndefined,
  Transport,
  UnionEvaluate,
  UnionPick,
  WriteContractErrorType,
} from "viem";
import { isAddress } from "viem";
import { writeContract } from "viem/actions";
import { getAction } from "viem/utils";

import { agentAccountAbi } from "../abis/generated.js";
import { STOPLINE_ERRORS, decodeGuardrailViolation } from "../errors/decode.js";
import { type GuardrailViolationErrorType, toGuardrailError } from "../errors/guardrail.js";
import { InvalidPolicyInputError, type InvalidPolicyInputErrorType } from "../errors/policy.js";
import { isAgentId } from "../utils/agentId.js";

/** The signer (`account`, required when the client has none), `chain`, and optional gas and fee fields. */
export type WriteOptions<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
  chainOverride extends Chain | undefined = Chain | undefined,
> = UnionEvaluate<
  UnionPick<
    FormattedTransactionRequest<DeriveChain<chain, chainOverride>>,
    "gas" | "gasPrice" | "maxFeePerGas" | "maxPriorityFeePerGas" | "nonce"
  >
> &
  GetChainParameter<chain, chainOverride> &
  (IsUndefined<account> extends true
    ? { /** Who signs and sends (the owner key, or the guardian). */ account: Account | Address }
    : { /** Who signs and sends; default: the client's account. */ account?: Account | Address | undefined });

/**
 * What an owner action throws: `InvalidPolicyInputError` before sending, a guardrail error class (a
 * `GuardrailViolationError`) for the contract's refusals, viem's errors for the rest.
 */
export type OwnerActionErrorType = InvalidPolicyInputErrorType | GuardrailViolationErrorType | WriteContractErrorType;

/** Parameters every owner action takes: the Stopline account's address and the write options. */
export type AccountWriteParameters<
  chain extends Chain | undefined = Chain | undefined,
  account extends Account | undefined = Account | undefined,
  chainOverride extends Chain | undefined = Chain | undefined,
> = WriteOptions<chain, account, chainOverride> & {
  /** The Stopline account. */
  address: Address;
};

/** Rethrows a Stopline refusal as its guardrail error class (the viem error as its cause); anything else unchanged. */
export function toActionError(e: unknown): unknown {
  const v = decodeGuardrailViolation(e);
  return v && STOPLINE_ERRORS.has(v.name) ? toGuardrailError(v, { cause: e as Error }) : e;
}

/** Sends `functionName(args)` to `to` (default ABI: the account's). */
export async function send(
  client: Client<Transport, Chain | undefined, Account | undefined>,
  parameters: Record<string, unknown> & { address?: Address | undefined },
  functionName: string,
  args: readonly unknown[],
  abi: readonly unknown[] = agentAccountAbi,
  to?: Address,
): Promise<Hash> {
  const { account, chain, gas, gasPrice, maxFeePerGas, maxPriorityFeePerGas, nonce } = parameters;
  const address = to ?? requireAddress(parameters.address);
  try {
    return await getAction(
      client,
      writeContract,
      "writeContract",
    )({
      address,
      abi,
      functionName,
      args,
      account,
      chain,
      gas,
      gasPrice,
      maxFeePerGas,
      maxPriorityFeePerGas,
      nonce,
    } as never);
  } catch (e) {
    throw toActionError(e);
  }
}

export function requireAddress(address: Address | undefined): Address {
  if (address === undefined) {
    throw new InvalidPolicyInputError(
      "address (the Stopline account) is missing. Pass it, or give it once to stoplineActions({ address }).",
      { field: "address" },
    );
  }
  return address;
}

export function requireAgentId(agentId: unknown, field = "agentId"): void {
  if (!isAgentId(agentId)) {
    throw new InvalidPolicyInputError(
      `${field} ${JSON.stringify(agentId)} is not a valid agent id: it must be 32 bytes of hex whose low 192 bits (its nonce key) are not all zero.`,
      { field },
    );
  }
}

/** Refuses anything that is not a checksummed (or all-lowercase) 20-byte address, naming the field. */
export function requireKeyAddress(value: unknown, field: string): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: true })) {
    throw new InvalidPolicyInputError(
      `${field} ${JSON.stringify(value)} is not an address (or its checksum is wrong).`,
      {
        field,
      },
    );
  }
  return value;
}

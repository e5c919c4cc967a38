import type { Address, Chain, Client, Hex, ReadContractErrorType, Transport } from "viem";
import { readContract } from "viem/actions";
import { getAction } from "viem/utils";

import { agentAccountAbi } from "../abis/generated.js";
import { explainGuardrailViolation } from "../errors/explain.js";
import type { InvalidPolicyInputErrorType } from "../errors/policy.js";
import type { GuardrailViolation } from "../errors/violation.js";
import type { Execution, TokenMetadata } from "../types.js";
import { requireAddress, requireAgentId } from "./internal.js";

export type CheckAgentCallsParameters = {
  /** The Stopline account. */
  address: Address;
  agentId: Hex;
  /** The batch the agent would send. */
  calls: readonly Execution[];
  /** The time for relative times in the message (unix seconds or a Date); default: the latest block's timestamp. */
  now?: Date | number | bigint | undefined;
  /** Token metadata already known (the rest is read on-chain). */
  tokens?: Readonly<Record<string, TokenMetadata>> | undefined;
  /** Names for addresses in the message. */
  labels?: Readonly<Record<string, string>> | undefined;
};

/** The violation the batch would hit right now, or `undefined` when it would pass. */
export type CheckAgentCallsReturnType = GuardrailViolation | undefined;

export type CheckAgentCallsErrorType = ReadContractErrorType | InvalidPolicyInputErrorType;

/**
 * Asks the account "may the agent send this batch right now?" (the `checkAgentCalls` view) and returns the decoded,
 * explained violation, or `undefined` if the batch would pass. Like the view, it cannot know the caller (no key check)
 * and does not cover the UserOperation-only checks (nonce key, paymaster, gas budget).
 *
 * @example
 * const v = await checkAgentCalls(publicClient, { address: account, agentId, calls })
 * if (v) console.log(v.message) // "Payment of 30.00 USDC to 0x9965…A4dc is over the per-payment cap of 25.00 USDC."
 */
export async function checkAgentCalls(
  client: Client<Transport, Chain | undefined>,
  parameters: CheckAgentCallsParameters,
): Promise<CheckAgentCallsReturnType> {
  const address = requireAddress(parameters.address);
  const { agentId, calls, now, tokens, labels } = parameters;
  requireAgentId(agentId);
  const violation = await getAction(
    client,
    readContract,
    "readContract",
  )({ address, abi: agentAccountAbi, functionName: "checkAgentCalls", args: [agentId, calls] });
  if (violation === "0x") return undefined;
  return (
    (await explainGuardrailViolation(client, violation, { address, calls, now, tokens, labels })) ?? {
      // the batch would not pass, for a reason this toolkit does not know (a newer contract?)
      name: "UnknownViolation",
      data: violation,
      message: `The account would refuse the batch with an error this toolkit does not know (${violation.slice(0, 10)}).`,
    }
  );
}

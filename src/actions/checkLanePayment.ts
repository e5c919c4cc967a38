import {
  type Address,
  type Chain,
  type Client,
  type Hex,
  type ReadContractErrorType,
  type Transport,
  encodeFunctionData,
  erc20Abi,
} from "viem";
import { readContract } from "viem/actions";
import { getAction } from "viem/utils";

import { agentAccountAbi } from "../abis/generated.js";
import { explainGuardrailViolation } from "../errors/explain.js";
import type { InvalidPolicyInputErrorType } from "../errors/policy.js";
import type { GuardrailViolation } from "../errors/violation.js";
import type { TokenMetadata } from "../types.js";
import { requireAddress, requireAgentId } from "./internal.js";

export type CheckLanePaymentParameters = {
  /** The Stopline account (the payer). */
  address: Address;
  agentId: Hex;
  /** The EIP-3009 token of the lane. */
  token: Address;
  /** The lane slot the payment would use. */
  slot: bigint;
  /** The merchant paid. */
  to: Address;
  /** Token units. */
  value: bigint;
  /** EIP-3009 window (unix seconds). */
  validAfter: bigint;
  validBefore: bigint;
  /** The time for relative times in the message; default: the latest block's timestamp. */
  now?: Date | number | bigint | undefined;
  tokens?: Readonly<Record<string, TokenMetadata>> | undefined;
  labels?: Readonly<Record<string, string>> | undefined;
};

/** The violation the lane payment would hit right now, or `undefined` when the account would accept it. */
export type CheckLanePaymentReturnType = GuardrailViolation | undefined;

export type CheckLanePaymentErrorType = ReadContractErrorType | InvalidPolicyInputErrorType;

/**
 * Asks the account "would my lane signature for this x402 payment be accepted right now?" (the `checkLanePayment`
 * view) and returns the decoded, explained violation, or `undefined` when it would. A facilitator only ever answers
 * `invalid_exact_evm_signature`; this names the limit (`LaneSlotUnavailable`, `PerPaymentCapExceeded`,
 * `MerchantNotAllowed`, `LaneNotOpen`, `AgentsPaused`, ...). Like `isValidSignature`, it does not check who signed.
 *
 * @example
 * const v = await checkLanePayment(publicClient, { address: account, agentId, token: usdc, slot: 3n, to, value, validAfter, validBefore })
 * if (v) console.log(v.message) // "Lane slot 3 for USDC is already used or out of range: the lane holds 3 slots this period (0 to 2)."
 */
export async function checkLanePayment(
  client: Client<Transport, Chain | undefined>,
  parameters: CheckLanePaymentParameters,
): Promise<CheckLanePaymentReturnType> {
  const address = requireAddress(parameters.address);
  const { agentId, token, slot, to, value, validAfter, validBefore, now, tokens, labels } = parameters;
  requireAgentId(agentId);
  const violation = await getAction(
    client,
    readContract,
    "readContract",
  )({
    address,
    abi: agentAccountAbi,
    functionName: "checkLanePayment",
    args: [agentId, token, slot, to, value, validAfter, validBefore],
  });
  if (violation === "0x") return undefined;
  // the payment as the transfer it amounts to, so that the sentence names the merchant
  const calls = [
    {
      target: token,
      value: 0n,
      callData: encodeFunctionData({ abi: erc20Abi, functionName: "transfer", args: [to, value] }),
    },
  ];
  return (
    (await explainGuardrailViolation(client, violation, { address, calls, now, tokens, labels })) ?? {
      name: "UnknownViolation",
      data: violation,
      message: `The account would refuse the lane payment with an error this toolkit does not know (${violation.slice(0, 10)}).`,
    }
  );
}

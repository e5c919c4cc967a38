import type { Account, Address, Chain, Client, Hash, Hex, Transport } from "viem";
import { readContract, writeContract } from "viem/actions";
import { getAction } from "viem/utils";

import { agentAccountAbi } from "./abi.js";
import { AgentCallsRefusedError } from "./errors.js";
import { type Call, type Execution, toExecution } from "./executions.js";

export type PayAsAgentParameters = {
  /** The Stopline account the agent spends from. */
  address: Address;
  /** The agent's id. */
  agentId: Hex;
  /** The batch: `erc20Payment(...)`, `ethPayment(...)` or any `Execution` / viem call. All or nothing. */
  calls: readonly (Execution | Call)[];
  /**
   * Ask the account's `checkAgentCalls` view first and throw `AgentCallsRefusedError` (with the raw `violation`) instead
   * of sending a transaction that would revert. Default `true`. The view skips the key check (`AgentUnknown`).
   */
  preflight?: boolean | undefined;
  /** The agent key that sends the transaction and pays its gas (default: the client's account). */
  account?: Account | Address | undefined;
  /** Chain override (default: the client's chain). */
  chain?: Chain | undefined;
  gas?: bigint | undefined;
  maxFeePerGas?: bigint | undefined;
  maxPriorityFeePerGas?: bigint | undefined;
  nonce?: number | undefined;
};

export type PayAsAgentReturnType = Hash;

export type PayAsAgentErrorType = AgentCallsRefusedError | Error;

/**
 * The direct agent path: the agent key itself sends `executeAsAgent(agentId, calls)` (and pays the gas). With
 * `preflight` (default) the account's `checkAgentCalls` view is asked first; a refusal throws
 * `AgentCallsRefusedError` carrying the raw `violation` bytes and nothing is sent.
 *
 * @returns The transaction hash.
 *
 * @example
 * import { createWalletClient, http } from "viem";
 *
 * const wallet = createWalletClient({ account: await loadAgentKey(path, password), chain, transport: http(rpc) });
 * try {
 *   const hash = await payAsAgent(wallet, {
 *     address: stoplineAccount,
 *     agentId,
 *     calls: [erc20Payment({ token: usdc, to: merchant, amount: 12_500_000n })],
 *   });
 * } catch (error) {
 *   if (error instanceof AgentCallsRefusedError) console.log(decodeGuardrailViolation(error)?.message);
 * }
 */
export async function payAsAgent(
  client: Client<Transport, Chain | undefined, Account | undefined>,
  parameters: PayAsAgentParameters,
): Promise<PayAsAgentReturnType> {
  const { address, agentId, preflight = true, account = client.account, chain = client.chain, ...tx } = parameters;
  const calls = parameters.calls.map(toExecution);

  if (preflight) {
    const violation = await getAction(
      client,
      readContract,
      "readContract",
    )({
      abi: agentAccountAbi,
      address,
      functionName: "checkAgentCalls",
      args: [agentId, calls],
    });
    if (violation !== "0x") throw new AgentCallsRefusedError({ violation, agentId, account: address });
  }

  return getAction(
    client,
    writeContract,
    "writeContract",
  )({
    abi: agentAccountAbi,
    address,
    functionName: "executeAsAgent",
    args: [agentId, calls],
    account: account ?? null,
    chain: chain ?? null,
    ...tx,
  } as Parameters<typeof writeContract>[1]);
}

// Finds a refusal on chain from a hash: a transaction (a failed direct call is replayed with eth_call to get its revert
// data; a handleOps bundle is read for UserOperationRevertReason) or a UserOperation (found by its hash in the
// EntryPoint's logs). Both then explain it with explainGuardrailViolation.
import {
  type Address,
  type Chain,
  type Client,
  type Hash,
  type Hex,
  type Transport,
  TransactionReceiptNotFoundError,
  decodeFunctionData,
  getAbiItem,
  isAddressEqual,
  parseEventLogs,
} from "viem";
import { call, getBlockNumber, getLogs, getTransaction, getTransactionReceipt } from "viem/actions";
import { getAction } from "viem/utils";

import { ENTRY_POINT_V08_ADDRESS, agentAccountAbi, entryPointV08Abi } from "../abis/generated.js";
import type { Execution } from "../types.js";
import type { BundledOp } from "./decode.js";
import { explainGuardrailViolation } from "./explain.js";
import type { GuardrailViolation } from "./violation.js";

export type ExplainTransactionParameters = {
  hash: Hash;
  /** The Stopline account, when the transaction's target is not the account itself. */
  address?: Address | undefined;
  /** The EntryPoint whose UserOperation events are read (default: the canonical v0.8 one). */
  entryPoint?: Address | undefined;
};

export type ExplainTransactionReturnType =
  | {
      hash: Hash;
      status: "success" | "reverted";
      blockNumber: bigint;
      /** The refusal: the failed call's revert reason, or the first refused UserOperation of a bundle. */
      violation: GuardrailViolation | undefined;
      /** For a bundle, the refused UserOperation. */
      userOpHash?: Hex | undefined;
      /** For a reverted transaction, whether replaying it with eth_call reverted too (it gave the revert data). */
      replayed?: boolean | undefined;
    }
  | undefined;

/**
 * Explains what a mined transaction had refused: for a `handleOps` bundle, its first UserOperation mined with
 * `success == false` (from `UserOperationRevertReason`); for a reverted transaction (e.g. a direct `executeAsAgent`),
 * the revert data, found by replaying the transaction with `eth_call` on the state before its block (transactions
 * earlier in the same block are not replayed, so the replay can differ from what happened). `undefined` when the node
 * knows no receipt for `hash`.
 *
 * @example
 * const r = await explainTransaction(publicClient, { hash })
 * if (r?.violation) console.log(r.violation.name, r.violation.message)
 */
export async function explainTransaction(
  client: Client<Transport, Chain | undefined>,
  parameters: ExplainTransactionParameters,
): Promise<ExplainTransactionReturnType> {
  const { hash } = parameters;
  const entryPoint = parameters.entryPoint ?? ENTRY_POINT_V08_ADDRESS;
  let receipt;
  try {
    receipt = await getAction(client, getTransactionReceipt, "getTransactionReceipt")({ hash });
  } catch (e) {
    if (e instanceof TransactionReceiptNotFoundError) return undefined;
    throw e;
  }
  const { status, blockNumber } = receipt;

  const events = parseEventLogs({
    abi: entryPointV08Abi,
    logs: receipt.logs.filter((l) => isAddressEqual(l.address, entryPoint)),
    eventName: "UserOperationEvent",
  });
  const failed = events.find(
    (e) => !e.args.success && (parameters.address === undefined || isAddressEqual(e.args.sender, parameters.address)),
  );
  if (failed) {
    const { userOpHash, sender } = failed.args;
    const violation = await explainGuardrailViolation(client, receipt, { address: sender, userOpHash });
    return { hash, status, blockNumber, violation, userOpHash };
  }
  if (status === "success") return { hash, status, blockNumber, violation: undefined };

  const tx = await getAction(client, getTransaction, "getTransaction")({ hash });
  const address = parameters.address ?? tx.to ?? undefined;
  let calls: readonly Execution[] | undefined;
  let ops: readonly BundledOp[] | undefined;
  try {
    const d = decodeFunctionData({ abi: [...agentAccountAbi, ...entryPointV08Abi], data: tx.input });
    if (d.functionName === "executeAsAgent") calls = (d.args as readonly [Hex, readonly Execution[]])[1];
    if (d.functionName === "handleOps") ops = (d.args as unknown as readonly [readonly BundledOp[]])[0];
  } catch {
    // not a call the toolkit knows: the revert data alone will do
  }
  try {
    await getAction(
      client,
      call,
      "call",
    )({
      account: tx.from,
      to: tx.to ?? undefined,
      data: tx.input,
      value: tx.value,
      gas: tx.gas,
      blockNumber: blockNumber > 0n ? blockNumber - 1n : 0n,
    });
  } catch (e) {
    const violation = address ? await explainGuardrailViolation(client, e, { address, calls, ops }) : undefined;
    return { hash, status, blockNumber, violation, replayed: true };
  }
  return { hash, status, blockNumber, violation: undefined, replayed: false };
}

export type ExplainUserOperationParameters = {
  userOpHash: Hex;
  /** First block to search (default: 100,000 blocks before `toBlock`, or 0). */
  fromBlock?: bigint | undefined;
  /** Last block to search (default: the latest). */
  toBlock?: bigint | undefined;
  /** Blocks per `eth_getLogs` request, searched from the newest (default 10,000; many providers cap the range). */
  blockRange?: bigint | undefined;
  /** The EntryPoint (default: the canonical v0.8 one). */
  entryPoint?: Address | undefined;
};

export type ExplainUserOperationReturnType =
  | {
      userOpHash: Hex;
      sender: Address;
      nonce: bigint;
      success: boolean;
      transactionHash: Hash;
      blockNumber: bigint;
      /** Why it failed at execution (`UserOperationRevertReason`, decoded); `undefined` when it succeeded. */
      violation: GuardrailViolation | undefined;
    }
  | undefined;

/**
 * Finds a mined UserOperation by its hash in the EntryPoint's `UserOperationEvent` logs and, if it failed at execution,
 * explains why (its `UserOperationRevertReason`). `undefined` when no such op was mined in the searched blocks. A
 * UserOperation refused in validation is never mined: decode the bundler's error for it instead.
 *
 * @example
 * const r = await explainUserOperation(publicClient, { userOpHash })
 * if (r && !r.success) console.log(r.violation?.message)
 */
export async function explainUserOperation(
  client: Client<Transport, Chain | undefined>,
  parameters: ExplainUserOperationParameters,
): Promise<ExplainUserOperationReturnType> {
  const { userOpHash } = parameters;
  const entryPoint = parameters.entryPoint ?? ENTRY_POINT_V08_ADDRESS;
  const range = parameters.blockRange ?? 10_000n;
  const toBlock = parameters.toBlock ?? (await getAction(client, getBlockNumber, "getBlockNumber")({}));
  const fromBlock = parameters.fromBlock ?? (toBlock > 100_000n ? toBlock - 100_000n : 0n);
  const event = getAbiItem({ abi: entryPointV08Abi, name: "UserOperationEvent" });
  for (let hi = toBlock; hi >= fromBlock; hi -= range) {
    const lo = hi - range + 1n > fromBlock ? hi - range + 1n : fromBlock;
    const logs = await getAction(
      client,
      getLogs,
      "getLogs",
    )({ address: entryPoint, event, args: { userOpHash }, fromBlock: lo, toBlock: hi });
    const log = logs[0];
    if (log) {
      const { sender, nonce, success } = log.args as { sender: Address; nonce: bigint; success: boolean };
      const transactionHash = log.transactionHash!;
      let violation: GuardrailViolation | undefined;
      if (!success) {
        const receipt = await getAction(
          client,
          getTransactionReceipt,
          "getTransactionReceipt",
        )({ hash: transactionHash });
        violation = await explainGuardrailViolation(client, receipt, { address: sender, userOpHash });
      }
      return { userOpHash, sender, nonce, success, transactionHash, blockNumber: log.blockNumber!, violation };
    }
    if (lo === fromBlock) break;
  }
  return undefined;
}

// Opening an agent's x402 lane when a new period starts: directly (the agent key or the owner sends openLane and pays
// the gas) or as a UserOperation on the agent's own nonce key (the account pays, charged to the agent's gas budget).
import {
  type Account,
  type Address,
  type Chain,
  type Client,
  type Hash,
  type Hex,
  type Transport,
  BaseError,
  encodeFunctionData,
  parseEventLogs,
} from "viem";
import type { SmartAccount } from "viem/account-abstraction";
import { getBlock, readContract, waitForTransactionReceipt } from "viem/actions";
import { getAction } from "viem/utils";

import { agentAccountAbi } from "../abis/generated.js";
import { STOPLINE_ERRORS } from "../errors/decode.js";
import { explainGuardrailViolation } from "../errors/explain.js";
import { GuardrailViolationError, toGuardrailError } from "../errors/guardrail.js";
import { type OpenLaneParameters, openLane } from "../actions/openLane.js";

/** The lane of one agent and token: the period it is open for (0 = never opened), its slots and its laneMax. */
export type LaneState = { period: bigint; slots: bigint; laneMax: bigint };

/** Reads `lane(agentId, token)`. */
export async function readLane(
  client: Client<Transport, Chain | undefined>,
  p: { address: Address; agentId: Hex; token: Address },
): Promise<LaneState> {
  const [period, slots, laneMax] = await getAction(
    client,
    readContract,
    "readContract",
  )({ address: p.address, abi: agentAccountAbi, functionName: "lane", args: [p.agentId, p.token] });
  return { period, slots, laneMax };
}

/** `openLane(agentId, token)` as callData: what a UserOperation that opens the lane carries. */
export function openLaneCallData(agentId: Hex, token: Address): Hex {
  return encodeFunctionData({ abi: agentAccountAbi, functionName: "openLane", args: [agentId, token] });
}

/** A bundler client that can send and wait for UserOperations (viem's `createBundlerClient`). */
type BundlerLike = {
  sendUserOperation: (p: { account: SmartAccount; callData: Hex }) => Promise<Hash>;
  waitForUserOperationReceipt: (p: { hash: Hash; pollingInterval?: number; timeout?: number }) => Promise<{
    success: boolean;
    userOpHash: Hash;
    receipt: { transactionHash: Hash; logs: readonly unknown[] };
    logs: readonly unknown[];
  }>;
};

export type EnsureLaneOpenParameters = {
  /** The Stopline account. */
  address: Address;
  agentId: Hex;
  /** The EIP-3009 token of the lane. */
  token: Address;
  /**
   * Who sends `openLane` directly: the agent's key or the owner (default: the client's account). Ignored when
   * `bundlerClient` is given.
   */
  account?: Account | Address | undefined;
  /**
   * Send `openLane` as a UserOperation through this bundler instead, with `smartAccount` (from
   * `toStoplineAgentAccount`): the agent's nonce key, paymaster rule and gas budget apply.
   */
  bundlerClient?: BundlerLike | undefined;
  smartAccount?: SmartAccount | undefined;
};

export type EnsureLaneOpenReturnType = LaneState & {
  /** Whether this call opened the lane (false: it was already open, or closed, for the current period). */
  opened: boolean;
  /** The period the chain is in now (the end of the spending period, unix seconds). */
  currentPeriod: bigint;
  /** The transaction that opened it (the bundle's, for a UserOperation). */
  transactionHash?: Hash | undefined;
  userOpHash?: Hash | undefined;
  /** From `LaneOpened`: the period settled by this opening, its used slots and what went back to the lifetime counter. */
  settledPeriod?: bigint | undefined;
  usedInSettled?: bigint | undefined;
  givenBack?: bigint | undefined;
};

export type EnsureLaneOpenErrorType = BaseError;

/** The account's refusal as its guardrail error, explained with what the chain says (token symbol, policy). */
async function refusal(client: Client<Transport, Chain | undefined>, address: Address, e: unknown): Promise<unknown> {
  const v = await explainGuardrailViolation(client, e, { address });
  return v && STOPLINE_ERRORS.has(v.name) ? toGuardrailError(v, { cause: e instanceof Error ? e : undefined }) : e;
}

/**
 * Makes sure the agent's x402 lane for `token` is open for the current period: reads `lane()` and
 * `lanePeriodOf(latest block)`, and when the lane was opened for an earlier period (or never), sends `openLane`, which
 * settles the previous period (gives back its unused hold) and reserves this period's slots. Call it before paying
 * over x402 when a period may have started; the Stopline x402 scheme does with `autoOpenLane`.
 *
 * @throws the account's refusal as its guardrail error (`LaneNotEnabledError`, `AgentsPausedError`, ...).
 * @example
 * // the agent key pays the gas
 * await ensureLaneOpen(agentWallet, { address: account, agentId, token: usdc })
 * // or as a UserOperation, charged to the agent's gas budget
 * await ensureLaneOpen(publicClient, { address: account, agentId, token: usdc, bundlerClient, smartAccount })
 */
export async function ensureLaneOpen(
  client: Client<Transport, Chain | undefined, Account | undefined>,
  parameters: EnsureLaneOpenParameters,
): Promise<EnsureLaneOpenReturnType> {
  const { address, agentId, token, bundlerClient, smartAccount } = parameters;
  const read = getAction(client, readContract, "readContract");
  const now = (await getAction(client, getBlock, "getBlock")({})).timestamp;
  const [currentPeriod, before] = await Promise.all([
    read({ address, abi: agentAccountAbi, functionName: "lanePeriodOf", args: [agentId, now] }),
    readLane(client, { address, agentId, token }),
  ]);
  if (before.period >= currentPeriod) return { ...before, opened: false, currentPeriod };

  let transactionHash: Hash;
  let userOpHash: Hash | undefined;
  let logs: readonly unknown[];
  if (bundlerClient !== undefined) {
    if (smartAccount === undefined) {
      throw new BaseError("ensureLaneOpen: a bundlerClient needs the agent's smartAccount (toStoplineAgentAccount).");
    }
    let receipt: Awaited<ReturnType<BundlerLike["waitForUserOperationReceipt"]>>;
    try {
      const hash = await bundlerClient.sendUserOperation({
        account: smartAccount,
        callData: openLaneCallData(agentId, token),
      });
      receipt = await bundlerClient.waitForUserOperationReceipt({ hash });
    } catch (e) {
      throw await refusal(client, address, e);
    }
    if (!receipt.success) {
      const e = await refusal(client, address, receipt);
      throw e === receipt ? new BaseError(`The openLane UserOperation ${receipt.userOpHash} failed.`) : e;
    }
    userOpHash = receipt.userOpHash;
    transactionHash = receipt.receipt.transactionHash;
    logs = receipt.receipt.logs;
  } else {
    try {
      transactionHash = await openLane(client, {
        address,
        agentId,
        token,
        account: parameters.account ?? client.account,
        chain: client.chain,
      } as OpenLaneParameters);
    } catch (e) {
      // the action names the refusal; explain it again with what the chain knows (token symbol, policy)
      throw await refusal(client, address, e instanceof GuardrailViolationError ? (e.cause ?? e) : e);
    }
    const receipt = await getAction(
      client,
      waitForTransactionReceipt,
      "waitForTransactionReceipt",
    )({
      hash: transactionHash,
    });
    if (receipt.status !== "success") throw new BaseError(`The openLane transaction ${transactionHash} reverted.`);
    logs = receipt.logs;
  }
  const opened = parseEventLogs({ abi: agentAccountAbi, logs: logs as never, eventName: "LaneOpened" }).find(
    (l) => l.address.toLowerCase() === address.toLowerCase() && l.args.agentId.toLowerCase() === agentId.toLowerCase(),
  );
  const after = await readLane(client, { address, agentId, token });
  return {
    ...after,
    opened: opened !== undefined,
    currentPeriod,
    transactionHash,
    userOpHash,
    settledPeriod: opened?.args.settledPeriod,
    usedInSettled: opened?.args.usedInSettled,
    givenBack: opened?.args.givenBack,
  };
}

import { type Address, type Chain, type Client, type Hex, type Transport, decodeFunctionData } from "viem";
import { getBlock, getTransaction, readContract } from "viem/actions";
import { getAction } from "viem/utils";

import { agentAccountAbi, entryPointV08Abi } from "../abis/generated.js";
import type { AgentPolicy, TokenMetadata } from "../types.js";
import { lookupToken, readTokenMetadata } from "../utils/tokens.js";
import { type BundledOp, type DecodeGuardrailViolationOptions, decodeGuardrailViolation } from "./decode.js";
import type { GuardrailViolation } from "./violation.js";

export type ExplainGuardrailViolationParameters = Omit<DecodeGuardrailViolationOptions, "policy"> & {
  /** The Stopline account that refused. */
  address: Address;
};

export type ExplainGuardrailViolationReturnType = GuardrailViolation | undefined;

/**
 * {@link decodeGuardrailViolation}, with what it cannot know read from the chain: the agent's policy (`getAgent`, for
 * "20.00 of 100.00 USDC left", the period's name, the gas budget, the validity window and the next allowed hour), the
 * token's symbol and decimals, and the time (the latest block's timestamp unless `now` is given). Reads that fail are
 * skipped; like the decoder, it returns `undefined` for what it cannot decode and never throws.
 *
 * @example
 * try {
 *   await payAsAgent(agentClient, { address: account, agentId, calls })
 * } catch (e) {
 *   const v = await explainGuardrailViolation(publicClient, e, { address: account })
 *   console.log(v?.message)
 *   // Payment of 30.00 USDC to 0x9965…A4dc would exceed the daily cap: 20.00 of 100.00 USDC left, resets in 3 h 12 min (2026-11-28 00:00 UTC).
 * }
 */
export async function explainGuardrailViolation(
  client: Client<Transport, Chain | undefined>,
  error: unknown,
  parameters: ExplainGuardrailViolationParameters,
): Promise<ExplainGuardrailViolationReturnType> {
  const { address, ...opts } = parameters;
  if (opts.ops === undefined) opts.ops = await bundleOf(client, error);
  const first = decodeGuardrailViolation(error, opts);
  if (!first) return undefined;
  try {
    const read = getAction(client, readContract, "readContract");
    const policy: AgentPolicy | undefined = first.agentId
      ? await read({ address, abi: agentAccountAbi, functionName: "getAgent", args: [first.agentId] })
          .then(([, , p]) => p as AgentPolicy)
          .catch(() => undefined)
      : undefined;
    const wanted = new Set<Address>();
    if (first.token) wanted.add(first.token);
    // a refused call on a listed token: name it by its symbol
    if (first.target && policy?.limits.some((l) => l.token.toLowerCase() === first.target!.toLowerCase())) {
      wanted.add(first.target);
    }
    const tokens: Record<string, TokenMetadata> = { ...opts.tokens };
    await Promise.all(
      [...wanted]
        .filter((t) => !lookupToken(opts.tokens, t))
        .map((t) =>
          readTokenMetadata(client, t)
            .then((m) => void (tokens[t] = m))
            .catch(() => undefined),
        ),
    );
    const now =
      opts.now ??
      (await getAction(
        client,
        getBlock,
        "getBlock",
      )({})
        .then((b) => b.timestamp)
        .catch(() => undefined));
    return decodeGuardrailViolation(error, { ...opts, tokens, policy, now }) ?? first;
  } catch {
    return first;
  }
}

/** For a receipt: the ops of its `handleOps` transaction, so that a refusal at execution names its merchant. */
async function bundleOf(
  client: Client<Transport, Chain | undefined>,
  error: unknown,
): Promise<readonly BundledOp[] | undefined> {
  try {
    const r = error as { logs?: unknown; transactionHash?: Hex; receipt?: { transactionHash?: Hex } };
    if (r === null || typeof r !== "object" || !Array.isArray(r.logs)) return undefined;
    const hash = r.transactionHash ?? r.receipt?.transactionHash;
    if (!hash) return undefined;
    const tx = await getAction(client, getTransaction, "getTransaction")({ hash });
    const d = decodeFunctionData({ abi: entryPointV08Abi, data: tx.input });
    return d.functionName === "handleOps" ? d.args[0] : undefined;
  } catch {
    return undefined;
  }
}

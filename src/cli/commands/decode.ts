import { type Hex, isHex, zeroAddress } from "viem";

import { decodeGuardrailViolation } from "../../errors/decode.js";
import { explainGuardrailViolation } from "../../errors/explain.js";
import { explainTransaction, explainUserOperation } from "../../errors/lookup.js";
import type { GuardrailViolation } from "../../errors/violation.js";
import { type Command, type Context, shown } from "../context.js";
import { CliError, UsageError, violationLine } from "../errors.js";
import { ENV } from "../secrets.js";

function show(ctx: Context, v: GuardrailViolation, json: Record<string, unknown>) {
  ctx.print(violationLine(v), { ...json, violation: v });
}

const command: Command = {
  name: "decode",
  summary: "explain revert data, a transaction or a UserOperation",
  help: `Usage: stopline decode <revert data | transaction hash | UserOperation hash> [--from-block <n>]

Explains a refusal as the violation's name and one sentence ("PeriodCapExceeded: Payment of 30.00 USDC to 0x9965…A4dc
would exceed the daily cap: 20.00 of 100.00 USDC left, resets in 3 h 12 min (2026-11-28 00:00 UTC).").
  revert data         ABI-encoded error bytes (0x + selector + arguments), e.g. from a bundler's error or a
                      failed eth_call. Works offline; with --rpc-url, token symbols, the agent's policy (with
                      --account) and the chain's time make the sentence complete.
  transaction hash    a handleOps bundle: its first UserOperation that failed at execution
                      (UserOperationRevertReason); a reverted transaction (e.g. a direct executeAsAgent): replayed
                      with eth_call on the state before its block to get the revert data.
  UserOperation hash  found in the EntryPoint's UserOperationEvent logs, then its revert reason is decoded. A
                      UserOperation refused in validation is never mined: decode the bundler's error data instead.
Exit 0 when a refusal was decoded; 1 when there is nothing to decode (it succeeded, is unknown, or not found).

Flags:
  --from-block <n>   first block to search for a UserOperation hash (default: 100,000 blocks back)

Examples:
  stopline decode 0xb427087a0000000000000000000000000000000000000000000000000000000000000001...
  stopline decode 0x3f1a...c2 --rpc-url https://sepolia.base.org`,
  options: { "from-block": { type: "string" } },
  positionals: 1,
  async run(ctx) {
    const arg = ctx.positionals[0]?.trim();
    if (arg === undefined) throw new UsageError("give the revert data or the hash to decode");
    if (!isHex(arg, { strict: true }) || arg.length < 10 || arg.length % 2 !== 0) {
      throw new UsageError(`"${shown(arg)}" is not hex data or a 32-byte hash`);
    }
    const hasRpc = ctx.str("rpc-url") !== undefined || !!ctx.io.env[ENV.rpcUrl];
    const account = ctx.maybeAccount();

    if (arg.length !== 66) {
      // revert data (never 32 bytes: an error is 4 bytes plus 32-byte words)
      const v = hasRpc
        ? // the account's policy is read when --account is given; without it only token metadata is read
          await explainGuardrailViolation(ctx.publicClient(), arg as Hex, { address: account ?? zeroAddress })
        : decodeGuardrailViolation(arg as Hex);
      if (!v) throw new CliError(`error: ${arg.slice(0, 10)} is not an error this toolkit knows`);
      return show(ctx, v, { source: "data", data: arg });
    }

    if (!hasRpc) throw new UsageError(`a hash is looked up on chain: pass --rpc-url <url> or set ${ENV.rpcUrl}`);
    const client = ctx.publicClient();
    const tx = await explainTransaction(client, { hash: arg as Hex, address: account });
    if (tx) {
      const json = { source: "transaction", hash: tx.hash, status: tx.status, blockNumber: tx.blockNumber };
      if (tx.violation) return show(ctx, tx.violation, { ...json, userOpHash: tx.userOpHash });
      if (tx.status === "success") {
        throw new CliError(`nothing to decode: transaction ${arg} succeeded (block ${tx.blockNumber})`);
      }
      throw new CliError(
        tx.replayed
          ? `error: transaction ${arg} reverted (block ${tx.blockNumber}) with data this toolkit does not know`
          : `error: transaction ${arg} reverted (block ${tx.blockNumber}), but replaying it on the state before its block does not revert`,
      );
    }
    const fromFlag = ctx.str("from-block");
    if (fromFlag !== undefined && !/^\d+$/.test(fromFlag)) throw new UsageError("--from-block must be a block number");
    const toBlock = await client.getBlockNumber();
    const fromBlock = fromFlag !== undefined ? BigInt(fromFlag) : toBlock > 100_000n ? toBlock - 100_000n : 0n;
    const op = await explainUserOperation(client, { userOpHash: arg as Hex, fromBlock, toBlock });
    if (!op) {
      throw new CliError(
        `error: no transaction or UserOperation ${arg} found (searched blocks ${fromBlock} to ${toBlock}); a UserOperation refused in validation is never mined`,
      );
    }
    const json = {
      source: "userOperation",
      userOpHash: op.userOpHash,
      sender: op.sender,
      nonce: op.nonce,
      success: op.success,
      transactionHash: op.transactionHash,
      blockNumber: op.blockNumber,
    };
    if (op.success) {
      throw new CliError(
        `nothing to decode: UserOperation ${arg} succeeded (transaction ${op.transactionHash}, block ${op.blockNumber})`,
      );
    }
    if (!op.violation) throw new CliError(`error: UserOperation ${arg} failed with no revert reason`);
    return show(ctx, op.violation, json);
  },
};

export default command;

import { isAddressEqual, zeroAddress } from "viem";

import { agentAccountAbi } from "../../abis/generated.js";
import { updateAgentPolicy } from "../../actions/updateAgentPolicy.js";
import type { AgentPolicy } from "../../types.js";
import { type Command, parseAddressFlag, parseAgentId } from "../context.js";
import { describePolicy } from "../describe.js";
import { UsageError } from "../errors.js";
import { record } from "../output.js";
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags, policyToInput } from "../policyFlags.js";

const command: Command = {
  name: "update",
  summary: "change an agent's policy",
  help: `Usage: stopline update --agent-id <id> <policy flags> [--remove-token <token>]

Changes an agent's policy. It starts from the current policy; a --policy file replaces the fields it has, and each
flag changes its own field (a --token for a listed token replaces its caps, --merchant adds, --remove-merchant and
--remove-token remove). Counters stay: what was spent this period stays charged, a new --period takes effect
when the current period ends, and a new --gas-budget is a new total. Signed by the owner key.

Flags:
  --agent-id <id>          the agent (32 bytes of hex, or its nonce key as a number)
  --remove-token <token>   drop a token's limits (an address, or ETH)

${POLICY_HELP}

Example:
  stopline update --agent-id 1 --token USDC=0x5FbD...:30/100/1000 --gas-budget 0.2`,
  options: { "agent-id": { type: "string" }, "remove-token": { type: "string", multiple: true }, ...POLICY_OPTIONS },
  async run(ctx) {
    const address = ctx.account();
    const agentId = parseAgentId(ctx.require("agent-id", "the agent to update"));
    const client = ctx.publicClient();
    const [, , current] = (await client.readContract({
      address,
      abi: agentAccountAbi,
      functionName: "getAgent",
      args: [agentId],
    })) as readonly [unknown, boolean, AgentPolicy];
    const base = await policyToInput(client, current);
    for (const value of ctx.list("remove-token")) {
      const token = value.trim().toUpperCase() === "ETH" ? zeroAddress : parseAddressFlag("remove-token", value);
      const listed = (l: (typeof base.limits)[number]) =>
        isAddressEqual(l.token === "ETH" ? zeroAddress : l.token, token);
      if (!base.limits.some(listed)) {
        throw new UsageError(`--remove-token ${value.trim()} is not one of the policy's tokens`);
      }
      base.limits = base.limits.filter((l) => !listed(l));
    }
    const { policy, notes } = await policyFromFlags(ctx, { address, base, keepHours: current.activeHours });
    for (const n of notes) ctx.note(n);
    if (ctx.flag("dry-run")) {
      const rows = await describePolicy(client, policy);
      ctx.print(record([["account", address], ["agent id", agentId], ...rows, ["sent", "nothing (--dry-run)"]]), {
        dryRun: true,
        account: address,
        agentId,
        policy,
      });
      return;
    }
    const wallet = await ctx.walletClient();
    const hash = await updateAgentPolicy(wallet, { address, agentId, policy });
    const receipt = await ctx.mined(hash, "update");
    ctx.print(
      record([
        ["agent id", agentId],
        ["account", address],
        ["transaction", hash],
        ["block", String(receipt.blockNumber)],
      ]),
      { account: address, agentId, policy, transactionHash: hash, blockNumber: receipt.blockNumber },
    );
  },
};

export default command;

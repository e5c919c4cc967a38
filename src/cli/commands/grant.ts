import { grantAgent } from "../../actions/grantAgent.js";
import { randomAgentId } from "../../utils/agentId.js";
import { type Command, agentKeyAddress, parseAgentId } from "../context.js";
import { describePolicy } from "../describe.js";
import { record } from "../output.js";
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags } from "../policyFlags.js";

const command: Command = {
  name: "grant",
  summary: "grant an agent key a policy",
  help: `Usage: stopline grant (--key <address> | --keystore <file>) [--agent-id <id>] <policy flags>

Grants a new agent on the account (--account): its key may then pay only inside the policy. The policy is built
from a --policy file and/or the flags below, and checked in full before anything is sent. Signed by the owner key.

Flags:
  --key <address>          the agent's key (its address; never a private key)
  --keystore <file>        or the keystore written by stopline keygen (only its address is read)
  --agent-id <id>          32 bytes of hex, or a number (1 is 0x00...01); default: random. Its low 192 bits
                           are the agent's nonce key and must be new to the account.

${POLICY_HELP}

Examples:
  stopline grant --keystore agent.json --agent-id 1 --token USDC=0x5FbD...:25/100/1000 \\
    --merchant 0x9965... --period 1d --gas-budget 0.05 --mandate "Buy API credits, at most 100 USDC a day"
  stopline grant --key 0x90F7... --policy policy.json --hours "Mon-Fri 09:00-17:30 Europe/Berlin" --valid-for 30d`,
  options: {
    key: { type: "string" },
    keystore: { type: "string" },
    "agent-id": { type: "string" },
    ...POLICY_OPTIONS,
  },
  async run(ctx) {
    const address = ctx.account();
    const key = agentKeyAddress(ctx, "key", "keystore");
    const given = ctx.str("agent-id");
    const agentId = given !== undefined ? parseAgentId(given) : randomAgentId();
    const { policy, notes } = await policyFromFlags(ctx, { address });
    for (const n of notes) ctx.note(n);
    if (ctx.flag("dry-run")) {
      const rows = await describePolicy(ctx.publicClient(), policy);
      ctx.print(
        record([["account", address], ["agent id", agentId], ["key", key], ...rows, ["sent", "nothing (--dry-run)"]]),
        { dryRun: true, account: address, agentId, key, policy },
      );
      return;
    }
    const wallet = await ctx.walletClient();
    const hash = await grantAgent(wallet, { address, agentId, key, policy });
    const receipt = await ctx.mined(hash, "grant");
    ctx.print(
      record([
        ["agent id", agentId],
        ["key", key],
        ["account", address],
        ["transaction", hash],
        ["block", String(receipt.blockNumber)],
      ]),
      { account: address, agentId, key, policy, transactionHash: hash, blockNumber: receipt.blockNumber },
    );
  },
};

export default command;

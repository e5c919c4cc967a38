import { revokeAgent } from "../../actions/revokeAgent.js";
import { type Command, parseAgentId } from "../context.js";
import { record } from "../output.js";

const command: Command = {
  name: "revoke",
  summary: "revoke an agent for good",
  help: `Usage: stopline revoke --agent-id <id>

Revokes an agent: it can never act again, and its id (and nonce key) can never be granted again. The owner or the
guardian may revoke (STOPLINE_OWNER_KEY or --owner-keystore holds the signer's key).

Flags:
  --agent-id <id>   the agent (32 bytes of hex, or its nonce key as a number)

Example:
  stopline revoke --agent-id 1`,
  options: { "agent-id": { type: "string" } },
  async run(ctx) {
    const address = ctx.account();
    const agentId = parseAgentId(ctx.require("agent-id", "the agent to revoke"));
    const wallet = await ctx.walletClient();
    const hash = await revokeAgent(wallet, { address, agentId });
    const receipt = await ctx.mined(hash, "revoke");
    ctx.print(
      record([
        ["revoked", agentId],
        ["transaction", hash],
        ["block", String(receipt.blockNumber)],
      ]),
      { account: address, agentId, revoked: true, transactionHash: hash, blockNumber: receipt.blockNumber },
    );
  },
};

export default command;

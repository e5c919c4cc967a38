import { pauseAgents } from "../../actions/pauseAgents.js";
import type { Command } from "../context.js";
import { record } from "../output.js";

const command: Command = {
  name: "pause",
  summary: "pause every agent of the account",
  help: `Usage: stopline pause

Pauses every agent of the account at once: each agent action is refused with AgentsPaused until the owner unpauses.
Owner actions keep working. The owner or the guardian may pause.

Example:
  stopline pause --account 0x...`,
  options: {},
  async run(ctx) {
    const address = ctx.account();
    const wallet = await ctx.walletClient();
    const hash = await pauseAgents(wallet, { address });
    const receipt = await ctx.mined(hash, "pause");
    ctx.print(
      record([
        ["paused", address],
        ["transaction", hash],
        ["block", String(receipt.blockNumber)],
      ]),
      { account: address, paused: true, transactionHash: hash, blockNumber: receipt.blockNumber },
    );
  },
};

export default command;

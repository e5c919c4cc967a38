import { unpauseAgents } from "../../actions/unpauseAgents.js";
import type { Command } from "../context.js";
import { record } from "../output.js";

const command: Command = {
  name: "unpause",
  summary: "let the agents act again",
  help: `Usage: stopline unpause

Lets the account's agents act again after stopline pause. Only the owner may unpause.

Example:
  stopline unpause --account 0x...`,
  options: {},
  async run(ctx) {
    const address = ctx.account();
    const wallet = await ctx.walletClient();
    const hash = await unpauseAgents(wallet, { address });
    const receipt = await ctx.mined(hash, "unpause");
    ctx.print(
      record([
        ["unpaused", address],
        ["transaction", hash],
        ["block", String(receipt.blockNumber)],
      ]),
      { account: address, paused: false, transactionHash: hash, blockNumber: receipt.blockNumber },
    );
  },
};

export default command;

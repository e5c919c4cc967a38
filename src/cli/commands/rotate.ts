import { rotateAgentKey } from "../../actions/rotateAgentKey.js";
import { type Command, agentKeyAddress, parseAgentId } from "../context.js";
import { record } from "../output.js";

const command: Command = {
  name: "rotate",
  summary: "replace an agent's key",
  help: `Usage: stopline rotate --agent-id <id> (--new-key <address> | --new-keystore <file>)

Replaces an agent's key. The old key stops working at once and can never be registered again; the agent's policy
and counters stay. Signed by the owner key.

Flags:
  --agent-id <id>          the agent (32 bytes of hex, or its nonce key as a number)
  --new-key <address>      the new key's address (never used by any agent before)
  --new-keystore <file>    or the keystore written by stopline keygen (only its address is read)

Example:
  stopline keygen --out agent-2.json && stopline rotate --agent-id 1 --new-keystore agent-2.json`,
  options: {
    "agent-id": { type: "string" },
    "new-key": { type: "string" },
    "new-keystore": { type: "string" },
  },
  async run(ctx) {
    const address = ctx.account();
    const agentId = parseAgentId(ctx.require("agent-id", "the agent whose key to replace"));
    const newKey = agentKeyAddress(ctx, "new-key", "new-keystore");
    const wallet = await ctx.walletClient();
    const hash = await rotateAgentKey(wallet, { address, agentId, newKey });
    const receipt = await ctx.mined(hash, "rotate");
    ctx.print(
      record([
        ["agent id", agentId],
        ["new key", newKey],
        ["transaction", hash],
        ["block", String(receipt.blockNumber)],
      ]),
      { account: address, agentId, key: newKey, transactionHash: hash, blockNumber: receipt.blockNumber },
    );
  },
};

export default command;

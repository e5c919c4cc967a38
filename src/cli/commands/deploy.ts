import { createAgentAccount } from "../../actions/createAgentAccount.js";
import { getAgentAccountAddress } from "../../actions/getAgentAccountAddress.js";
import { type Command, parseAddressFlag } from "../context.js";
import { UsageError } from "../errors.js";

const command: Command = {
  name: "deploy",
  summary: "create the owner's Stopline account (idempotent)",
  help: `Usage: stopline deploy [--owner <address>] [--salt <n>]

Creates the owner's Stopline account through the factory (--factory or STOPLINE_FACTORY) and prints its address.
The address is known before deployment (CREATE2) and is the same on every chain with the same factory. If the
account already exists, nothing is sent and the same address is printed (exit 0).

The transaction is signed by the owner key (STOPLINE_OWNER_KEY or --owner-keystore), which also pays its gas.

Flags:
  --owner <address>  the account's owner (default: the signing key's address); anyone may pay for the creation
  --salt <n>         a number, to give one owner several accounts (default 0)

Example:
  STOPLINE_FACTORY=0x... stopline deploy --rpc-url http://127.0.0.1:8545`,
  options: { owner: { type: "string" }, salt: { type: "string" } },
  async run(ctx) {
    const factory = ctx.factory();
    const saltText = ctx.str("salt") ?? "0";
    if (!/^\d+$/.test(saltText) || BigInt(saltText) >= 2n ** 256n) {
      throw new UsageError(`--salt must be a whole number from 0 to 2^256-1`);
    }
    const salt = BigInt(saltText);
    const wallet = await ctx.walletClient();
    const owner = ctx.str("owner") ? parseAddressFlag("owner", ctx.str("owner")!) : wallet.account.address;
    const client = ctx.publicClient();
    const address = await getAgentAccountAddress(client, { factory, owner, salt });
    const code = await client.getCode({ address });
    let transactionHash: `0x${string}` | undefined;
    if (code && code !== "0x") {
      ctx.note(`account ${address} already exists; nothing sent`);
    } else {
      const sent = await createAgentAccount(wallet, { factory, owner, salt });
      transactionHash = sent.hash;
      await ctx.mined(sent.hash, "deploy");
    }
    ctx.print(address, { address, owner, factory, salt, created: transactionHash !== undefined, transactionHash });
  },
};

export default command;

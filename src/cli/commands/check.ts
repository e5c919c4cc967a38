import { type Address, isAddress, isAddressEqual, parseUnits, zeroAddress } from "viem";

import { agentAccountAbi } from "../../abis/generated.js";
import { checkAgentCalls } from "../../actions/checkAgentCalls.js";
import { erc20Payment, ethPayment } from "../../agent/executions.js";
import type { AgentPolicy } from "../../types.js";
import { formatAmount, shortAddress } from "../../utils/format.js";
import { readTokenMetadata } from "../../utils/tokens.js";
import { type Command, parseAddressFlag, parseAgentId, shown } from "../context.js";
import { CliError, UsageError } from "../errors.js";

const command: Command = {
  name: "check",
  summary: "ask whether a payment would pass now",
  help: `Usage: stopline check --agent-id <id> --to <address> --amount <n> [--token <token>]

Asks the account whether the agent's payment would pass its guardrails right now (the checkAgentCalls view: pause,
revocation, token, merchant, caps, validity, hours, call limit) and sends nothing. Exit 0 and "OK" if it would
pass; exit 1 and the violation's name and message if it would be refused. The view cannot check the agent's key
or, for UserOperations, the gas budget.

Flags:
  --agent-id <id>    the agent (32 bytes of hex, or its nonce key as a number)
  --to <address>     the merchant to pay
  --amount <n>       in token units, e.g. 25 or 12.50
  --token <token>    an address, ETH, or the symbol of one of the agent's tokens (default: its only token)

Example:
  stopline check --agent-id 1 --to 0x9965... --amount 30 --token USDC`,
  options: {
    "agent-id": { type: "string" },
    to: { type: "string" },
    amount: { type: "string" },
    token: { type: "string" },
  },
  async run(ctx) {
    const address = ctx.account();
    const agentId = parseAgentId(ctx.require("agent-id", "the agent that would pay"));
    const to = parseAddressFlag("to", ctx.require("to", "the merchant to pay"));
    const amountText = ctx.require("amount", "the amount in token units, e.g. 25.50").trim();
    const client = ctx.publicClient();
    const [, , policy] = (await client.readContract({
      address,
      abi: agentAccountAbi,
      functionName: "getAgent",
      args: [agentId],
    })) as readonly [Address, boolean, AgentPolicy];

    const tokenFlag = ctx.str("token")?.trim();
    let token: Address;
    if (tokenFlag === undefined) {
      if (policy.limits.length !== 1) {
        throw new UsageError(
          `--token is missing: the agent has ${policy.limits.length} tokens; name the one to pay with`,
        );
      }
      token = policy.limits[0].token;
    } else if (tokenFlag.toUpperCase() === "ETH") token = zeroAddress;
    else if (isAddress(tokenFlag, { strict: false }) || tokenFlag.startsWith("0x")) {
      token = parseAddressFlag("token", tokenFlag);
    } else {
      const metas = await Promise.all(policy.limits.map((l) => readTokenMetadata(client, l.token)));
      const i = metas.findIndex((m) => m.symbol.toLowerCase() === tokenFlag.toLowerCase());
      if (i === -1) {
        throw new UsageError(
          `--token ${shown(tokenFlag)} is not the symbol of one of the agent's tokens; give its address`,
        );
      }
      token = policy.limits[i].token;
    }
    const meta = await readTokenMetadata(client, token);
    const m = /^\d+(\.(\d+))?$/.exec(amountText);
    if (!m || (m[2]?.length ?? 0) > meta.decimals) {
      throw new UsageError(
        `--amount "${shown(amountText)}" is not an amount of ${meta.symbol} (digits with at most ${meta.decimals} decimals)`,
      );
    }
    const amount = parseUnits(amountText, meta.decimals);
    const call = isAddressEqual(token, zeroAddress)
      ? ethPayment({ to, value: amount })
      : erc20Payment({ token, to, amount });
    const violation = await checkAgentCalls(client, { address, agentId, calls: [call] });
    if (violation) throw new CliError("", { violation });
    const formatted = `${formatAmount(amount, meta.decimals)} ${meta.symbol}`;
    ctx.print(`OK: Payment of ${formatted} to ${shortAddress(to)} would pass the agent's guardrails now.`, {
      ok: true,
      account: address,
      agentId,
      token,
      symbol: meta.symbol,
      amount,
      formatted,
      to,
    });
  },
};

export default command;

import { zeroAddress, zeroHash } from "viem";

import { ENTRY_POINT_V08_ADDRESS, agentAccountAbi, entryPointV08Abi } from "../../abis/generated.js";
import { getAgentStatus } from "../../actions/getAgentStatus.js";
import { formatAmount, formatRelative, formatUtc, periodAdjective } from "../../utils/format.js";
import { type Command, type Context, parseAgentId } from "../context.js";
import { describeHours } from "../describe.js";
import { record, table } from "../output.js";

async function accountStatus(ctx: Context) {
  const address = ctx.account();
  const client = ctx.publicClient();
  const read = (functionName: "owner" | "guardian" | "agentsPaused") =>
    client.readContract({ address, abi: agentAccountAbi, functionName });
  const [owner, guardian, paused, balance, deposit] = await Promise.all([
    read("owner"),
    read("guardian"),
    read("agentsPaused"),
    client.getBalance({ address }),
    client.readContract({
      address: ENTRY_POINT_V08_ADDRESS,
      abi: entryPointV08Abi,
      functionName: "balanceOf",
      args: [address],
    }),
  ]);
  ctx.print(
    record([
      ["account", address],
      ["owner", owner as string],
      ["guardian", guardian === zeroAddress ? "none" : (guardian as string)],
      ["agents", paused ? "paused" : "active"],
      ["balance", `${formatAmount(balance, 18)} ETH`],
      ["deposit", `${formatAmount(deposit, 18)} ETH at the EntryPoint`],
    ]),
    { account: address, owner, guardian, paused, balance, deposit },
  );
}

const command: Command = {
  name: "status",
  summary: "show an agent's limits, spending and state",
  help: `Usage: stopline status [--agent-id <id>]

With --agent-id: the agent's key, whether it may act now (and if not, why and when it next may), its validity,
period, active hours, calls, gas budget, merchants, and per token its caps, what it spent and what is left.
Without: the account's owner, guardian, whether agents are paused, its ETH and its EntryPoint deposit.
Times are judged at the chain's latest block. --json prints every number (amounts in token units).

Flags:
  --agent-id <id>   the agent (32 bytes of hex, or its nonce key as a number)

Example:
  stopline status --agent-id 1`,
  options: { "agent-id": { type: "string" } },
  async run(ctx) {
    const id = ctx.str("agent-id");
    if (id === undefined) return accountStatus(ctx);
    const address = ctx.account();
    const s = await getAgentStatus(ctx.publicClient(), { address, agentId: parseAgentId(id) });
    const at = (t: bigint) => `${formatUtc(t)} (${formatRelative(t, s.now)})`;
    let state: string;
    switch (s.blockedBy) {
      case undefined:
        state = "may act now";
        break;
      case "AgentsPaused":
        state = "paused (AgentsPaused): no agent may act until the owner unpauses";
        break;
      case "AgentIsRevoked":
        state = "revoked (AgentIsRevoked): it can never act again";
        break;
      case "AgentExpired":
        state = `expired (AgentExpired) at ${at(s.validUntil!)}`;
        break;
      default:
        state =
          s.blockedBy === "AgentNotYetValid"
            ? "not yet valid (AgentNotYetValid)"
            : "outside its active hours (OutsideActiveHours)";
        state += s.nextMayActAt !== undefined ? `; may act from ${at(s.nextMayActAt)}` : "; no allowed hour is left";
    }
    const p = s.policy;
    const rows: [string, string][] = [
      ["account", address],
      ["agent id", s.agentId],
      ["key", s.key ?? "none (revoked)"],
      ["state", state],
      ["valid from", s.validAfter === 0n ? "no start" : formatUtc(s.validAfter)],
      ["valid until", s.validUntil === undefined ? "no expiry" : formatUtc(s.validUntil)],
      ["period", `${periodAdjective(p.period)}, resets ${at(s.periodResetsAt)}`],
      ["hours", describeHours(p.activeHours)],
      [
        "calls",
        s.calls.limit === undefined
          ? "no limit (calls are counted only under a limit)"
          : `${s.calls.inPeriod} of ${s.calls.limit} this period`,
      ],
      [
        "gas budget",
        s.gas.budget.unlimited
          ? `unlimited (${s.gas.charged.formatted} charged)`
          : `${s.gas.remaining.formatted} left of ${s.gas.budget.formatted} (${s.gas.charged.formatted} charged)`,
      ],
      ["mandate", p.mandate === zeroHash ? "none" : p.mandate],
      ...p.merchants.map((m): [string, string] => ["merchant", m]),
    ];
    const amount = (x: { amount: bigint }, decimals: number) => formatAmount(x.amount, decimals);
    const tokens = table(
      [
        "TOKEN",
        "PER PAYMENT",
        "PERIOD CAP",
        "SPENT (PERIOD)",
        "LEFT (PERIOD)",
        "LIFETIME CAP",
        "SPENT (EVER)",
        "LEFT (EVER)",
      ],
      s.tokens.map((t) => [
        t.symbol,
        amount(t.perPayment, t.decimals),
        amount(t.perPeriod, t.decimals),
        amount(t.spentInPeriod, t.decimals),
        amount(t.remainingInPeriod, t.decimals),
        amount(t.lifetime, t.decimals),
        amount(t.spentInLifetime, t.decimals),
        amount(t.remainingInLifetime, t.decimals),
      ]),
    );
    ctx.print(`${record(rows)}\n\n${s.tokens.length > 0 ? tokens : "no tokens: the agent cannot pay"}`, s);
  },
};

export default command;

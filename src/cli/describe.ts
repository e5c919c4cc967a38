// A policy in words, for --dry-run and for status.
import { type PublicClient, isAddressEqual, zeroAddress, zeroHash } from "viem";

import { ANY_HOUR, NO_EXPIRY, UNLIMITED, UNLIMITED_CALLS } from "../constants.js";
import type { AgentPolicy } from "../types.js";
import { formatAmount, formatUtc, periodAdjective } from "../utils/format.js";
import { readTokenMetadata } from "../utils/tokens.js";

/** `any hour`, or the allowed UTC hours as ranges: `Mon-Fri 08:00-16:00 UTC (40 h a week)`. */
export function describeHours(mask: bigint): string {
  if (mask === ANY_HOUR) return "any hour";
  const on = (h: number) => ((mask >> BigInt(h)) & 1n) === 1n;
  const count = [...Array(168).keys()].filter(on).length;
  // runs of allowed hours, each as "Mon 08:00-16:00 UTC"; identical daily runs are grouped by day
  const runs: [number, number][] = [];
  for (let h = 0; h < 168; h++) {
    if (on(h) && (h === 0 || !on(h - 1))) runs.push([h, h]);
    if (on(h)) runs[runs.length - 1][1] = h;
  }
  const days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const pad = (n: number) => String(n).padStart(2, "0");
  const byTime = new Map<string, number[]>();
  const other: string[] = [];
  for (const [a, b] of runs) {
    if (Math.floor(a / 24) === Math.floor(b / 24)) {
      const key = `${pad(a % 24)}:00-${pad((b % 24) + 1)}:00`;
      byTime.set(key, [...(byTime.get(key) ?? []), Math.floor(a / 24)]);
    } else {
      other.push(`${days[Math.floor(a / 24)]} ${pad(a % 24)}:00-${days[Math.floor(b / 24)]} ${pad((b % 24) + 1)}:00`);
    }
  }
  const parts = [...byTime].map(([time, ds]) => {
    const contiguous = ds.length > 2 && ds.every((d, i) => i === 0 || d === ds[i - 1] + 1);
    const names = contiguous ? `${days[ds[0]]}-${days[ds[ds.length - 1]]}` : ds.map((d) => days[d]).join(",");
    return `${names} ${time}`;
  });
  return `${[...parts, ...other].join(", ")} UTC (${count} h a week)`;
}

/** Lines describing a policy, amounts with the tokens' symbols and decimals. */
export async function describePolicy(client: PublicClient, p: AgentPolicy): Promise<[string, string][]> {
  const rows: [string, string][] = [];
  rows.push(["valid from", p.validAfter === 0 ? "now (no start)" : formatUtc(p.validAfter)]);
  rows.push(["valid until", p.validUntil === NO_EXPIRY ? "no expiry" : formatUtc(p.validUntil)]);
  rows.push(["period", `${periodAdjective(p.period)} (${p.period} s)`]);
  rows.push(["hours", describeHours(p.activeHours)]);
  rows.push(["calls", p.maxCallsPerPeriod === UNLIMITED_CALLS ? "no limit" : `${p.maxCallsPerPeriod} per period`]);
  rows.push(["gas budget", p.gasBudget === UNLIMITED ? "unlimited" : `${formatAmount(p.gasBudget, 18)} ETH`]);
  rows.push(["mandate", p.mandate === zeroHash ? "none" : p.mandate]);
  for (const l of p.limits) {
    const meta = await readTokenMetadata(client, l.token);
    const f = (x: bigint) => (x === UNLIMITED ? "unlimited" : formatAmount(x, meta.decimals));
    const name = isAddressEqual(l.token, zeroAddress) ? "ETH" : `${meta.symbol} ${l.token}`;
    rows.push([
      "token",
      `${name}: ${f(l.perPayment)} per payment, ${f(l.perPeriod)} per period, ${f(l.lifetime)} lifetime`,
    ]);
  }
  if (p.limits.length === 0) rows.push(["token", "none"]);
  for (const m of p.merchants) rows.push(["merchant", m]);
  if (p.merchants.length === 0) rows.push(["merchant", "none"]);
  return rows;
}

/** UTC hour of the week of a unix time, as the contract computes it: h = (t / 3600 + 72) % 168, 0 = Monday 00:00 UTC. */
export function hourOfWeek(timestamp: bigint): number {
  return Number((timestamp / 3600n + 72n) % 168n);
}

/** The start of the first allowed UTC hour at or after `from` (unix seconds), or undefined if no hour is allowed. */
export function nextAllowedHour(activeHours: bigint, from: bigint): bigint | undefined {
  const hourStart = from - (from % 3600n);
  const h = hourOfWeek(from);
  if ((activeHours >> BigInt(h)) & 1n) return from;
  for (let k = 1; k <= 168; k++) {
    if ((activeHours >> BigInt((h + k) % 168)) & 1n) return hourStart + BigInt(k) * 3600n;
  }
  return undefined;
}

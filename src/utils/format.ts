// Formatting used by every human message of the toolkit: amounts, addresses, absolute and relative times.
import { type Address, type Hex, formatUnits, getAddress, isAddress } from "viem";

import { UNLIMITED } from "../constants.js";

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;

/**
 * A token amount as a decimal string with at least two decimals: `30000000n, 6` gives `"30.00"`, `1n, 6` gives
 * `"0.000001"`. `UNLIMITED` gives `"unlimited"`.
 */
export function formatAmount(amount: bigint, decimals: number): string {
  if (amount === UNLIMITED) return "unlimited";
  const s = formatUnits(amount, decimals);
  const dot = s.indexOf(".");
  if (dot === -1) return decimals === 0 ? s : `${s}.00`;
  return s.length - dot - 1 < 2 ? `${s}0` : s;
}

/** `0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9` gives `0xCf7E…0Fc9` (checksummed). Other hex: first 6, last 4. */
export function shortAddress(value: Address | Hex): string {
  const v = isAddress(value, { strict: false }) ? getAddress(value) : value;
  return v.length <= 12 ? v : `${v.slice(0, 6)}…${v.slice(-4)}`;
}

/** Unix seconds as `2026-11-28 00:00 UTC` (seconds shown only when not zero). */
export function formatUtc(seconds: bigint | number): string {
  const d = new Date(Number(seconds) * 1000);
  const iso = d.toISOString(); // 2026-11-28T00:00:00.000Z
  const sec = iso.slice(17, 19);
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}${sec === "00" ? "" : `:${sec}`} UTC`;
}

/** A span of seconds, coarse and floored: `45 s`, `12 min`, `3 h 12 min`, `3 h`, `2 d 4 h`, `5 d`. */
export function formatSpan(seconds: bigint | number): string {
  let s = BigInt(seconds);
  if (s < 0n) s = -s;
  const d = s / 86_400n;
  const h = (s % 86_400n) / 3600n;
  const m = (s % 3600n) / 60n;
  if (d > 0n) return h > 0n ? `${d} d ${h} h` : `${d} d`;
  if (h > 0n) return m > 0n ? `${h} h ${m} min` : `${h} h`;
  if (m > 0n) return `${m} min`;
  return `${s} s`;
}

/** `in 3 h 12 min`, `3 h 12 min ago`, or `now`, for `target` seen from `now` (both unix seconds). */
export function formatRelative(target: bigint | number, now: bigint | number): string {
  const diff = BigInt(target) - BigInt(now);
  if (diff === 0n) return "now";
  return diff > 0n ? `in ${formatSpan(diff)}` : `${formatSpan(diff)} ago`;
}

/** The adjective for a period: `hourly`, `daily`, `weekly`, `30-day`, `12-hour`, `90-minute`, `45-second`. */
export function periodAdjective(period: number | bigint): string {
  const p = Number(period);
  if (p > 0 && p % 86_400 === 0) {
    const n = p / 86_400;
    return n === 1 ? "daily" : n === 7 ? "weekly" : `${n}-day`;
  }
  if (p > 0 && p % 3600 === 0) return p === 3600 ? "hourly" : `${p / 3600}-hour`;
  if (p > 0 && p % 60 === 0) return `${p / 60}-minute`;
  return `${p}-second`;
}

/** UTC hour of the week as a range: 0 gives `Mon 00:00-01:00 UTC`, 167 gives `Sun 23:00-24:00 UTC`. */
export function formatHourOfWeek(hourOfWeek: number | bigint): string {
  const h = Number(hourOfWeek) % 168;
  const hour = h % 24;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[Math.floor(h / 24)]} ${pad(hour)}:00-${pad(hour + 1)}:00 UTC`;
}

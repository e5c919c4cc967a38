// Printing: JSON for machines (bigints as decimal strings), aligned key/value records and tables for people, and a
// progress line while a transaction is waited for.
import { type Hash, type PublicClient, type TransactionReceipt, TransactionReceiptNotFoundError } from "viem";

import { CliError } from "./errors.js";

export type Streams = { stdout: NodeJS.WritableStream & { isTTY?: boolean }; stderr: NodeJS.WriteStream };

/** JSON with bigints written as decimal strings (they exceed Number). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}

/** `key   value` lines, the values aligned. */
export function record(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

/** A plain-text table: a header row and the rows, columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for a transaction's receipt, showing progress on stderr: a spinner with "waiting for 0x… (block n)" when stderr
 * is a terminal, plain lines otherwise, nothing when `quiet` (--json).
 */
export async function waitForTransaction(
  client: PublicClient,
  hash: Hash,
  opts: { label: string; quiet: boolean; stderr: NodeJS.WriteStream; timeoutMs?: number; pollMs?: number },
): Promise<TransactionReceipt> {
  const { label, quiet, stderr } = opts;
  const tty = !quiet && stderr.isTTY === true;
  const pollMs = opts.pollMs ?? 1000;
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  // on a terminal the line must fit in 80 columns to be redrawn in place, so the hash is shortened there
  const shown = tty ? `${hash.slice(0, 10)}…${hash.slice(-8)}` : hash;
  let block = await client.getBlockNumber();
  let text = `${label}: waiting for ${shown} (block ${block})`;
  let frame = 0;
  const draw = () => stderr.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text}`);
  let spinner: NodeJS.Timeout | undefined;
  let finished = false;
  if (tty) {
    draw();
    spinner = setInterval(draw, 80);
  } else if (!quiet) stderr.write(`${text}\n`);
  try {
    for (;;) {
      try {
        const receipt = await client.getTransactionReceipt({ hash });
        const done = `${label}: ${receipt.status === "success" ? "mined" : "reverted"} in block ${receipt.blockNumber}`;
        if (tty) stderr.write(`\r\x1b[2K${receipt.status === "success" ? "✓" : "✗"} ${done}\n`);
        else if (!quiet) stderr.write(`${done}\n`);
        finished = true;
        return receipt;
      } catch (e) {
        if (!(e instanceof TransactionReceiptNotFoundError)) throw e;
      }
      if (Date.now() > deadline) {
        throw new CliError(
          `error: ${hash} was not mined in ${Math.round((opts.timeoutMs ?? 600_000) / 1000)} s; look it up later with \`stopline decode ${hash}\`.`,
        );
      }
      await sleep(pollMs);
      block = await client.getBlockNumber();
      text = `${label}: waiting for ${shown} (block ${block})`;
    }
  } finally {
    if (spinner) {
      clearInterval(spinner);
      if (!finished) stderr.write("\r\x1b[2K");
    }
  }
}

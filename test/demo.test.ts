// `npm run demo` end to end: the launcher (scripts/demo.mjs) runs as a child process with this Node (24) and no TTY,
// on the in-process network and against an anvil started for the test. The demo checks every step of its story
// itself and exits 1 when one differs; here the exit code, the refusals it printed, the closing table and the absence
// of colour codes in plain-text output are checked.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { expect } from "chai";
import { anvilCommand, freePort } from "./helpers/local-chain.js";

const ROOT = join(import.meta.dirname, "..");
const LAUNCHER = join(ROOT, "scripts", "demo.mjs");

/** The refusals of the story, in order. */
const STORY_REFUSALS = [
  "LaneSlotUnavailable", // the research agent's third x402 payment of the day (x402, the scheme's preflight)
  "MerchantNotAllowed", // pays a mining pool (UserOperation, validation)
  "MerchantNotAllowed", // approves itself an allowance (direct)
  "PeriodCapExceeded", // slices a payment over the daily cap (UserOperation, execution)
  "CallNotAllowed", // calls the account's grantAgent (UserOperation, validation)
  "OutsideActiveHours", // pays at 20:00 Berlin (direct, preflight)
  "AgentUnknown", // the rotated-away key (direct)
  "AgentsPaused", // while the guardian's pause holds (UserOperation, validation)
  "AgentIsRevoked", // the revoked research agent (direct)
];

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs the launcher with `args`, stdout and stderr piped (not a TTY) and no forced colour. */
function runDemo(args: string[], timeoutMs = 50_000): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.FORCE_COLOR;
  delete env.STOPLINE_DEMO_RPC_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LAUNCHER, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the demo did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** What a successful run must show: every refusal by name, in order, with its sentence; the closing table. */
function expectTheStory(run: Run) {
  expect(run.code, `the demo failed:\n${run.stdout}\n${run.stderr}`).to.equal(0);
  const lines = run.stdout.split("\n");
  // each refused attempt ("✗ ...") is followed by "<ViolationName>: <one sentence>."
  const refusals = lines.flatMap((line, i) => (line.trimStart().startsWith("✗ ") ? [lines[i + 1].trim()] : []));
  expect(refusals.map((r) => r.split(":")[0])).to.deep.equal(STORY_REFUSALS);
  for (const r of refusals) expect(r).to.match(/^[A-Za-z]+: \S.*\.$/);
  expect(run.stdout).to.contain("MerchantNotAllowed: mining pool (0xb17C…0b17) is not one of the agent's merchants");
  expect(run.stdout).to.contain("PeriodCapExceeded: Payment of 25.00 USDC to API credits shop (0xa910…00a9) would");
  expect(run.stdout).to.contain("exceed the daily cap: 5.00 of 100.00 USDC left");
  expect(run.stdout).to.contain("left 55.00 USDC today and 955.00 USDC in total, as before");
  // the closing table: both agents, what they spent and have left, and their status
  expect(run.stdout).to.match(/\n {2}agent +spent +left today +left in total +status\n/);
  expect(run.stdout).to.match(/\n {2}shopping agent +45\.00 USDC +55\.00 USDC +955\.00 USDC +active\n/);
  expect(run.stdout).to.match(/\n {2}research agent +9\.50 USDC +0\.00 USDC +0\.00 USDC +revoked\n/);
  // the x402 step: two paid API responses settled by the facilitator from the account's lane, then the lane limit
  expect(run.stdout).to.contain("3. The research agent buys paid API responses over x402, up to its lane limit");
  for (const slot of [0, 1]) {
    expect(run.stdout).to.match(
      new RegExp(
        `paid 1\\.00 USDC from the Stopline account with lane slot ${slot}'s signature; the facilitator settled it \\(\\d+ gas\\), no agent transaction`,
      ),
    );
  }
  expect(run.stdout).to.contain(
    "LaneSlotUnavailable: Lane slot 2 for USDC (0xCf7E…0Fc9) is already used or out of range: the lane holds 2 slots this period (0 to 1).",
  );
  expect(run.stdout).to.contain("Every step went as the story says");
  expect(run.stdout).to.contain("the demo is its own bundler");
  // not a TTY: plain text, no ANSI escape sequences
  expect(run.stdout).to.not.match(/\x1b\[/); // eslint-disable-line no-control-regex
  expect(run.stderr).to.not.match(/\x1b\[/); // eslint-disable-line no-control-regex
}

async function waitForRpc(url: string, child: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error("anvil exited early");
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (((await res.json()) as { result?: unknown }).result !== undefined) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer in time`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe("npm run demo", function () {
  this.timeout(60_000);

  it("is the launcher, which refuses unknown arguments with its usage and exit code 2", async function () {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.demo).to.equal("node scripts/demo.mjs");
    const bad = await runDemo(["--rpc"]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('unknown argument "--rpc"');
    expect(bad.stderr).to.contain("Usage: npm run demo [-- --rpc-url");
    const notHttp = await runDemo(["--rpc-url", "ws://127.0.0.1:8545"]);
    expect(notHttp.code).to.equal(2);
    expect(notHttp.stderr).to.contain("--rpc-url must be an http:// or https:// URL, not ws:");
  });

  it("tells the whole story on a fresh in-process network, every refusal named and explained, in plain text", async function () {
    const run = await runDemo([]);
    expectTheStory(run);
    expect(run.stdout).to.contain(
      "Network: a fresh in-process Hardhat network. Chain clock set to Tue 2031-03-04 09:30 Berlin.",
    );
  });

  it("tells the same story against a fresh anvil node with --rpc-url", async function () {
    const port = await freePort();
    const { cmd, pre } = anvilCommand();
    const anvil = spawn(cmd, [...pre, "--host", "127.0.0.1", "--port", String(port), "--hardfork", "prague"], {
      stdio: "ignore",
    });
    const stop = () => anvil.exitCode === null && anvil.signalCode === null && anvil.kill("SIGKILL");
    process.once("exit", stop);
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitForRpc(url, anvil, 20_000);
      const run = await runDemo(["--rpc-url", url]);
      expectTheStory(run);
      expect(run.stdout).to.contain(`Network: ${url}. Chain clock set to Tue 2031-03-04 09:30 Berlin.`);
    } finally {
      stop();
      process.removeListener("exit", stop);
    }
  });
});

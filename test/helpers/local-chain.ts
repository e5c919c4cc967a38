// Real local nodes for tests: anvil and the Alto bundler as child processes on free 127.0.0.1 ports, and EntryPoint v0.8
// at its canonical address (through the deterministic deployer that anvil predeploys). Used by test/e2e-bundler.test.ts
// and test/docs-snippets.test.ts.
// Alto checks validity windows against the wall clock, not the chain's: never move anvil's clock while Alto runs.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type AddressInfo, createServer } from "node:net";
import { dirname, join } from "node:path";

import {
  type Abi,
  type Account,
  type Chain,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
  concat,
} from "viem";

import { DETERMINISTIC_DEPLOYER, ENTRY_POINT_ADDRESS } from "./stopline.js";

const require = createRequire(import.meta.url);

/** The canonical salt of EntryPoint v0.8: through the deterministic deployer it lands at 0x4337084D…. */
export const ENTRY_POINT_SALT: Hex = "0x0a59dbff790c23c976a548690c27297883cc66b4c67024f9117b0238995e35e9";

const entryPointArtifact = require("@account-abstraction/contracts/artifacts/EntryPoint.json") as { bytecode: Hex };

/** The anvil binary of this platform (the @foundry-rs/anvil wrapper would leave it running if killed itself). */
export function anvilCommand(): { cmd: string; pre: string[] } {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  try {
    const pkg = require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/package.json`);
    const bin = join(dirname(pkg), "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
    if (existsSync(bin)) return { cmd: bin, pre: [] };
  } catch {
    // fall through to the wrapper
  }
  return { cmd: process.execPath, pre: [join(dirname(require.resolve("@foundry-rs/anvil/package.json")), "bin.mjs")] };
}

/** Alto's CLI, run with this Node (its shebang would pick the machine's Node). */
export const altoCli = () => join(dirname(require.resolve("@pimlico/alto")), "cli", "alto.js");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A line of a child's output without private keys: anvil lists its accounts' keys and mnemonic when it starts. */
export function redactSecrets(line: string): string {
  if (/^\s*Mnemonic:/i.test(line)) return line.replace(/:.*/, ": [redacted]");
  // a 32-byte hex value alone after an index, as in anvil's "Private Keys" list (hashes appear after a label)
  return line.replace(/^(\s*\(\d+\)\s+)0x[0-9a-fA-F]{64}\s*$/, "$1[redacted private key]");
}

/** A child process with the tail of its output, for error messages. */
export type LocalProcess = { name: string; child: ChildProcess; output: () => string };

/**
 * The child processes of one test file. `open()` in `before` (kills them on Ctrl-C and on exit), `await close()` in
 * `after` (removes those handlers, kills them and waits until each has exited). `output()` is the tail of every
 * process's output, for a failed test.
 */
export function processGroup() {
  const children = new Set<ChildProcess>();
  const started: LocalProcess[] = [];
  // (a child that could not be started has no pid and sends no "exit")
  const exited = (child: ChildProcess) =>
    child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
  const killAll = () => {
    for (const child of children) {
      if (!exited(child)) child.kill("SIGKILL");
    }
  };
  const onSigint = () => {
    killAll();
    // the handler was registered once: raising SIGINT again ends the process the default way (status 130)
    process.kill(process.pid, "SIGINT");
  };
  return {
    open() {
      process.once("SIGINT", onSigint);
      process.once("exit", killAll);
    },
    async close(): Promise<void> {
      process.removeListener("SIGINT", onSigint);
      process.removeListener("exit", killAll);
      const waits = [...children].map((child) =>
        exited(child) ? undefined : new Promise<void>((resolve) => child.once("exit", () => resolve())),
      );
      killAll();
      await Promise.all(waits);
      children.clear();
    },
    /** Every process started so far (running or not). */
    started(): readonly LocalProcess[] {
      return started;
    },
    output(): string {
      return started.map((p) => p.output()).join("\n");
    },
    start(name: string, cmd: string, args: string[]): LocalProcess {
      const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SENTRY_DSN: "" } });
      children.add(child);
      // kept line by line, with what looks like a private key or a mnemonic redacted (anvil prints its accounts')
      let out = "";
      const partial = { stdout: "", stderr: "" };
      const keep = (stream: "stdout" | "stderr") => (b: Buffer) => {
        const lines = (partial[stream] + b.toString()).split("\n");
        partial[stream] = lines.pop()!;
        for (const line of lines) out = (out + redactSecrets(line) + "\n").slice(-20_000);
      };
      child.stdout!.on("data", keep("stdout"));
      child.stderr!.on("data", keep("stderr"));
      child.on("exit", () => children.delete(child));
      const proc = { name, child, output: () => `--- ${name} output (tail) ---\n${out}` };
      started.push(proc);
      return proc;
    },
  };
}

export type ProcessGroup = ReturnType<typeof processGroup>;

/** Polls a JSON-RPC endpoint until `method` answers, or fails with the process's output. */
export async function waitForRpc(url: string, method: string, proc: LocalProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`process exited early\n${proc.output()}`);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }),
      });
      const body = (await res.json()) as { result?: unknown };
      if (body.result !== undefined) return body.result;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${method} in time\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Starts anvil (Prague) on a free port and waits until it answers. */
export async function startAnvil(
  group: ProcessGroup,
  timeoutMs = 20_000,
): Promise<{ url: string; proc: LocalProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { cmd, pre } = anvilCommand();
  const proc = group.start("anvil", cmd, [
    ...pre,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--hardfork",
    "prague",
  ]);
  await waitForRpc(url, "eth_chainId", proc, timeoutMs);
  return { url, proc };
}

/**
 * Puts EntryPoint v0.8 (`@account-abstraction/contracts@0.8.0`) at its canonical address through anvil's deterministic
 * deployer (Alto treats an EntryPoint as v0.8 only at an address starting 0x433708).
 */
export async function deployCanonicalEntryPoint(
  deployer: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
): Promise<void> {
  const hash = await deployer.sendTransaction({
    to: DETERMINISTIC_DEPLOYER,
    data: concat([ENTRY_POINT_SALT, entryPointArtifact.bytecode]),
    gas: 8_000_000n,
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success")
    throw new Error("deploying EntryPoint v0.8 through the deterministic deployer failed");
  if ((await publicClient.getCode({ address: ENTRY_POINT_ADDRESS })) === undefined) {
    throw new Error(`EntryPoint v0.8 is not at ${ENTRY_POINT_ADDRESS}`);
  }
}

/**
 * Whether node_modules/@pimlico/alto carries patches/@pimlico+alto+0.0.20.patch, without which Alto 0.0.20's safe mode
 * refuses every EntryPoint v0.8 op (it cannot decode the EntryPoint's DelegateAndRevert). `npm ci` applies it (the
 * `prepare` script runs scripts/apply-patches.cjs).
 */
export function altoPatchError(): string | undefined {
  const script = join(import.meta.dirname, "..", "..", "scripts", "apply-patches.cjs");
  const check = spawnSync(process.execPath, [script, "--check"], { encoding: "utf8" });
  if (check.status === 0) return undefined;
  return `Alto's safe mode needs the patch in patches/ (run: node scripts/apply-patches.cjs):\n${check.stdout}${check.stderr}`;
}

/**
 * Starts the Alto bundler for the canonical EntryPoint v0.8 on `rpcUrl`, in safe mode (its ERC-7562 checks, through
 * anvil's JavaScript tracer) unless `safeMode: false`; it deploys its own simulation contracts with the funded utility
 * key. Safe mode needs the patch in patches/ (see altoPatchError).
 */
export async function startAlto(
  group: ProcessGroup,
  opts: { rpcUrl: string; executorPrivateKey: Hex; utilityPrivateKey: Hex; safeMode?: boolean; timeoutMs?: number },
): Promise<{ url: string; proc: LocalProcess }> {
  const safeMode = opts.safeMode ?? true;
  if (safeMode) {
    const error = altoPatchError();
    if (error) throw new Error(error);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = group.start("alto", process.execPath, [
    altoCli(),
    "--entrypoints",
    ENTRY_POINT_ADDRESS,
    "--rpc-url",
    opts.rpcUrl,
    "--port",
    String(port),
    "--executor-private-keys",
    opts.executorPrivateKey,
    "--utility-private-key",
    opts.utilityPrivateKey,
    "--safe-mode",
    String(safeMode),
    "--deploy-simulations-contract",
    "true",
    "--block-time",
    "100",
    "--max-block-wait-count",
    "20",
    "--log-level",
    "warn",
  ]);
  await waitForRpc(url, "eth_supportedEntryPoints", proc, opts.timeoutMs ?? 40_000);
  return { url, proc };
}

/** Alto's own gas price (`pimlico_getUserOperationGasPrice`, "fast"), which its fee precheck wants ops to pay. */
export async function altoGasPrice(bundler: {
  request: (args: { method: never; params: never }) => Promise<unknown>;
}): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
  const prices = (await bundler.request({
    method: "pimlico_getUserOperationGasPrice" as never,
    params: [] as never,
  })) as { fast: { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex } };
  return {
    maxFeePerGas: BigInt(prices.fast.maxFeePerGas),
    maxPriorityFeePerGas: BigInt(prices.fast.maxPriorityFeePerGas),
  };
}

export type Artifact = { abi: Abi; bytecode: Hex };

/** A compiled contract of this repository (`npx hardhat build`), for tests that deploy to a node of their own. */
export const artifact = (name: string, file = name): Artifact =>
  JSON.parse(readFileSync(join(import.meta.dirname, `../../artifacts/contracts/${file}.sol/${name}.json`), "utf8"));

// The stopline CLI, run as a child process (`node --import tsx src/cli/main.ts ...`) against a real anvil node started
// for this file: EntryPoint v0.8 at its canonical address, the implementation, the factory and a test USDC. Secrets go
// in through the environment or stdin only, and every run's stdout and stderr is scanned for them at the end.
// The chain's clock starts on Friday 2026-11-27 12:00 UTC (anvil --timestamp), so the agents' daily periods reset at
// the next UTC midnight and Berlin is on winter time (UTC+1) for the weekly hours.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { expect } from "chai";
import {
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
  concat,
  createPublicClient,
  createWalletClient,
  encodeErrorResult,
  encodeFunctionData,
  erc20Abi,
  getAddress,
  http,
  keccak256,
  parseEther,
  parseGwei,
  stringToBytes,
  toHex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";

import { loadAgentKey, loadAgentKeyPair, saveAgentKey } from "../src/agent/keystore.js";
import { formatRelative, formatUtc } from "../src/utils/format.js";
import {
  ANY_HOUR,
  DETERMINISTIC_DEPLOYER,
  ENTRY_POINT_ABI,
  ENTRY_POINT_ADDRESS,
  NO_EXPIRY,
  UNLIMITED_CALLS,
  USDC,
  agentIdFor,
  hdKey,
  limit,
  nonceFor,
  userOp,
} from "./helpers/stopline.js";
import { type Artifact, ENTRY_POINT_SALT, anvilCommand, artifact, freePort } from "./helpers/local-chain.js";

const require = createRequire(import.meta.url);
const ROOT = resolve(import.meta.dirname, "..");
const START = Date.parse("2026-11-27T12:00:00Z") / 1000;
const MIDNIGHT = BigInt(Date.parse("2026-11-28T00:00:00Z") / 1000);

const entryPointArtifact = require("@account-abstraction/contracts/artifacts/EntryPoint.json") as Artifact;
const accountAbi = artifact("AgentAccount").abi;

type Run = { code: number | null; stdout: string; stderr: string };
/** Every run's output, scanned for secrets at the end. */
const outputs: { args: string[]; out: string }[] = [];

describe("stopline CLI against a local anvil node", function () {
  this.timeout(60_000);

  const keys = {
    deployer: hdKey(0),
    owner: hdKey(1),
    merchantA: hdKey(5),
    merchantB: hdKey(6),
    stranger: hdKey(7),
    bundler: hdKey(8),
  };
  const secret = (k: (typeof keys)[keyof typeof keys]): Hex => toHex(k.getHdKey().privateKey!);
  const OWNER_KEY = secret(keys.owner);
  const A = keys.merchantA.address;
  const B = keys.merchantB.address;
  const MANDATE = "Buy office coffee and API credits, at most 100 USDC a day";
  /** Every secret a run could leak: private keys (with and without 0x) and passwords. */
  const secrets: string[] = [OWNER_KEY, secret(keys.stranger), "hunter2", "not-the-password"];

  let anvil: ChildProcess;
  let url: string;
  let dir: string;
  let client: PublicClient;
  let factory: Address;
  let usdc: Address;
  let account: Address;
  let agentKeystore: string;
  let agent: LocalAccount;
  let env: Record<string, string>;

  /** Runs `stopline ...args` with only PATH, HOME and `extraEnv` in its environment, and `input` on stdin. */
  function cli(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
    return new Promise((ok, fail) => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? dir,
          NODE_COMPILE_CACHE: join(dir, ".compile-cache"),
          ...opts.env,
        },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      child.on("error", fail);
      child.on("close", (code) => {
        outputs.push({ args, out: stdout + stderr });
        ok({ code, stdout, stderr });
      });
      child.stdin.end(opts.input ?? "");
    });
  }

  const read = <T>(functionName: string, args: unknown[] = []) =>
    client.readContract({ address: account, abi: accountAbi, functionName, args }) as Promise<T>;
  const wallet = (a: LocalAccount) => createWalletClient({ account: a, chain: foundry, transport: http(url) });
  const mined = async (hash: Hex) => client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  const latest = async () => (await client.getBlock()).timestamp;
  const transfer = (to: Address, amount: bigint) => ({
    target: usdc,
    value: 0n,
    callData: encodeFunctionData({ abi: erc20Abi, functionName: "transfer", args: [to, amount] }),
  });

  before(async function () {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const { cmd, pre } = anvilCommand();
    anvil = spawn(cmd, [...pre, "--host", "127.0.0.1", "--port", String(port), "--timestamp", String(START)], {
      stdio: "ignore",
    });
    process.once("exit", () => anvil.kill("SIGKILL"));
    client = createPublicClient({ chain: foundry, transport: http(url), pollingInterval: 50 });
    for (let i = 0; ; i++) {
      try {
        await client.getChainId();
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    dir = mkdtempSync(join(tmpdir(), "stopline-cli-"));
    const deployer = wallet(keys.deployer);
    await mined(
      await deployer.sendTransaction({
        to: DETERMINISTIC_DEPLOYER,
        data: concat([ENTRY_POINT_SALT, entryPointArtifact.bytecode]),
        gas: 8_000_000n,
      }),
    );
    const deploy = async (a: Artifact, args: unknown[]) =>
      getAddress(
        (await mined(await deployer.deployContract({ abi: a.abi, bytecode: a.bytecode, args }))).contractAddress!,
      );
    const implementation = await deploy(artifact("AgentAccount"), [ENTRY_POINT_ADDRESS]);
    factory = await deploy(artifact("AgentAccountFactory"), [implementation]);
    usdc = await deploy(artifact("TestUSDC", "tokens/TestUSDC"), [keys.deployer.address]);
    account = (await client.readContract({
      address: factory,
      abi: artifact("AgentAccountFactory").abi,
      functionName: "getAddress",
      args: [keys.owner.address, 0n],
    })) as Address;
    env = { STOPLINE_RPC_URL: url, STOPLINE_ACCOUNT: account, STOPLINE_OWNER_KEY: OWNER_KEY };
  });

  after(function () {
    anvil?.kill("SIGKILL");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a private key or a password on the command line and says what to do instead", async function () {
    const [key, password, inAddress] = await Promise.all([
      cli(["grant", `--private-key=${OWNER_KEY}`, "--agent-id", "1"]),
      cli(["keygen", "--out", join(dir, "x.json"), "--password", "hunter2"]),
      // a private key where an address belongs is refused without being echoed
      cli(["grant", "--key", OWNER_KEY.slice(2), "--period", "1d"], { env }),
    ]);
    expect(key.code).to.equal(2);
    expect(key.stdout).to.equal("");
    expect(key.stderr).to.equal(
      "stopline grant: --private-key is refused: a secret on the command line is visible to other users (ps, /proc) " +
        "and stays in your shell history; set STOPLINE_OWNER_KEY in the environment, or use --owner-keystore <file> " +
        "(its password is prompted, read from stdin, or taken from STOPLINE_KEYSTORE_PASSWORD) (see `stopline grant --help`)\n",
    );
    expect(password.code).to.equal(2);
    expect(password.stderr).to.equal(
      "stopline keygen: --password is refused: a secret on the command line is visible to other users (ps, /proc) " +
        "and stays in your shell history; set STOPLINE_KEYSTORE_PASSWORD in the environment, or let stopline prompt " +
        "for it (or pipe it on stdin) (see `stopline keygen --help`)\n",
    );
    expect(existsSync(join(dir, "x.json"))).to.equal(false);
    expect(inAddress.code).to.equal(2);
    expect(inAddress.stderr).to.equal(
      "stopline grant: --key looks like a private key (64 hex digits); it takes an address. Never put a private key " +
        "on the command line (see `stopline grant --help`)\n",
    );
  });

  it("keygen writes an encrypted Web3 keystore with mode 0600 and prints only the address and the path", async function () {
    agentKeystore = join(dir, "agent.json");
    const second = join(dir, "agent-2.json");
    const [r, piped] = await Promise.all([
      cli(["keygen", "--out", agentKeystore], { env: { STOPLINE_KEYSTORE_PASSWORD: "agent-pw-1" } }),
      // the password as the first line of stdin (stdin is not a terminal), JSON output
      cli(["keygen", "--out", second, "--json"], { input: "agent-pw-2\nignored\n" }),
    ]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal("");
    const pair = await loadAgentKeyPair(agentKeystore, "agent-pw-1");
    agent = pair.account;
    secrets.push(pair.privateKey);
    expect(r.stdout).to.equal(`address   ${agent.address}\nkeystore  ${agentKeystore}\n`);
    expect(statSync(agentKeystore).mode & 0o777).to.equal(0o600);
    const file = JSON.parse(readFileSync(agentKeystore, "utf8"));
    expect(file.version).to.equal(3);
    expect(file.crypto.kdf).to.equal("scrypt");
    expect(file.crypto.cipher).to.equal("aes-128-ctr");
    expect(getAddress(`0x${file.address}`)).to.equal(agent.address);
    secrets.push("agent-pw-1");

    // the second key's password came from stdin
    expect(piped.code, piped.stderr).to.equal(0);
    const out = JSON.parse(piped.stdout);
    expect(Object.keys(out)).to.deep.equal(["address", "path"]);
    expect(out.path).to.equal(second);
    const pair2 = await loadAgentKeyPair(second, "agent-pw-2");
    expect(pair2.address).to.equal(out.address);
    secrets.push(pair2.privateKey);
    secrets.push("agent-pw-2");

    // an existing keystore is never replaced without --force
    const again = await cli(["keygen", "--out", agentKeystore], { env: { STOPLINE_KEYSTORE_PASSWORD: "other" } });
    expect(again.code).to.equal(1);
    expect(again.stderr).to.equal(
      `error: ${agentKeystore} already exists; choose another --out or pass --force to replace it.\n`,
    );
    expect((await loadAgentKey(agentKeystore, "agent-pw-1")).address).to.equal(agent.address);
  });

  it("deploy creates the owner's account through the factory and prints its address; a second run sends nothing", async function () {
    const first = await cli(["deploy"], { env: { ...env, STOPLINE_FACTORY: factory } });
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.equal(`${account}\n`);
    const [waiting, done] = first.stderr.trimEnd().split("\n");
    expect(waiting).to.match(/^deploy: waiting for 0x[0-9a-f]{64} \(block \d+\)$/);
    expect(done).to.equal(`deploy: mined in block ${await client.getBlockNumber()}`);
    expect(await client.getCode({ address: account })).to.not.equal(undefined);
    expect(await read<Address>("owner")).to.equal(keys.owner.address);

    // again, signing with an encrypted owner keystore whose password comes on stdin: same address, no transaction
    const ownerKeystore = join(dir, "owner.json");
    await saveAgentKey(ownerKeystore, OWNER_KEY, "owner-pw", { scryptN: 2 ** 14 });
    secrets.push("owner-pw");
    const nonce = await client.getTransactionCount({ address: keys.owner.address });
    const [second, wrong] = await Promise.all([
      cli(["deploy", "--owner-keystore", ownerKeystore, "--factory", factory, "--rpc-url", url, "--json"], {
        input: "owner-pw\n",
      }),
      // a wrong keystore password stops before anything is sent
      cli(["deploy", "--owner-keystore", ownerKeystore, "--factory", factory], {
        env: { STOPLINE_RPC_URL: url, STOPLINE_KEYSTORE_PASSWORD: "not-the-password" },
      }),
    ]);
    expect(second.code, second.stderr).to.equal(0);
    expect(JSON.parse(second.stdout)).to.deep.equal({
      address: account,
      owner: keys.owner.address,
      factory,
      salt: "0",
      created: false,
    });
    expect(second.stderr).to.equal("");
    expect(await client.getTransactionCount({ address: keys.owner.address })).to.equal(nonce);

    expect(wrong.code).to.equal(1);
    expect(wrong.stdout).to.equal("");
    expect(wrong.stderr).to.equal(
      `error: wrong password for the keystore ${ownerKeystore} (nothing was decrypted or sent).\n`,
    );

    // fund the account (USDC, an EntryPoint deposit) and the agent's key (gas for direct calls)
    const deployer = wallet(keys.deployer);
    await mined(
      await deployer.writeContract({
        address: usdc,
        abi: artifact("TestUSDC", "tokens/TestUSDC").abi,
        functionName: "mint",
        args: [account, USDC(10_000)],
      }),
    );
    await mined(
      await deployer.writeContract({
        address: ENTRY_POINT_ADDRESS,
        abi: ENTRY_POINT_ABI,
        functionName: "depositTo",
        args: [account],
        value: parseEther("1"),
      }),
    );
    await mined(await deployer.sendTransaction({ to: agent.address, value: parseEther("1") }));
  });

  it("grant builds the policy from flags, and the chain holds exactly that policy", async function () {
    const r = await cli(
      [
        "grant",
        "--keystore",
        agentKeystore,
        "--agent-id",
        "1",
        "--token",
        `USDC=${usdc}:25/100/1000`,
        "--merchant",
        A,
        "--merchant",
        B,
        "--period",
        "1d",
        "--gas-budget",
        "0.1",
        "--mandate",
        MANDATE,
      ],
      { env },
    );
    expect(r.code, r.stderr).to.equal(0);
    const hash = /^transaction {2}(0x[0-9a-f]{64})$/m.exec(r.stdout)?.[1] as Hex;
    const receipt = await client.getTransactionReceipt({ hash });
    expect(r.stdout).to.equal(
      [
        `agent id     ${agentIdFor(1)}`,
        `key          ${agent.address}`,
        `account      ${account}`,
        `transaction  ${hash}`,
        `block        ${receipt.blockNumber}`,
        "",
      ].join("\n"),
    );
    expect(r.stderr).to.equal(
      `grant: waiting for ${hash} (block ${receipt.blockNumber})\ngrant: mined in block ${receipt.blockNumber}\n`,
    );
    const [key, revoked, policy] = await read<[Address, boolean, unknown]>("getAgent", [agentIdFor(1)]);
    expect([key, revoked]).to.deep.equal([agent.address, false]);
    expect(policy).to.deep.equal({
      validAfter: 0,
      validUntil: NO_EXPIRY,
      period: 86_400,
      activeHours: ANY_HOUR,
      maxCallsPerPeriod: UNLIMITED_CALLS,
      gasBudget: parseEther("0.1"),
      mandate: keccak256(stringToBytes(MANDATE)),
      limits: [limit({ token: usdc, perPayment: USDC(25), perPeriod: USDC(100), lifetime: USDC(1_000) })],
      merchants: [A, B],
    });
  });

  it("grant takes a policy file in human terms, weekly hours in a time zone, a validity and a derived gas budget", async function () {
    const file = join(dir, "policy.json");
    writeFileSync(
      file,
      JSON.stringify({
        limits: [{ token: usdc, perPayment: "10", perPeriod: "50", lifetime: "500" }],
        merchants: [A],
        period: "1w",
        maxCallsPerPeriod: 20,
      }),
    );
    const key = privateKeyToAccount(generatePrivateKey()).address;
    const before = await latest();
    const r = await cli(
      [
        "grant",
        "--policy",
        file,
        "--key",
        key,
        "--agent-id",
        "2",
        "--limit",
        "token=ETH,perPayment=0.01,perPeriod=0.1,lifetime=1",
        "--merchant",
        B,
        "--hours",
        "Mon-Fri 09:00-17:30 Europe/Berlin",
        "--valid-for",
        "30d",
        "--ops-per-period",
        "10",
        "--periods",
        "4",
        "--max-fee",
        "2",
        "--json",
      ],
      { env },
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal("");
    const out = JSON.parse(r.stdout);
    expect(out.agentId).to.equal(agentIdFor(2));
    expect(out.key).to.equal(key);
    const receipt = await client.getTransactionReceipt({ hash: out.transactionHash });
    expect(out.blockNumber).to.equal(String(receipt.blockNumber));

    // Berlin is UTC+1 in November: 09:00-17:30 local is 08:00-16:30 UTC, whole hours 08:00-16:00, Monday to Friday
    let hours = 0n;
    for (let day = 0; day < 5; day++) for (let h = 8; h < 16; h++) hours |= 1n << BigInt(day * 24 + h);
    const [, , policy] = await read<[Address, boolean, { validAfter: number; validUntil: number }]>("getAgent", [
      agentIdFor(2),
    ]);
    expect(policy.validAfter).to.be.within(Number(before), Number(await latest()));
    expect(policy).to.deep.equal({
      validAfter: policy.validAfter,
      validUntil: policy.validAfter + 30 * 86_400 - 1,
      period: 7 * 86_400,
      activeHours: hours,
      maxCallsPerPeriod: 20,
      // 10 ops a period for 4 periods, 400,000 gas each at 2 gwei, plus 50%
      gasBudget: (40n * 400_000n * parseGwei("2") * 150n) / 100n,
      mandate: toHex(0, { size: 32 }),
      limits: [
        limit({ token: usdc, perPayment: USDC(10), perPeriod: USDC(50), lifetime: USDC(500) }),
        limit({
          token: "0x0000000000000000000000000000000000000000",
          perPayment: parseEther("0.01"),
          perPeriod: parseEther("0.1"),
          lifetime: parseEther("1"),
        }),
      ],
      merchants: [A, B],
    });
    expect(out.policy.gasBudget).to.equal("48000000000000000");
  });

  it("grant refuses an invalid policy or a mislabelled token before sending anything", async function () {
    const nonce = await client.getTransactionCount({ address: keys.owner.address });
    const key = privateKeyToAccount(generatePrivateKey()).address;
    const grant = (token: string) =>
      cli(["grant", "--key", key, "--agent-id", "3", "--token", token, "--merchant", A, "--period", "1d"], { env });
    const [caps, label] = await Promise.all([grant(`${usdc}:50/40/1000`), grant(`DAI=${usdc}:5/40/1000`)]);
    expect(caps.code).to.equal(2);
    expect(caps.stderr).to.equal(
      'stopline grant: perPayment "50" is larger than perPeriod "40" for USDC. Lower perPayment or raise perPeriod.\n',
    );
    expect(label.code).to.equal(2);
    expect(label.stderr).to.equal(
      `stopline grant: --token DAI=${usdc}: that token's symbol is USDC, not DAI; check the address (see \`stopline grant --help\`)\n`,
    );
    expect(await client.getTransactionCount({ address: keys.owner.address })).to.equal(nonce);
  });

  it("grant --dry-run prints the policy in words and sends nothing", async function () {
    const nonce = await client.getTransactionCount({ address: keys.owner.address });
    const key = privateKeyToAccount(generatePrivateKey()).address;
    const r = await cli(
      [
        "grant",
        "--dry-run",
        "--key",
        key,
        "--agent-id",
        "3",
        "--token",
        `USDC=${usdc}:5/20/unlimited`,
        "--merchant",
        `${A},${B}`,
        "--period",
        "12h",
        "--hours",
        "Sat,Sun 10:00-12:00",
        "--max-calls",
        "3",
      ],
      { env },
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(
      [
        `account      ${account}`,
        `agent id     ${agentIdFor(3)}`,
        `key          ${key}`,
        "valid from   now (no start)",
        "valid until  no expiry",
        "period       12-hour (43200 s)",
        "hours        Sat,Sun 10:00-12:00 UTC (4 h a week)",
        "calls        3 per period",
        "gas budget   0.00 ETH",
        "mandate      none",
        `token        USDC ${usdc}: 5.00 per payment, 20.00 per period, unlimited lifetime`,
        `merchant     ${A}`,
        `merchant     ${B}`,
        "sent         nothing (--dry-run)",
        "",
      ].join("\n"),
    );
    expect(r.stderr).to.equal(
      "gas budget 0: the agent can act only directly (paying its own gas) or through an allowed paymaster\n",
    );
    expect(await client.getTransactionCount({ address: keys.owner.address })).to.equal(nonce);
  });

  it("status shows an agent's caps, spending and state, and the account's overview", async function () {
    const agentWallet = wallet(agent);
    for (const amount of [25, 25, 25, 20]) {
      await mined(
        await agentWallet.writeContract({
          address: account,
          abi: accountAbi,
          functionName: "executeAsAgent",
          args: [agentIdFor(1), [transfer(A, USDC(amount))]],
        }),
      );
    }
    const [r, json, two, overview] = await Promise.all([
      cli(["status", "--agent-id", "1"], { env }),
      cli(["status", "--agent-id", "1", "--json"], { env }),
      cli(["status", "--agent-id", "2"], { env }),
      cli(["status"], { env }),
    ]);
    expect(r.code, r.stderr).to.equal(0);
    const now = await latest();
    expect(r.stdout).to.equal(
      [
        `account      ${account}`,
        `agent id     ${agentIdFor(1)}`,
        `key          ${agent.address}`,
        "state        may act now",
        "valid from   no start",
        "valid until  no expiry",
        `period       daily, resets 2026-11-28 00:00 UTC (${formatRelative(MIDNIGHT, now)})`,
        "hours        any hour",
        "calls        no limit (calls are counted only under a limit)",
        "gas budget   0.10 ETH left of 0.10 ETH (0.00 ETH charged)",
        `mandate      ${keccak256(stringToBytes(MANDATE))}`,
        `merchant     ${A}`,
        `merchant     ${B}`,
        "",
        "TOKEN  PER PAYMENT  PERIOD CAP  SPENT (PERIOD)  LEFT (PERIOD)  LIFETIME CAP  SPENT (EVER)  LEFT (EVER)",
        "USDC   25.00        100.00      95.00           5.00           1000.00       95.00         905.00",
        "",
      ].join("\n"),
    );

    const s = JSON.parse(json.stdout);
    expect(s.mayActNow).to.equal(true);
    expect(s.periodResetsAt).to.equal(String(MIDNIGHT));
    expect(s.tokens[0]).to.deep.include({ token: usdc, symbol: "USDC", decimals: 6 });
    expect(s.tokens[0].spentInPeriod).to.deep.equal({ amount: "95000000", unlimited: false, formatted: "95.00 USDC" });
    expect(s.tokens[0].remainingInPeriod.amount).to.equal("5000000");
    expect(s.tokens[0].remainingInLifetime.amount).to.equal("905000000");
    expect(s.calls).to.deep.equal({ inPeriod: "0" }); // an agent without a call limit is not counted

    // the agent of the policy file: a call limit, weekly hours (Friday 12:00 UTC is inside them) and a validity
    const [, , p2] = await read<[Address, boolean, { validAfter: number; validUntil: number }]>("getAgent", [
      agentIdFor(2),
    ]);
    const lines = two.stdout.split("\n");
    expect(lines.slice(3, 9)).to.deep.equal([
      "state        may act now",
      `valid from   ${formatUtc(p2.validAfter)}`,
      `valid until  ${formatUtc(p2.validUntil)}`,
      `period       weekly, resets ${formatUtc(p2.validAfter + 7 * 86_400)} (${formatRelative(BigInt(p2.validAfter + 7 * 86_400), now)})`,
      "hours        Mon-Fri 08:00-16:00 UTC (40 h a week)",
      "calls        0 of 20 this period",
    ]);
    expect(lines.slice(-4)).to.deep.equal([
      "TOKEN  PER PAYMENT  PERIOD CAP  SPENT (PERIOD)  LEFT (PERIOD)  LIFETIME CAP  SPENT (EVER)  LEFT (EVER)",
      "USDC   10.00        50.00       0.00            50.00          500.00        0.00          500.00",
      "ETH    0.01         0.10        0.00            0.10           1.00          0.00          1.00",
      "",
    ]);

    expect(overview.stdout).to.equal(
      [
        `account   ${account}`,
        `owner     ${keys.owner.address}`,
        "guardian  none",
        "agents    active",
        "balance   0.00 ETH",
        "deposit   1.00 ETH at the EntryPoint",
        "",
      ].join("\n"),
    );
  });

  it("check passes a payment inside the limits and refuses one outside with the violation's name and message", async function () {
    const check = (...args: string[]) => cli(["check", "--agent-id", "1", ...args], { env });
    const [ok, cap, merchant, period] = await Promise.all([
      check("--to", A, "--amount", "5", "--token", "USDC"),
      check("--to", A, "--amount", "30"),
      check("--to", keys.stranger.address, "--amount", "1"),
      check("--to", B, "--amount", "10", "--token", usdc, "--json"),
    ]);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.equal("OK: Payment of 5.00 USDC to 0x9965…A4dc would pass the agent's guardrails now.\n");
    expect(ok.stderr).to.equal("");

    expect(cap.code).to.equal(1);
    expect(cap.stdout).to.equal("");
    expect(cap.stderr).to.equal(
      "PerPaymentCapExceeded: Payment of 30.00 USDC to 0x9965…A4dc is over the per-payment cap of 25.00 USDC.\n",
    );

    expect(merchant.code).to.equal(1);
    expect(merchant.stderr).to.equal(
      "MerchantNotAllowed: 0x14dC…9955 is not one of the agent's merchants, so the agent may not pay it.\n",
    );

    expect(period.code).to.equal(1);
    const now = await latest();
    const message = `Payment of 10.00 USDC to 0x976E…0aa9 would exceed the daily cap: 5.00 of 100.00 USDC left, resets ${formatRelative(MIDNIGHT, now)} (2026-11-28 00:00 UTC).`;
    const { ok: passed, error } = JSON.parse(period.stdout);
    expect(passed).to.equal(false);
    expect(error).to.deep.include({
      name: "PeriodCapExceeded",
      agentId: agentIdFor(1),
      token: usdc,
      amount: "10000000",
      remaining: "5000000",
      resetsAt: String(MIDNIGHT),
      merchant: B,
      message,
    });
    expect(period.stderr).to.equal(`PeriodCapExceeded: ${message}\n`);
  });

  it("decode explains raw revert data, offline and with the chain's token metadata", async function () {
    const data = encodeErrorResult({
      abi: accountAbi,
      errorName: "PerPaymentCapExceeded",
      args: [agentIdFor(1), usdc, USDC(30), USDC(25)],
    });
    const [offline, online, unknown] = await Promise.all([
      cli(["decode", data]),
      cli(["decode", data, "--json"], { env }),
      cli(["decode", "0xdeadbeef"]),
    ]);
    expect(offline.code, offline.stderr).to.equal(0);
    const short = `${usdc.slice(0, 6)}…${usdc.slice(-4)}`;
    expect(offline.stdout).to.equal(
      `PerPaymentCapExceeded: Payment of 30000000 units of token ${short} is over the per-payment cap of 25000000 units of token ${short}.\n`,
    );
    expect(online.code, online.stderr).to.equal(0);
    const out = JSON.parse(online.stdout);
    expect(out.source).to.equal("data");
    expect(out.violation).to.deep.include({
      name: "PerPaymentCapExceeded",
      agentId: agentIdFor(1),
      token: usdc,
      amount: "30000000",
      limit: "25000000",
      message: "Payment of 30.00 USDC is over the per-payment cap of 25.00 USDC.",
    });
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.equal("error: 0xdeadbeef is not an error this toolkit knows\n");
  });

  it("decode replays a failed transaction to find why the account refused it", async function () {
    const hash = await wallet(agent).writeContract({
      address: account,
      abi: accountAbi,
      functionName: "executeAsAgent",
      args: [agentIdFor(1), [transfer(A, USDC(30))]],
      gas: 300_000n,
    });
    expect((await mined(hash)).status).to.equal("reverted");
    const r = await cli(["decode", hash], { env });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(
      "PerPaymentCapExceeded: Payment of 30.00 USDC to 0x9965…A4dc is over the per-payment cap of 25.00 USDC.\n",
    );
  });

  it("decode finds a UserOperation refused at execution by its hash, and by its bundle's transaction hash", async function () {
    const entryPoint = { address: ENTRY_POINT_ADDRESS, abi: ENTRY_POINT_ABI } as const;
    const nonce = (await client.readContract({
      ...entryPoint,
      functionName: "getNonce",
      args: [account, 1n],
    })) as bigint;
    expect(nonce).to.equal(nonceFor(1n));
    const op = userOp({
      sender: account,
      nonce,
      callData: encodeFunctionData({
        abi: accountAbi,
        functionName: "executeAsAgent",
        args: [agentIdFor(1), [transfer(A, USDC(10))]],
      }),
    });
    const userOpHash = (await client.readContract({ ...entryPoint, functionName: "getUserOpHash", args: [op] })) as Hex;
    const signed = { ...op, signature: await agent.sign!({ hash: userOpHash }) };
    const tx = await wallet(keys.bundler).writeContract({
      ...entryPoint,
      functionName: "handleOps",
      args: [[signed], keys.bundler.address],
      gas: 3_000_000n,
    });
    expect((await mined(tx)).status).to.equal("success");
    const now = await latest();
    const line =
      "PeriodCapExceeded: Payment of 10.00 USDC to 0x9965…A4dc would exceed the daily cap: 5.00 of 100.00 USDC " +
      `left, resets ${formatRelative(MIDNIGHT, now)} (2026-11-28 00:00 UTC).\n`;

    const [byOp, byTx, missing] = await Promise.all([
      cli(["decode", userOpHash, "--json"], { env }),
      cli(["decode", tx], { env }),
      cli(["decode", keccak256("0x01")], { env }),
    ]);
    expect(byOp.code, byOp.stderr).to.equal(0);
    const out = JSON.parse(byOp.stdout);
    expect(out).to.deep.include({
      source: "userOperation",
      userOpHash,
      sender: account,
      nonce: String(nonce),
      success: false,
      transactionHash: tx,
    });
    expect(out.violation).to.deep.include({ name: "PeriodCapExceeded", amount: "10000000", remaining: "5000000" });
    expect(`${out.violation.name}: ${out.violation.message}\n`).to.equal(line);

    expect(byTx.code, byTx.stderr).to.equal(0);
    expect(byTx.stdout).to.equal(line);

    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.equal(
      `error: no transaction or UserOperation ${keccak256("0x01")} found (searched blocks 0 to ${await client.getBlockNumber()}); a UserOperation refused in validation is never mined\n`,
    );
  });

  it("update changes only the fields it is given and keeps the rest", async function () {
    const r = await cli(
      [
        "update",
        "--agent-id",
        "1",
        "--token",
        `USDC=${usdc}:30/100/1000`,
        "--gas-budget",
        "0.2",
        "--remove-merchant",
        B,
      ],
      { env },
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(
      new RegExp(
        `^agent id {5}${agentIdFor(1)}\naccount {6}${account}\ntransaction {2}0x[0-9a-f]{64}\nblock {8}\\d+\n$`,
      ),
    );
    const [key, , policy] = await read<[Address, boolean, unknown]>("getAgent", [agentIdFor(1)]);
    expect(key).to.equal(agent.address);
    expect(policy).to.deep.equal({
      validAfter: 0,
      validUntil: NO_EXPIRY,
      period: 86_400,
      activeHours: ANY_HOUR,
      maxCallsPerPeriod: UNLIMITED_CALLS,
      gasBudget: parseEther("0.2"),
      mandate: keccak256(stringToBytes(MANDATE)),
      limits: [limit({ token: usdc, perPayment: USDC(30), perPeriod: USDC(100), lifetime: USDC(1_000) })],
      merchants: [A],
    });
  });

  it("pause stops every agent (check says so) and unpause lets them act again", async function () {
    const paused = await cli(["pause"], { env });
    expect(paused.code, paused.stderr).to.equal(0);
    expect(await read<boolean>("agentsPaused")).to.equal(true);
    const check = await cli(["check", "--agent-id", "1", "--to", A, "--amount", "1"], { env });
    expect(check.code).to.equal(1);
    expect(check.stderr).to.equal(
      "AgentsPaused: All agents of this account are paused; the owner must unpause them before any agent can act.\n",
    );
    const unpaused = await cli(["unpause", "--json"], { env });
    expect(unpaused.code, unpaused.stderr).to.equal(0);
    expect(unpaused.stderr).to.equal("");
    expect(JSON.parse(unpaused.stdout)).to.deep.include({ account, paused: false });
    expect(await read<boolean>("agentsPaused")).to.equal(false);
  });

  it("an owner action signed by another key is refused with NotAuthorized", async function () {
    const r = await cli(["pause"], { env: { ...env, STOPLINE_OWNER_KEY: secret(keys.stranger) } });
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal("");
    expect(r.stderr).to.equal(
      "NotAuthorized: 0x14dC…9955 may not call this function (only the owner may, or the guardian to pause agents and revoke an agent).\n",
    );
    expect(await read<boolean>("agentsPaused")).to.equal(false);
  });

  it("rotate gives the agent the key of a new keystore", async function () {
    const next = JSON.parse(readFileSync(join(dir, "agent-2.json"), "utf8")).address as string;
    const r = await cli(["rotate", "--agent-id", "1", "--new-keystore", join(dir, "agent-2.json")], { env });
    expect(r.code, r.stderr).to.equal(0);
    const [key] = await read<[Address]>("getAgent", [agentIdFor(1)]);
    expect(key).to.equal(getAddress(`0x${next}`));
    expect(r.stdout).to.contain(`new key      ${key}\n`);
  });

  it("revoke ends the agent for good; revoking again is refused with AgentIsRevoked", async function () {
    const r = await cli(["revoke", "--agent-id", "1"], { env });
    expect(r.code, r.stderr).to.equal(0);
    const [, revoked] = await read<[Address, boolean]>("getAgent", [agentIdFor(1)]);
    expect(revoked).to.equal(true);
    const status = await cli(["status", "--agent-id", "1"], { env });
    expect(status.stdout.split("\n").slice(2, 4)).to.deep.equal([
      "key          none (revoked)",
      "state        revoked (AgentIsRevoked): it can never act again",
    ]);
    const again = await cli(["revoke", "--agent-id", "1", "--json"], { env });
    expect(again.code).to.equal(1);
    expect(again.stderr).to.equal("AgentIsRevoked: Agent 0x0000…0001 was revoked and can never act again.\n");
    expect(JSON.parse(again.stdout)).to.deep.equal({
      ok: false,
      error: {
        name: "AgentIsRevoked",
        agentId: agentIdFor(1),
        data: encodeErrorResult({ abi: accountAbi, errorName: "AgentIsRevoked", args: [agentIdFor(1)] }),
        message: "Agent 0x0000…0001 was revoked and can never act again.",
      },
    });
  });

  it("usage errors exit 2, and an RPC that does not answer exits 1, each with a one-line reason", async function () {
    const [noRpc, unknown, noTo, down, noFile] = await Promise.all([
      cli(["status", "--agent-id", "1"], { env: { STOPLINE_ACCOUNT: account } }),
      cli(["frobnicate"]),
      cli(["check", "--agent-id", "1", "--amount", "5"], { env }),
      cli(["status", "--rpc-url", "http://127.0.0.1:1/v2/api-key", "--account", account]),
      cli(["pause", "--owner-keystore", join(dir, "missing.json")], {
        env: { ...env, STOPLINE_KEYSTORE_PASSWORD: "x" },
      }),
    ]);
    // the RPC's host only: URLs often carry an API key
    expect(down.code).to.equal(1);
    expect(down.stderr).to.equal(
      "error: the RPC endpoint at 127.0.0.1:1 did not answer (fetch failed); check --rpc-url.\n",
    );
    expect(noFile.code).to.equal(1);
    expect(noFile.stderr).to.equal(`error: Cannot read the keystore ${join(dir, "missing.json")}.\n`);
    expect([noRpc.code, unknown.code, noTo.code]).to.deep.equal([2, 2, 2]);
    expect(noRpc.stderr).to.equal(
      "stopline status: no RPC endpoint: pass --rpc-url <url> or set STOPLINE_RPC_URL (see `stopline status --help`)\n",
    );
    expect(unknown.stderr).to.equal('stopline: unknown command "frobnicate" (see `stopline --help`)\n');
    expect(noTo.stderr).to.equal(
      "stopline check: --to is missing: give the merchant to pay (see `stopline check --help`)\n",
    );
  });

  it("no private key or password appears in any output", function () {
    expect(outputs.length).to.be.greaterThan(30);
    for (const { args, out } of outputs) {
      for (const s of secrets) {
        const bare = s.replace(/^0x/, "").toLowerCase();
        expect(out.toLowerCase(), `output of stopline ${args.join(" ")}`).to.not.contain(bare);
      }
    }
  });
});

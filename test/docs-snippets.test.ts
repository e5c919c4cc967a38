// Runs the documentation: every runnable snippet of README.md and docs/*.md, against real nodes (anvil and the Alto
// bundler, test/helpers/local-chain.ts), with the package packed and installed outside the repo
// (test/helpers/packed.ts), exactly as a reader would run it after `npm install stopline viem`.
//
// The convention: a fenced code block whose info string is `ts snippet <name>` is runnable:
//
//     ```ts snippet integrator-grant
//     import { grantAgent } from "stopline";
//     ...
//     ```
//
// (GitHub and Prettier read the first word, `ts`, as the language; the rest is ours.) Other code blocks are
// illustrations and are not run. A runnable snippet is a complete ESM program (TypeScript that Node 24 runs by
// stripping the types) that imports only "stopline" (and its subpaths), "viem" (and its subpaths) and node: builtins,
// and reads every input (RPC URL, keys, addresses) from environment variables, never from literals. Names are unique in
// a file; the same snippet may appear in two files (e.g. README.md and docs/readme-quickstart.md).
//
// For each file with snippets, the test makes a fresh scene (new owner, agent and guardian keys, a new merchant; see
// `scene`), writes the snippets to a folder of the consumer project, type-checks them all against the packed
// declarations, then runs them in order, each as its own `node <file>` with the scene's environment. Each must exit 0,
// write nothing to stderr, and print the lines EXPECTED gives for its name (in that order; other lines may come between).
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";
import {
  type Address,
  type Hex,
  type PublicClient,
  createPublicClient,
  createWalletClient,
  erc20Abi,
  http,
  keccak256,
  parseEther,
  parseUnits,
  stringToBytes,
  toHex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";

import { agentAccountFactoryAbi, entryPointV08Abi, testUsdcAbi } from "../src/abis/index.js";
import { buildPolicy, createAgentAccount, grantAgent } from "../src/index.js";
import { agentIdFromNonceKey } from "../src/utils/agentId.js";
import { shortAddress } from "../src/utils/format.js";
import {
  type LocalProcess,
  deployCanonicalEntryPoint,
  processGroup,
  startAlto,
  startAnvil,
} from "./helpers/local-chain.js";
import { type PackedStopline, REPO, childEnv, packedStopline, runNode } from "./helpers/packed.js";
import { ENTRY_POINT_ADDRESS, hdKey } from "./helpers/stopline.js";

const run = promisify(execFile);

/** The files whose snippets run: README.md and every docs/*.md. */
const DOC_FILES = [
  "README.md",
  ...readdirSync(join(REPO, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];

type Snippet = { file: string; name: string; line: number; code: string };

const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const MARKER = /^ts snippet ([a-z0-9][a-z0-9-]*)$/;

/** The runnable snippets of a markdown text, in order. */
function extractSnippets(file: string, markdown: string): Snippet[] {
  const lines = markdown.split("\n");
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    let end = i + 1;
    while (end < lines.length && lines[end].trim() !== fence) end++;
    if (end === lines.length) throw new Error(`${file}:${i + 1}: code block never closed`);
    const infoText = info.trim();
    if (/\bsnippet\b/.test(infoText)) {
      const m = MARKER.exec(infoText);
      if (!m) throw new Error(`${file}:${i + 1}: malformed snippet marker "${infoText}" (use: ts snippet <name>)`);
      const code = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
        .join("\n");
      out.push({ file, name: m[1], line: i + 1, code: `${code}\n` });
    }
    i = end;
  }
  return out;
}

/** What a file's snippets start from. */
type Scene = {
  rpcUrl: string;
  bundlerUrl: string;
  factory: Address;
  usdc: Address;
  owner: Address;
  agent: Address;
  guardian: Address;
  merchant: Address;
  /** The owner's account (salt 0): its counterfactual address, deployed or not. */
  account: Address;
  agentId: Hex;
  env: Record<string, string>;
};

/**
 * The lines each snippet must print, in order (other lines may come between). Addresses and ids come from the scene.
 */
const A = "0x[0-9a-fA-F]{40}";
const SHORT = "0x[0-9a-fA-F]{4}…[0-9a-fA-F]{4}";
const TX = "0x[0-9a-f]{64}";
const UTC = "\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}(:\\d{2})? UTC";
const re = (s: string) => new RegExp(`^${s}$`);
/** How the toolkit's messages show an address or id (0xAbCd…1234). */
const short = (value: Hex) => shortAddress(value);
const EXPECTED: Record<string, (s: Scene) => RegExp[]> = {
  // docs/readme-quickstart.md (the README's section)
  "quickstart-grant": (s) => [
    re(`account ${s.account} funded with 200\\.00 USDC`),
    re(`granted agent ${s.agentId} to key ${s.agent}`),
  ],
  "quickstart-pay": (s) => [
    re(`paid 20\\.00 USDC: ${TX}`),
    re(
      `refused: PerPaymentCapExceeded — Payment of 30\\.00 USDC to ${short(s.merchant)} is over the per-payment cap of 25\\.00 USDC\\.`,
    ),
  ],
  "quickstart-rotate-revoke": (s) => [
    re(`rotated agent ${s.agentId} to key ${A}`),
    re(
      `refused: AgentUnknown — Key ${short(s.agent)} is not the agent's current key \\(it was never granted, was rotated away, or the agent was revoked\\)\\.`,
    ),
    re(`revoked agent ${s.agentId}: may act now false \\(AgentIsRevoked\\)`),
  ],

  // docs/integrator-guide.md
  "integrator-deploy": (s) => [
    re(`account ${s.account} \\(predicted ${s.account}\\), owner ${s.owner}`),
    re(`funded: 500 USDC, EntryPoint deposit 0\\.2 ETH`),
  ],
  "integrator-grant": (s) => [
    re(`granted agent ${s.agentId} to key ${s.agent}`),
    re(
      `gas budget 0\\.72 ETH, mandate ${keccak256(stringToBytes("Buy office coffee and API credits, at most 100 USDC a day"))}`,
    ),
  ],
  "integrator-status": () => [
    re(`USDC: 25\\.00 USDC per payment, 100\\.00 USDC of 100\\.00 USDC left this period, 1000\\.00 USDC in total`),
    re(`period resets ${UTC}, gas budget left 0\\.72 ETH`),
    re(`may act now: (true|false \\(OutsideActiveHours\\), next at ${UTC})`),
  ],
  "integrator-signed-grant": (s) => [
    re(`signed a grant for agent ${agentIdFromNonceKey(2n)} \\(grant nonce 0, until ${UTC}\\)`),
    re(`submitted by ${s.agent}: agent ${agentIdFromNonceKey(2n)} has key ${A}`),
  ],
  "integrator-update": () => [re(`daily cap now 150\\.00 USDC, spent today 0\\.00 USDC`)],
  "integrator-rotate": (s) => [
    re(`rotated agent ${s.agentId} from key ${s.agent} to key ${A}`),
    re(`counters kept: 1000\\.00 USDC left in total`),
  ],
  "integrator-guardian": (s) => [
    re(`guardian ${s.guardian}`),
    re(`paused by the guardian: paused true, agent blocked by AgentsPaused`),
    re(`unpaused by the owner: paused false`),
  ],
  "integrator-revoke": (s) => [
    re(`revoked agent ${agentIdFromNonceKey(2n)}: key undefined, may act now false`),
    re(`revoked agent ${s.agentId}: key undefined, may act now false`),
    re(`AgentIsRevokedError: Agent ${short(s.agentId)} was revoked and can never act again\\.`),
  ],

  // docs/agent-guide.md (agent 1 granted 25 USDC per payment, 40 a day, to the merchant; see `scene`)
  "agent-new-key": () => [
    re(`new key ${A} saved to new-agent-key\\.json \\(mode 600\\)`),
    re(`logged, it shows AgentKey\\(${A}, privateKey: \\[redacted\\]\\)`),
  ],
  "agent-keystore": (s) => [re(`saved and loaded ${s.agent} \\(same key: true\\)`)],
  "agent-preflight": (s) => [
    re(`preflight 12\\.50 USDC to the merchant: ok`),
    re(
      `preflight 30\\.00 USDC to the merchant: PerPaymentCapExceeded — Payment of 30\\.00 USDC to ${short(s.merchant)} is over the per-payment cap of 25\\.00 USDC\\.`,
    ),
    re(
      `preflight 1\\.00 USDC to a stranger: MerchantNotAllowed — ${SHORT} is not one of the agent's merchants, so the agent may not pay it\\.`,
    ),
  ],
  "agent-bundler": () => [
    re(`paid 12\\.50 USDC through the bundler: success true, gas 0\\.\\d+ ETH`),
    re(`left today: 27\\.50 USDC, gas budget left: 0\\.\\d+ ETH`),
  ],
  "agent-direct": () => [re(`paid 20\\.00 USDC directly: success`)],
  "agent-refusal": (s) => {
    const periodCap = `Payment of 10\\.00 USDC to ${short(s.merchant)} would exceed the daily cap: 7\\.50 of 40\\.00 USDC left, resets in \\d+ h( \\d+ min)? \\(${UTC}\\)\\.`;
    return [
      re(`decoded offline: PeriodCapExceeded, amount 10000000, remaining 7500000 \\(token units\\)`),
      re(`refused: PeriodCapExceeded — ${periodCap}`),
      re(
        `refused by the bundler: MerchantNotAllowed — ${SHORT} is not one of the agent's merchants, so the agent may not pay it\\.`,
      ),
      re(`mined with success false: PeriodCapExceeded — ${periodCap}`),
    ];
  },
};

/** Scenes by file; any other file gets a fresh one (the account not yet deployed). */
const GRANTED_SCENE_FILES = new Set(["docs/agent-guide.md"]);

describe("Documentation snippets, run against anvil and Alto from the packed package", function () {
  this.timeout(120_000);

  const byFile = DOC_FILES.map((file) => ({
    file,
    snippets: extractSnippets(file, readFileSync(join(REPO, file), "utf8")),
  })).filter((f) => f.snippets.length > 0);

  const processes = processGroup();
  let pkg: PackedStopline;
  let publicClient: PublicClient;
  let alto: LocalProcess | undefined;
  let rpcUrl: string;
  let bundlerUrl: string;
  let factory: Address;
  let usdc: Address;
  const deployerKey = hdKey(0);
  let deployerWallet: ReturnType<typeof walletOf>;

  function walletOf(key: Hex | ReturnType<typeof hdKey>) {
    return createWalletClient({
      account: typeof key === "string" ? privateKeyToAccount(key) : key,
      chain: foundry,
      transport: http(rpcUrl),
      pollingInterval: 100,
    });
  }

  async function mined(hash: Hex) {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`setup transaction ${hash} reverted`);
    return receipt;
  }

  before(async function () {
    processes.open();
    const [packed, anvil] = await Promise.all([packedStopline(), startAnvil(processes)]);
    pkg = packed;
    rpcUrl = anvil.url;
    publicClient = createPublicClient({ chain: foundry, transport: http(rpcUrl), pollingInterval: 100 });
    deployerWallet = walletOf(deployerKey);
    await deployCanonicalEntryPoint(deployerWallet, publicClient);

    const artifact = (file: string, name: string) =>
      JSON.parse(readFileSync(join(REPO, "artifacts", "contracts", file, `${name}.json`), "utf8")) as {
        abi: readonly unknown[];
        bytecode: Hex;
      };
    const deploy = async (file: string, name: string, args: readonly unknown[]) => {
      const a = artifact(file, name);
      const hash = await deployerWallet.deployContract({ abi: a.abi, bytecode: a.bytecode, args } as never);
      return (await mined(hash)).contractAddress!;
    };
    const implementation = await deploy("AgentAccount.sol", "AgentAccount", [ENTRY_POINT_ADDRESS]);
    factory = await deploy("AgentAccountFactory.sol", "AgentAccountFactory", [implementation]);
    usdc = await deploy("tokens/TestUSDC.sol", "TestUSDC", [deployerKey.address]);

    ({ url: bundlerUrl, proc: alto } = await startAlto(processes, {
      rpcUrl,
      executorPrivateKey: toHex(hdKey(8).getHdKey().privateKey!),
      utilityPrivateKey: toHex(hdKey(9).getHdKey().privateKey!),
    }));
  });

  after(async function () {
    await processes.close();
  });

  /** Fresh keys, funded; with `granted`, the account exists, holds 1,000 USDC and 1 ETH of EntryPoint deposit, and
   *  agent 1 has 25 USDC per payment, 40 a day (from now), 1,000 in all, the merchant, 0.5 ETH of gas budget. */
  async function scene(granted: boolean): Promise<Scene> {
    const keys = { owner: generatePrivateKey(), agent: generatePrivateKey(), guardian: generatePrivateKey() };
    const [owner, agent, guardian] = [keys.owner, keys.agent, keys.guardian].map((k) => privateKeyToAccount(k).address);
    const merchant = privateKeyToAccount(generatePrivateKey()).address;
    for (const who of [owner, agent, guardian]) {
      await publicClient.request({
        method: "anvil_setBalance" as never,
        params: [who, toHex(parseEther("10"))] as never,
      });
    }
    await mined(
      await deployerWallet.writeContract({
        address: usdc,
        abi: testUsdcAbi,
        functionName: "mint",
        args: [owner, parseUnits("10000", 6)],
      }),
    );
    const account = await publicClient.readContract({
      address: factory,
      abi: agentAccountFactoryAbi,
      functionName: "getAddress",
      args: [owner, 0n],
    });
    const agentId = agentIdFromNonceKey(1n);
    if (granted) {
      const ownerWallet = walletOf(keys.owner);
      await mined((await createAgentAccount(ownerWallet, { factory, owner })).hash);
      await mined(
        await ownerWallet.writeContract({
          address: usdc,
          abi: erc20Abi,
          functionName: "transfer",
          args: [account, parseUnits("1000", 6)],
        }),
      );
      await mined(
        await ownerWallet.writeContract({
          address: ENTRY_POINT_ADDRESS,
          abi: entryPointV08Abi,
          functionName: "depositTo",
          args: [account],
          value: parseEther("1"),
        }),
      );
      const policy = await buildPolicy(publicClient, {
        limits: [{ token: usdc, perPayment: "25", perPeriod: "40", lifetime: "1000" }],
        merchants: [merchant],
        period: "1d",
        // valid from an hour before the chain's time: anvil mines the setup's blocks a second apart, faster than the
        // wall clock, and Alto checks an op's validAfter against the wall clock
        validity: { from: Number((await publicClient.getBlock()).timestamp) - 3600 },
        gasBudget: "0.5",
        mandate: { text: "Buy API credits for the research agent, at most 40 USDC a day" },
        address: account,
      });
      await mined(await grantAgent(ownerWallet, { address: account, agentId, key: agent, policy }));
    }
    return {
      rpcUrl,
      bundlerUrl,
      factory,
      usdc,
      owner,
      agent,
      guardian,
      merchant,
      account,
      agentId,
      env: {
        STOPLINE_RPC_URL: rpcUrl,
        STOPLINE_BUNDLER_URL: bundlerUrl,
        STOPLINE_FACTORY: factory,
        STOPLINE_USDC: usdc,
        STOPLINE_OWNER_KEY: keys.owner,
        STOPLINE_AGENT_KEY: keys.agent,
        STOPLINE_AGENT_ADDRESS: agent,
        STOPLINE_GUARDIAN_KEY: keys.guardian,
        STOPLINE_ACCOUNT: account,
        STOPLINE_AGENT_ID: agentId,
        STOPLINE_KEY_PASSWORD: "a long passphrase only this test knows",
        MERCHANT: merchant,
      },
    };
  }

  it("finds runnable snippets, each with expected output, all importing only the package, viem and node:", function () {
    const all = byFile.flatMap((f) => f.snippets);
    expect(all.length, "no runnable snippets found").to.be.greaterThan(0);
    const names = new Set(all.map((s) => s.name));
    for (const { file, snippets } of byFile) {
      const seen = new Set<string>();
      for (const s of snippets) {
        const where = `${s.file}:${s.line} (${s.name})`;
        expect(seen.has(s.name), `${where}: snippet name used twice in ${file}`).to.equal(false);
        seen.add(s.name);
        expect(EXPECTED[s.name], `${where}: add its expected output lines to EXPECTED`).to.be.a("function");
        const specifiers = [...s.code.matchAll(/^\s*import\s[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
        expect(specifiers.length, `${where}: imports nothing`).to.be.greaterThan(0);
        for (const spec of specifiers) {
          expect(
            /^(stopline|viem)(\/[a-z0-9/-]+)?$/.test(spec) || spec.startsWith("node:"),
            `${where}: imports "${spec}" (only "stopline", "viem" and node: builtins)`,
          ).to.equal(true);
        }
        expect(s.code, `${where}: reads no environment variable`).to.match(/process\.env/);
        expect(s.code, `${where}: has a hard-coded key or hash`).to.not.match(/0x[0-9a-fA-F]{64}/);
        expect(s.code, `${where}: has a hard-coded address`).to.not.match(/0x[0-9a-fA-F]{40}/);
        expect(s.code, `${where}: prints nothing to check`).to.match(/console\.log/);
      }
    }
    for (const name of Object.keys(EXPECTED)) {
      expect(names.has(name), `EXPECTED names "${name}", which no file has`).to.equal(true);
    }
  });

  it("type-checks every snippet against the packed declarations", async function () {
    const dir = join(pkg.appDir, "typecheck");
    mkdirSync(dir, { recursive: true });
    for (const { file, snippets } of byFile) {
      for (const [i, s] of snippets.entries()) {
        const base = `${file.replace(/[^a-zA-Z0-9]+/g, "-")}-${String(i + 1).padStart(2, "0")}-${s.name}`;
        // each snippet is its own module (top-level await, no shared names)
        writeFileSync(join(dir, `${base}.ts`), `${s.code}\nexport {};\n`);
      }
    }
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: ["ES2023"],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          allowImportingTsExtensions: true,
          types: ["node"],
          typeRoots: [join(REPO, "node_modules", "@types")],
        },
        include: ["*.ts"],
      }),
    );
    const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
    const errors = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: dir, env: childEnv() }).then(
      () => "",
      (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ""}${e.stderr ?? ""}` || "tsc failed",
    );
    expect(errors, "type errors in the snippets").to.equal("");
  });

  for (const { file, snippets } of byFile) {
    describe(file, function () {
      let s: Scene;
      let dir: string;

      before(async function () {
        s = await scene(GRANTED_SCENE_FILES.has(file));
        dir = join(pkg.appDir, file.replace(/[^a-zA-Z0-9]+/g, "-"));
        mkdirSync(dir, { recursive: true });
      });

      for (const [i, snippet] of snippets.entries()) {
        it(`runs snippet ${i + 1}, "${snippet.name}" (line ${snippet.line})`, async function () {
          const path = join(dir, `${String(i + 1).padStart(2, "0")}-${snippet.name}.ts`);
          writeFileSync(path, snippet.code);
          const out = await runNode(path, { cwd: dir, env: childEnv(s.env), timeoutMs: 60_000 });
          const shown = `--- stdout ---\n${out.stdout}\n--- stderr ---\n${out.stderr}`;
          if (out.code !== 0 && alto) console.log(alto.output());
          expect(out.code, `${file}:${snippet.line} "${snippet.name}" failed\n${shown}`).to.equal(0);
          expect(out.stderr.trim(), `${file}:${snippet.line} "${snippet.name}" wrote to stderr\n${shown}`).to.equal("");
          const lines = out.stdout.split("\n");
          let at = 0;
          for (const want of EXPECTED[snippet.name](s)) {
            const found = lines.findIndex((l, k) => k >= at && want.test(l));
            expect(
              found,
              `${file}:${snippet.line} "${snippet.name}" did not print ${want} (in order)\n${shown}`,
            ).to.not.equal(-1);
            at = found + 1;
          }
        });
      }
    });
  }
});

// The package as users get it: `npm pack` (its prepack script runs `npm run build`), the tarball installed offline into
// an empty folder outside the repo (test/helpers/packed.ts), then a consumer script there, run with this Node, that
// imports every subpath export and uses it against a real anvil node: the ethers bindings deploy the contracts, the viem
// actions create an account and grant an agent, the agent pays and is refused, the keystore saves and loads its key.
import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";
import { createPublicClient, createWalletClient, http, toHex } from "viem";
import { foundry } from "viem/chains";

import { deployCanonicalEntryPoint, processGroup, startAnvil } from "./helpers/local-chain.js";
import { type PackedStopline, REPO, childEnv, packedStopline, runNode } from "./helpers/packed.js";
import { hdKey } from "./helpers/stopline.js";

const run = promisify(execFile);

/** The subpath exports, and the file each resolves to. */
const EXPORTS = {
  ".": "./dist/index",
  "./actions": "./dist/actions/index",
  "./errors": "./dist/errors/index",
  "./abis": "./dist/abis/index",
  "./ethers": "./dist/ethers/index",
  "./agent": "./dist/agent/index",
  "./agent/keystore": "./dist/agent/keystore",
  "./x402": "./dist/x402/index",
} as const;

/** The consumer: an ESM TypeScript file (Node 24 strips the types) that imports every subpath export. */
const CONSUMER = `
import { JsonRpcProvider, Wallet } from "ethers";
import { createPublicClient, createWalletClient, http, parseEther, parseUnits } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";

import * as stopline from "stopline";
import { agentAccountAbi, ENTRY_POINT_V08_ADDRESS, testUsdcAbi } from "stopline/abis";
import { getAgentStatus, grantAgent } from "stopline/actions";
import { AgentCallsRefusedError, createAgentKey, erc20Payment, payAsAgent } from "stopline/agent";
import { loadAgentKey, saveAgentKey } from "stopline/agent/keystore";
import { PerPaymentCapExceededError, decodeGuardrailViolation } from "stopline/errors";
import { AgentAccountFactory__factory, AgentAccount__factory, TestUSDC__factory } from "stopline/ethers";
import { StoplineX402Scheme, laneNonce } from "stopline/x402";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(\`set \${name}\`);
  return value;
};
const rpc = env("STOPLINE_RPC_URL");
const merchant = env("MERCHANT") as \`0x\${string}\`;

// ./ethers: the TypeChain factories deploy the implementation, the factory and the test token
// (cacheTimeout -1: a cached nonce would be reused by the back-to-back deployments on an automining node)
const provider = new JsonRpcProvider(rpc, undefined, { pollingInterval: 100, cacheTimeout: -1 });
const deployerWallet = new Wallet(env("STOPLINE_DEPLOYER_KEY"), provider);
const implementation = await new AgentAccount__factory(deployerWallet).deploy(ENTRY_POINT_V08_ADDRESS);
await implementation.waitForDeployment();
const factoryContract = await new AgentAccountFactory__factory(deployerWallet).deploy(await implementation.getAddress());
await factoryContract.waitForDeployment();
const token = await new TestUSDC__factory(deployerWallet).deploy(deployerWallet.address);
await token.waitForDeployment();
// (the factory's own getAddress(owner, salt) hides ethers' getAddress(): use .target)
const factory = factoryContract.target as \`0x\${string}\`;
const usdc = (await token.getAddress()) as \`0x\${string}\`;
console.log("ethers: deployed", await token.symbol(), "and a factory for", await factoryContract.implementation());

// the root export: create the owner's account
const publicClient = createPublicClient({ chain: foundry, transport: http(rpc), pollingInterval: 100 });
const deployer = createWalletClient({ account: privateKeyToAccount(env("STOPLINE_DEPLOYER_KEY") as \`0x\${string}\`), chain: foundry, transport: http(rpc), pollingInterval: 100 });
const owner = createWalletClient({ account: privateKeyToAccount(env("STOPLINE_OWNER_KEY") as \`0x\${string}\`), chain: foundry, transport: http(rpc), pollingInterval: 100 });
const mined = async (hash: \`0x\${string}\`) => {
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(\`transaction \${hash} reverted\`);
};
const { address: account, hash } = await stopline.createAgentAccount(owner, { factory, owner: owner.account.address });
await mined(hash);
console.log("account owner matches:", (await publicClient.readContract({ address: account, abi: agentAccountAbi, functionName: "owner" })) === owner.account.address);
// ./abis: mint the account 100 USDC
await mined(await deployer.writeContract({ address: usdc, abi: testUsdcAbi, functionName: "mint", args: [account, parseUnits("100", 6)] }));

// ./agent and ./agent/keystore: a new agent key, saved encrypted and loaded back
const agentKey = createAgentKey();
const keyFile = "agent-key.json";
await saveAgentKey(keyFile, agentKey, "correct horse battery staple", { scryptN: 2 ** 12 });
const loaded = await loadAgentKey(keyFile, "correct horse battery staple");
console.log("keystore round trip:", loaded.address === agentKey.address, "logged as", String(agentKey));

// ./actions: grant the agent a policy built in human terms
const agentId = stopline.agentIdFromNonceKey(1n);
const policy = await stopline.buildPolicy(publicClient, {
  limits: [{ token: usdc, perPayment: "25", perPeriod: "100", lifetime: "1000" }],
  merchants: [merchant],
  period: "1d",
  validity: { from: "now" },
});
await mined(await grantAgent(owner, { address: account, agentId, key: loaded.address, policy }));
const bound = AgentAccount__factory.connect(account, provider);
console.log("granted:", (await bound.agentOf(loaded.address)) === agentId);

// the agent pays directly (its key pays the gas)
await mined(await deployer.sendTransaction({ to: loaded.address, value: parseEther("1") }));
const agent = createWalletClient({ account: loaded, chain: foundry, transport: http(rpc), pollingInterval: 100 });
await mined(await payAsAgent(agent, { address: account, agentId, calls: [erc20Payment({ token: usdc, to: merchant, amount: parseUnits("10", 6) })] }));
console.log("merchant balance:", await publicClient.readContract({ address: usdc, abi: testUsdcAbi, functionName: "balanceOf", args: [merchant] }));

// ./errors: a payment over the per-payment cap is refused before anything is sent, and explained
const tooMuch = [erc20Payment({ token: usdc, to: merchant, amount: parseUnits("30", 6) })];
try {
  await payAsAgent(agent, { address: account, agentId, calls: tooMuch });
  throw new Error("the payment over the cap was not refused");
} catch (error) {
  if (!(error instanceof AgentCallsRefusedError)) throw error;
  const violation = decodeGuardrailViolation(error, { calls: tooMuch, tokens: { [usdc]: { symbol: "USDC", decimals: 6 } } });
  console.log("refused:", violation?.name, "-", violation?.message);
  const thrown = stopline.toGuardrailError(violation!);
  console.log("error class:", thrown instanceof PerPaymentCapExceededError, thrown.name);
}

const status = await getAgentStatus(publicClient, { address: account, agentId });
console.log("left today:", status.tokens[0].remainingInPeriod.formatted, "may act now:", status.mayActNow);
// ./x402: the lane nonce the toolkit derives is the account's, and the x402 scheme takes the agent's key
const nonce = laneNonce({ address: account, agentId, token: usdc, period: 1n, i: 0n });
const viewed = await publicClient.readContract({ address: account, abi: agentAccountAbi, functionName: "laneNonce", args: [agentId, usdc, 1n, 0n] });
const scheme = new StoplineX402Scheme({ client: agent, address: account, agentId, key: loaded });
console.log("x402 lane nonce matches:", nonce === viewed, "scheme:", scheme.scheme);
console.log("one module per subpath:", stopline.grantAgent === grantAgent && stopline.payAsAgent === payAsAgent && stopline.decodeGuardrailViolation === decodeGuardrailViolation && stopline.laneNonce === laneNonce);
`;

const CONSUMER_TSCONFIG = (repo: string) => ({
  compilerOptions: {
    target: "ES2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    lib: ["ES2023", "DOM"],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ["node"],
    typeRoots: [join(repo, "node_modules", "@types")],
  },
  include: ["*.ts"],
});

describe("The packed package, installed outside the repo", function () {
  this.timeout(120_000);

  let pkg: PackedStopline;
  const processes = processGroup();
  let rpcUrl: string;

  before(async function () {
    processes.open();
    const [packed, anvil] = await Promise.all([packedStopline(), startAnvil(processes)]);
    pkg = packed;
    rpcUrl = anvil.url;
    const publicClient = createPublicClient({ chain: foundry, transport: http(rpcUrl), pollingInterval: 100 });
    const deployer = createWalletClient({
      account: hdKey(0),
      chain: foundry,
      transport: http(rpcUrl),
      pollingInterval: 100,
    });
    await deployCanonicalEntryPoint(deployer, publicClient);
  });

  after(async function () {
    await processes.close();
  });

  it("was built by npm pack's prepack script into dist/ just now", function () {
    const built = readFileSync(join(REPO, "dist", "index.js"));
    expect(built.length).to.be.greaterThan(0);
    const { mtimeMs } = statSync(join(REPO, "dist", "index.js"));
    expect(mtimeMs).to.be.at.least(pkg.packStartedAt - 1_000);
    expect(pkg.tarball.startsWith(REPO)).to.equal(false);
    expect(pkg.appDir.startsWith(REPO)).to.equal(false);
  });

  it("declares ESM, no side effects, viem as a peer (ethers optional) and exactly the subpath exports", function () {
    const m = pkg.manifest as {
      name: string;
      type: string;
      sideEffects: unknown;
      main: string;
      types: string;
      exports: Record<string, unknown>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
      dependencies?: Record<string, string>;
    };
    expect(m.name).to.equal("stopline");
    expect(m.type).to.equal("module");
    expect(m.sideEffects).to.equal(false);
    expect(m.main).to.equal("./dist/index.js");
    expect(m.types).to.equal("./dist/index.d.ts");
    expect(Object.keys(m.exports).sort()).to.deep.equal([...Object.keys(EXPORTS), "./package.json"].sort());
    expect(m.exports["./package.json"]).to.equal("./package.json");
    for (const [subpath, base] of Object.entries(EXPORTS)) {
      // "types" first: TypeScript takes the first condition that matches
      expect(m.exports[subpath], subpath).to.deep.equal({ types: `${base}.d.ts`, default: `${base}.js` });
      expect(Object.keys(m.exports[subpath] as object)[0], subpath).to.equal("types");
    }
    expect(Object.keys(m.peerDependencies).sort()).to.deep.equal(["ethers", "viem"]);
    expect(m.peerDependenciesMeta.ethers?.optional).to.equal(true);
    expect(m.peerDependenciesMeta.viem?.optional, "viem is required").to.not.equal(true);
    // the toolkit itself imports nothing but viem (and, for ./ethers, ethers)
    expect(m.dependencies ?? {}).to.not.have.any.keys("viem", "ethers", "hardhat");
  });

  it("ships dist/ with a .d.ts beside every module, every export target, and no tests or build leftovers", function () {
    const paths = pkg.files.map((f) => f.path);
    const set = new Set(paths);
    for (const base of Object.values(EXPORTS)) {
      expect(set.has(`${base.slice(2)}.js`), `${base}.js`).to.equal(true);
      expect(set.has(`${base.slice(2)}.d.ts`), `${base}.d.ts`).to.equal(true);
      expect(existsSync(join(pkg.installedDir, `${base}.js`)), `installed ${base}.js`).to.equal(true);
    }
    const modules = paths.filter((p) => p.startsWith("dist/") && p.endsWith(".js"));
    expect(modules.length).to.be.greaterThan(40);
    for (const js of modules) expect(set.has(js.replace(/\.js$/, ".d.ts")), `${js} has no .d.ts`).to.equal(true);
    expect(set.has("package.json")).to.equal(true);
    expect(set.has("README.md")).to.equal(true);

    const allowedTop = new Set(["dist", "src", "package.json", "README.md", "LICENSE"]);
    const strays = paths.filter((p) => !allowedTop.has(p.split("/")[0]));
    expect(strays, "files outside dist/, src/, package.json, README.md").to.deep.equal([]);
    const leftovers = paths.filter((p) => /(^|\/)(node_modules|artifacts|cache|types|coverage)\//.test(p));
    expect(leftovers).to.deep.equal([]);
    expect(paths.filter((p) => /\.(sol|t\.sol|test\.ts|env)$|(^|\/)\.env/.test(p))).to.deep.equal([]);
  });

  it("ships no test contracts: neither contracts/test/ nor their TypeChain bindings under dist/ethers", function () {
    const testContracts = pkg.files
      .map((f) => f.path)
      .filter((p) => /(^|\/)test\//.test(p) || /(AdminMock|AgentPathMock|SolTest)/.test(p));
    expect(testContracts, "test-only files in the tarball").to.deep.equal([]);
  });

  it("type-checks a consumer against the packed declarations, runs it, and every subpath export works on anvil", async function () {
    writeFileSync(join(pkg.appDir, "consumer.ts"), CONSUMER.trimStart());
    writeFileSync(join(pkg.appDir, "tsconfig.json"), JSON.stringify(CONSUMER_TSCONFIG(REPO), null, 2));
    const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
    const checked = await run(process.execPath, [tsc, "-p", "tsconfig.json"], {
      cwd: pkg.appDir,
      env: childEnv(),
    }).then(
      () => "",
      (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ""}${e.stderr ?? ""}` || "tsc failed",
    );
    expect(checked, "tsc errors in the consumer").to.equal("");

    const env = childEnv({
      STOPLINE_RPC_URL: rpcUrl,
      STOPLINE_DEPLOYER_KEY: toHex(hdKey(0).getHdKey().privateKey!),
      STOPLINE_OWNER_KEY: toHex(hdKey(1).getHdKey().privateKey!),
      MERCHANT: hdKey(5).address,
    });
    const out = await runNode("consumer.ts", { cwd: pkg.appDir, env, timeoutMs: 60_000 });
    expect(out.code, `consumer failed:\n${out.stdout}\n${out.stderr}`).to.equal(0);
    const lines = out.stdout.trim().split("\n");
    const expected = [
      /^ethers: deployed USDC and a factory for 0x[0-9a-fA-F]{40}$/,
      /^account owner matches: true$/,
      /^keystore round trip: true logged as AgentKey\(0x[0-9a-fA-F]{40}, privateKey: \[redacted\]\)$/,
      /^granted: true$/,
      /^merchant balance: 10000000n$/,
      /^refused: PerPaymentCapExceeded - Payment of 30\.00 USDC to 0x[0-9a-fA-F]{4}…[0-9a-fA-F]{4} is over the per-payment cap of 25\.00 USDC\.$/,
      /^error class: true PerPaymentCapExceededError$/,
      /^left today: 90\.00 USDC may act now: true$/,
      /^x402 lane nonce matches: true scheme: exact$/,
      /^one module per subpath: true$/,
    ];
    expect(lines.length, out.stdout).to.equal(expected.length);
    expected.forEach((re, i) => expect(lines[i], `line ${i + 1} of:\n${out.stdout}`).to.match(re));
    expect(out.stderr.trim(), "the consumer wrote to stderr").to.equal("");
  });
});

// x402 end to end: anvil (its clock is the wall clock), the Alto bundler (safe mode), a local facilitator (the official @x402/core facilitator with
// @x402/evm's exact scheme and a viem wallet, over HTTP), a resource server (express with the official @x402/express
// middleware) charging in the test USDC, and the agent fetching with @x402/fetch's wrapFetchWithPayment and the
// toolkit's StoplineX402Scheme. Payments within the caps settle; every refusal is refused twice: by the toolkit's
// preflight, which names the limit, and (with the preflight off) by the facilitator, which answers 402 and moves nothing.
// A mixed sequence of on-chain and lane payments over four periods never moves more than the period and lifetime caps.
// The lane opens on both agent paths: as a UserOperation through Alto (the account pays, charged to the agent's gas
// budget) in the first period, then directly (the agent key pays) and behind an ordinary payment.
//
// The facilitator checks validAfter/validBefore against its own clock (Date.now) and the token against the block's;
// to reach the next period the test moves both together: anvil's clock (evm_increaseTime) and, for this process
// (where the facilitator runs), Date.now by the same amount. The tests run in order, each from the state the previous
// one left. Alto, which checks validity windows against the wall clock, is used before the clocks move (the policy's
// window is open-ended, so moving them later does not matter to it).

import { x402Client } from "@x402/core/client";
import { decodePaymentResponseHeader } from "@x402/core/http";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { wrapFetchWithPayment } from "@x402/fetch";
import { expect } from "chai";
import {
  type Address,
  type Hex,
  type PublicClient,
  createPublicClient,
  createWalletClient,
  getAddress,
  http,
  parseEventLogs,
  toHex,
} from "viem";
import { type BundlerClient, createBundlerClient } from "viem/account-abstraction";
import { foundry } from "viem/chains";

import { agentAccountAbi } from "../src/abis/index.js";
import { pauseAgents, revokeAgent, unpauseAgents, updateAgentPolicy } from "../src/actions/index.js";
import { AgentCallsRefusedError, erc20Payment, payAsAgent, toStoplineAgentAccount } from "../src/agent/index.js";
import { GuardrailViolationError, decodeGuardrailViolation } from "../src/errors/index.js";
import { hourOfWeek } from "../src/utils/hours.js";
import { StoplineX402Scheme, ensureLaneOpen, laneNonce } from "../src/x402/index.js";
import {
  type LocalProcess,
  deployCanonicalEntryPoint,
  processGroup,
  startAlto,
  startAnvil,
  altoGasPrice,
  type Artifact,
  artifact,
} from "./helpers/local-chain.js";
import { ENTRY_POINT_ADDRESS, USDC, agentIdFor, hdKey, policy, rejection } from "./helpers/stopline.js";
import { type X402Services, startX402Services } from "./helpers/x402.js";

const HOUR = 3_600n;
/** The agent's caps: 5 per payment, 10 per (hourly) period, 24 in total; a lane of 3 payments of at most 2. */
const CAPS = { perPayment: USDC(5), perPeriod: USDC(10), lifetime: USDC(24), laneCount: 3, laneMax: USDC(2) };

describe("x402 end to end: facilitator, resource server and a Stopline agent paying over its lane", function () {
  this.timeout(60_000);

  const keys = {
    deployer: hdKey(0),
    owner: hdKey(1),
    agent: hdKey(3),
    merchant: hdKey(5),
    stranger: hdKey(7),
    facilitator: hdKey(8),
    eoaPayer: hdKey(9),
    executor: hdKey(2),
    utility: hdKey(6),
  };
  const agentId = agentIdFor(1);
  const processes = processGroup();
  const realNow = Date.now;
  let skew = 0;
  let anvil: LocalProcess;
  let anvilUrl: string;
  let publicClient: PublicClient;
  let services: X402Services;
  let bundler: BundlerClient;
  let account: Address;
  let usdc: Address;
  let lanePolicy: ReturnType<typeof policy>;
  /** Gas of each lane settlement, and of the EOA payer's. */
  const gas = { lane: [] as bigint[], eoa: [] as bigint[] };
  const started = realNow();

  const usdcAbi = artifact("TestUSDC", "tokens/TestUSDC").abi;
  const wallet = (key: (typeof keys)[keyof typeof keys]) =>
    createWalletClient({ account: key, chain: foundry, transport: http(anvilUrl), pollingInterval: 50 });
  const balanceOf = (who: Address) =>
    publicClient.readContract({
      address: usdc,
      abi: usdcAbi,
      functionName: "balanceOf",
      args: [who],
    }) as Promise<bigint>;
  const balances = async () => ({
    account: await balanceOf(account),
    merchant: await balanceOf(keys.merchant.address),
    stranger: await balanceOf(keys.stranger.address),
  });
  const spent = () =>
    publicClient.readContract({ address: account, abi: agentAccountAbi, functionName: "spent", args: [agentId, usdc] });
  const lane = () =>
    publicClient.readContract({ address: account, abi: agentAccountAbi, functionName: "lane", args: [agentId, usdc] });
  const chainNow = async () => (await publicClient.getBlock()).timestamp;
  const periodEnd = async () =>
    (
      await publicClient.readContract({
        address: account,
        abi: agentAccountAbi,
        functionName: "remaining",
        args: [agentId, usdc],
      })
    )[3];

  /** Moves anvil's clock and this process's (the facilitator's) together. */
  async function advance(seconds: bigint) {
    await publicClient.request({ method: "evm_increaseTime" as never, params: [toHex(seconds)] as never });
    await publicClient.request({ method: "evm_mine" as never, params: [] as never });
    skew += Number(seconds) * 1000;
  }

  /** The agent's x402 fetch: the Stopline scheme for `exact` on this chain, the test USDC allowed. */
  function agentFetch(preflight = true) {
    const scheme = new StoplineX402Scheme({
      client: wallet(keys.agent),
      address: account,
      agentId,
      key: keys.agent,
      preflight,
      tokens: { [usdc]: { symbol: "USDC", decimals: 6 } },
    });
    const client = new x402Client()
      .register(services.network, scheme)
      .setSpendControls({ allowedAssets: [{ network: services.network, asset: usdc }] });
    let failure: Error | undefined;
    client.onPaymentCreationFailure(async (ctx) => void (failure = ctx.error));
    return { scheme, fetch: wrapFetchWithPayment(fetch, client), failure: () => failure };
  }

  /** Buys `path` (expects 200 and a successful settlement); returns the settlement's receipt. */
  async function buy(path: string, price: bigint) {
    const before = await balances();
    const { fetch: pay } = agentFetch();
    const response = await pay(`${services.url}${path}`);
    expect(response.status, `GET ${path}`).to.equal(200);
    expect(await response.json()).to.deep.equal({ report: path });
    const settled = decodePaymentResponseHeader(response.headers.get("PAYMENT-RESPONSE")!);
    expect(settled.success).to.equal(true);
    expect(getAddress(settled.payer!)).to.equal(account);
    const receipt = await publicClient.getTransactionReceipt({ hash: settled.transaction as Hex });
    expect(receipt.status).to.equal("success");
    expect(getAddress(receipt.from)).to.equal(keys.facilitator.address);
    gas.lane.push(receipt.gasUsed);
    const after = await balances();
    expect(after).to.deep.equal({ ...before, account: before.account - price, merchant: before.merchant + price });
    return receipt;
  }

  /**
   * `path` is refused: the preflight throws the guardrail error `name` with `args` (and its sentence reaches the
   * caller), and with the preflight off the facilitator refuses the signature (402), nothing settles, nothing moves.
   */
  async function refused(path: string, name: string, args: Record<string, unknown>, sentence: string) {
    const before = { b: await balances(), spent: await spent(), settled: services.settlements.length };
    const withPreflight = agentFetch();
    const thrown = await rejection<Error>(withPreflight.fetch(`${services.url}${path}`));
    // wrapFetchWithPayment rethrows the scheme's error as a plain Error: its first line is the toolkit's sentence
    expect(thrown.message.split("\n")[0]).to.equal(`Failed to create payment payload: ${sentence}`);
    const e = withPreflight.failure();
    expect(e).to.be.instanceOf(GuardrailViolationError);
    const v = (e as GuardrailViolationError).violation;
    expect(e!.name).to.equal(`${name}Error`);
    expect(v.name).to.equal(name);
    for (const [k, want] of Object.entries(args)) {
      const got = (v as Record<string, unknown>)[k];
      expect(typeof got === "string" ? got.toLowerCase() : got, k).to.equal(
        typeof want === "string" ? want.toLowerCase() : want,
      );
    }
    expect(withPreflight.scheme.lastPayment).to.equal(undefined); // nothing was signed

    const refusalsBefore = services.refusals.length;
    const without = agentFetch(false);
    const response = await without.fetch(`${services.url}${path}`);
    expect(response.status).to.equal(402);
    expect(without.scheme.lastPayment).to.not.equal(undefined); // it signed, and the account said no
    expect(services.refusals.slice(refusalsBefore)).to.deep.equal([{ invalidReason: "invalid_exact_evm_signature" }]);
    expect({ b: await balances(), spent: await spent(), settled: services.settlements.length }).to.deep.equal(before);
  }

  /** A direct on-chain payment to the merchant (payAsAgent, with its preflight). */
  const payOnChain = async (amount: bigint) => {
    const hash = await payAsAgent(wallet(keys.agent), {
      address: account,
      agentId,
      calls: [erc20Payment({ token: usdc, to: keys.merchant.address, amount })],
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).to.equal("success");
    return receipt;
  };
  const onChainRefused = async (amount: bigint, name: string, args: Record<string, unknown>) => {
    const e = await rejection(payOnChain(amount), AgentCallsRefusedError);
    const v = decodeGuardrailViolation(e)!;
    expect(v.name).to.equal(name);
    for (const [k, want] of Object.entries(args)) expect((v as Record<string, unknown>)[k], k).to.equal(want);
  };

  before(async function () {
    processes.open();
    Date.now = () => realNow() + skew;
    try {
      ({ url: anvilUrl, proc: anvil } = await startAnvil(processes));
      expect(anvil.output()).to.include("(0) [redacted private key]");
      publicClient = createPublicClient({ chain: foundry, transport: http(anvilUrl), pollingInterval: 50 });
      const deployer = wallet(keys.deployer);
      const owner = wallet(keys.owner);
      const mined = async (hash: Hex) => {
        const r = await publicClient.waitForTransactionReceipt({ hash });
        expect(r.status).to.equal("success");
        return r;
      };
      await deployCanonicalEntryPoint(deployer, publicClient);
      const deploy = async (a: Artifact, args: unknown[]) =>
        (await mined(await deployer.deployContract({ abi: a.abi, bytecode: a.bytecode, args }))).contractAddress!;
      const implementation = await deploy(artifact("AgentAccount"), [ENTRY_POINT_ADDRESS]);
      const factoryArtifact = artifact("AgentAccountFactory");
      const factory = await deploy(factoryArtifact, [implementation]);
      usdc = getAddress(await deploy(artifact("TestUSDC", "tokens/TestUSDC"), [keys.deployer.address]));
      await mined(
        await owner.writeContract({
          address: factory,
          abi: factoryArtifact.abi,
          functionName: "createAccount",
          args: [keys.owner.address, 0n],
        }),
      );
      account = (await publicClient.readContract({
        address: factory,
        abi: factoryArtifact.abi,
        functionName: "getAddress",
        args: [keys.owner.address, 0n],
      })) as Address;
      for (const [to, amount] of [
        [account, USDC(1_000)],
        [keys.eoaPayer.address, USDC(10)],
      ] as const) {
        await mined(
          await deployer.writeContract({ address: usdc, abi: usdcAbi, functionName: "mint", args: [to, amount] }),
        );
      }

      // hourly periods anchored 10 minutes ago: now is well inside the first one
      const now = await chainNow();
      lanePolicy = policy({
        validAfter: Number(now - 600n),
        period: Number(HOUR),
        limits: [{ token: usdc, ...CAPS }],
        merchants: [keys.merchant.address],
      });
      await mined(
        await owner.writeContract({
          address: account,
          abi: agentAccountAbi,
          functionName: "grantAgent",
          args: [agentId, keys.agent.address, lanePolicy],
        }),
      );

      // the account pays its UserOperations' gas (charged to the agent's gas budget)
      await mined(await deployer.sendTransaction({ to: account, value: 10n ** 18n }));
      const { url: altoUrl } = await startAlto(processes, {
        rpcUrl: anvilUrl,
        executorPrivateKey: toHex(keys.executor.getHdKey().privateKey!),
        utilityPrivateKey: toHex(keys.utility.getHdKey().privateKey!),
      });
      bundler = createBundlerClient({
        client: publicClient,
        transport: http(altoUrl),
        pollingInterval: 50,
        userOperation: {
          estimateFeesPerGas: () => altoGasPrice(bundler),
        },
      });

      const [, name, version] = (await publicClient.readContract({
        address: usdc,
        abi: usdcAbi,
        functionName: "eip712Domain",
      })) as [Hex, string, string];
      services = await startX402Services({
        facilitatorWallet: wallet(keys.facilitator),
        token: { address: usdc, name, version },
        routes: [
          { path: "/report", price: USDC(2), payTo: keys.merchant.address, body: { report: "/report" } },
          { path: "/premium", price: USDC(3), payTo: keys.merchant.address, body: { report: "/premium" } },
          { path: "/elsewhere", price: USDC(1), payTo: keys.stranger.address, body: { report: "/elsewhere" } },
        ],
      });
    } catch (error) {
      console.log(processes.output());
      throw error;
    }
  });

  after(async function () {
    Date.now = realNow;
    await services?.close();
    await processes.close();
    expect(processes.started().map((p) => p.name)).to.deep.equal(["anvil", "alto"]);
    for (const { name, child } of processes.started()) {
      expect(child.exitCode !== null || child.signalCode !== null, `${name} still running`).to.equal(true);
      expect(() => process.kill(child.pid!, 0), `${name} (pid ${child.pid}) still running`).to.throw(/ESRCH/);
    }
    const avg = (xs: bigint[]) => (xs.length ? xs.reduce((a, b) => a + b, 0n) / BigInt(xs.length) : 0n);
    console.log(
      `      x402 gas per settlement: Stopline lane ${avg(gas.lane)} (${gas.lane.length} settlements, min ${gas.lane.reduce((a, b) => (a < b ? a : b), gas.lane[0] ?? 0n)}), EOA payer ${avg(gas.eoa)}; ${(realNow() - started) / 1000} s`,
    );
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(processes.output());
  });

  it("within the caps: the agent opens its lane (a UserOperation through Alto), buys a report, the counters show the hold", async function () {
    const p1 = await periodEnd();
    const usage = (await publicClient.readContract({
      address: account,
      abi: agentAccountAbi,
      functionName: "agentUsage",
      args: [agentId],
    })) as readonly bigint[];
    const smartAccount = await toStoplineAgentAccount({
      client: publicClient,
      address: account,
      agentId,
      key: keys.agent,
    });
    const opened = await ensureLaneOpen(publicClient, {
      address: account,
      agentId,
      token: usdc,
      bundlerClient: bundler as never,
      smartAccount,
    });
    expect(opened).to.include({ opened: true, period: p1, slots: 3n, laneMax: USDC(2), givenBack: 0n });
    expect(opened.userOpHash).to.match(/^0x[0-9a-f]{64}$/);
    // on the agent's nonce key, its gas charged to the agent's gas budget
    expect(await smartAccount.getNonce()).to.equal((BigInt(agentId) << 64n) | 1n);
    const charged = (
      (await publicClient.readContract({
        address: account,
        abi: agentAccountAbi,
        functionName: "agentUsage",
        args: [agentId],
      })) as readonly bigint[]
    )[0];
    const { userOperation: op } = await bundler.getUserOperation({ hash: opened.userOpHash! });
    const maxCost = (op.callGasLimit + op.verificationGasLimit + op.preVerificationGas) * op.maxFeePerGas;
    expect(charged).to.equal(usage[0] + maxCost);
    // a second call in the same period sends nothing
    expect(await ensureLaneOpen(wallet(keys.agent), { address: account, agentId, token: usdc })).to.include({
      opened: false,
      period: p1,
    });
    expect(await spent()).to.deep.equal([USDC(6), USDC(6)]);
    await buy("/report", USDC(2));
    // the hold (3 x 2), not the payment; the token marked slot 0 used
    expect(await spent()).to.deep.equal([USDC(6), USDC(6)]);
    const used = await publicClient.readContract({
      address: usdc,
      abi: usdcAbi,
      functionName: "authorizationState",
      args: [account, laneNonce({ address: account, agentId, token: usdc, period: p1, i: 0n })],
    });
    expect(used).to.equal(true);
    expect(services.settlements).to.have.length(1);
  });

  it("the same server and facilitator settle an EOA payer with the stock x402 scheme (for comparison)", async function () {
    const client = new x402Client()
      .register(services.network, new ExactEvmScheme(keys.eoaPayer))
      .setSpendControls({ allowedAssets: [{ network: services.network, asset: usdc }] });
    const response = await wrapFetchWithPayment(fetch, client)(`${services.url}/report`);
    expect(response.status).to.equal(200);
    const settled = decodePaymentResponseHeader(response.headers.get("PAYMENT-RESPONSE")!);
    gas.eoa.push((await publicClient.getTransactionReceipt({ hash: settled.transaction as Hex })).gasUsed);
    expect(await balanceOf(keys.eoaPayer.address)).to.equal(USDC(8));
  });

  it("a price above laneMax is refused: PerPaymentCapExceeded", async function () {
    await refused(
      "/premium",
      "PerPaymentCapExceeded",
      { agentId, token: usdc, amount: USDC(3), limit: USDC(2), merchant: keys.merchant.address },
      `Payment of 3.00 USDC to 0x9965…A4dc is over the per-payment cap of 2.00 USDC.`,
    );
  });

  it("a server whose payTo is not one of the agent's merchants is refused: MerchantNotAllowed", async function () {
    await refused(
      "/elsewhere",
      "MerchantNotAllowed",
      { agentId, merchant: keys.stranger.address },
      `0x14dC…9955 is not one of the agent's merchants, so the agent may not pay it.`,
    );
  });

  it("while the agents are paused: AgentsPaused", async function () {
    const owner = wallet(keys.owner);
    await publicClient.waitForTransactionReceipt({ hash: await pauseAgents(owner, { address: account }) });
    await refused(
      "/report",
      "AgentsPaused",
      {},
      "All agents of this account are paused; the owner must unpause them before any agent can act.",
    );
    await publicClient.waitForTransactionReceipt({ hash: await unpauseAgents(owner, { address: account }) });
  });

  it("outside the agent's active hours: OutsideActiveHours", async function () {
    const owner = wallet(keys.owner);
    const now = await chainNow();
    const h = hourOfWeek(now);
    const update = (activeHours: bigint) =>
      updateAgentPolicy(owner, { address: account, agentId, policy: { ...lanePolicy, activeHours } });
    await publicClient.waitForTransactionReceipt({ hash: await update(1n << BigInt((h + 5) % 168)) });
    const v = await rejection<GuardrailViolationError>(agentFetch().scheme.sign(await requirementsOf("/report")));
    // allowed again in 5 hours, at the start of that hour
    const nextAllowedAt = (now / HOUR + 5n) * HOUR;
    await refused("/report", "OutsideActiveHours", { agentId, hourOfWeek: h, nextAllowedAt }, v.shortMessage);
    expect(v.shortMessage).to.match(/^The agent may not act during .*, outside its active hours; it may act next at /);
    await publicClient.waitForTransactionReceipt({ hash: await update(lanePolicy.activeHours) });
  });

  /** The requirements the server sends for `path` (from its 402). */
  async function requirementsOf(path: string) {
    const response = await fetch(`${services.url}${path}`);
    expect(response.status).to.equal(402);
    const required = JSON.parse(Buffer.from(response.headers.get("PAYMENT-REQUIRED")!, "base64").toString("utf8"));
    return required.accepts[0];
  }

  it("period 1: on-chain payments fit only in what the hold leaves (10 - 6 = 4)", async function () {
    const p1 = await periodEnd();
    await onChainRefused(USDC(5), "PeriodCapExceeded", { amount: USDC(5), remaining: USDC(4), resetsAt: p1 });
    await payOnChain(USDC(4));
    expect(await spent()).to.deep.equal([USDC(10), USDC(10)]);
    // moved out of the account this period: 2 (lane) + 4 (on-chain)
    expect(await balanceOf(account)).to.equal(USDC(1_000) - USDC(6));
  });

  it("period 2: an on-chain payment first, the lane opens behind it, and together they move exactly the period cap", async function () {
    const p1 = await periodEnd();
    await advance(HOUR);
    const p2 = await periodEnd();
    expect(p2).to.equal(p1 + HOUR);
    const start = await balanceOf(account);
    // 5 charged, then the lane opens: period 1's unused 2 slots (4) go back to the lifetime counter, 2 slots fit
    const receipt = await payOnChain(USDC(5));
    const opened = parseEventLogs({ abi: agentAccountAbi, logs: receipt.logs, eventName: "LaneOpened" });
    expect(opened.map((l) => l.args)).to.deep.equal([
      {
        agentId,
        token: usdc,
        period: p2,
        slots: 2n,
        laneMax: USDC(2),
        settledPeriod: p1,
        usedInSettled: 1n,
        givenBack: USDC(4),
      },
    ]);
    expect(await spent()).to.deep.equal([USDC(9), USDC(15)]);
    await payOnChain(USDC(1));
    await onChainRefused(USDC(1), "PeriodCapExceeded", { amount: USDC(1), remaining: 0n, resetsAt: p2 });
    await buy("/report", USDC(2));
    await buy("/report", USDC(2));
    // over the lane's count this period
    await refused(
      "/report",
      "LaneSlotUnavailable",
      { agentId, token: usdc, slot: 2n, slots: 2n },
      "Lane slot 2 for USDC (" +
        usdc.slice(0, 6) +
        "…" +
        usdc.slice(-4) +
        ") is already used or out of range: the lane holds 2 slots this period (0 to 1).",
    );
    expect(start - (await balanceOf(account))).to.equal(CAPS.perPeriod);
    expect(await spent()).to.deep.equal([USDC(10), USDC(16)]);
  });

  it("period 3: the lifetime cap holds across periods (24 in all)", async function () {
    const p2 = await periodEnd();
    await advance(HOUR);
    const p3 = await periodEnd();
    const opened = await ensureLaneOpen(wallet(keys.agent), { address: account, agentId, token: usdc });
    // nothing to give back (both slots used); 8 left in the lifetime: 3 slots of 2
    expect(opened).to.include({
      opened: true,
      period: p3,
      slots: 3n,
      settledPeriod: p2,
      usedInSettled: 2n,
      givenBack: 0n,
    });
    expect(await spent()).to.deep.equal([USDC(6), USDC(22)]);
    for (let i = 0; i < 3; i++) await buy("/report", USDC(2));
    await onChainRefused(USDC(3), "LifetimeCapExceeded", { amount: USDC(3), remaining: USDC(2) });
    await payOnChain(USDC(2));
    expect(await spent()).to.deep.equal([USDC(8), USDC(24)]);
    expect(USDC(1_000) - (await balanceOf(account))).to.equal(CAPS.lifetime);
  });

  it("period 4: the lifetime is spent, so the lane opens with no slot and nothing more moves", async function () {
    const p3 = await periodEnd();
    await advance(HOUR);
    const p4 = await periodEnd();
    const opened = await ensureLaneOpen(wallet(keys.agent), { address: account, agentId, token: usdc });
    expect(opened).to.include({
      opened: true,
      period: p4,
      slots: 0n,
      settledPeriod: p3,
      usedInSettled: 3n,
      givenBack: 0n,
    });
    expect(await lane()).to.deep.equal([p4, 0n, USDC(2)]);
    await refused(
      "/report",
      "LaneSlotUnavailable",
      { agentId, token: usdc, slot: 0n, slots: 0n },
      "The x402 lane for USDC (" +
        usdc.slice(0, 6) +
        "…" +
        usdc.slice(-4) +
        ") holds no slot in this period (it was closed, or the caps left no room for one); it opens again next period.",
    );
    await onChainRefused(USDC(1), "LifetimeCapExceeded", { amount: USDC(1), remaining: 0n });
    expect(USDC(1_000) - (await balanceOf(account))).to.equal(CAPS.lifetime);
  });

  it("after revocation: AgentIsRevoked", async function () {
    await publicClient.waitForTransactionReceipt({
      hash: await revokeAgent(wallet(keys.owner), { address: account, agentId }),
    });
    await refused("/report", "AgentIsRevoked", { agentId }, "Agent 0x0000…0001 was revoked and can never act again.");
  });
});

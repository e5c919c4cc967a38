// The Stopline demo: an owner shares an account with two AI agents, one of them misbehaves the ways agents have
// misbehaved in the news, and the chain refuses each attempt with a named, explained violation. Everything an
// integrator or an agent would do goes through the toolkit (src/). Every outcome is checked: if any step behaves
// differently from the story, the demo says which and exits 1.
//
//   npm run demo                                   fresh in-process Hardhat network
//   npm run demo -- --rpc-url http://127.0.0.1:8545  a running node (anvil, `npx hardhat node`): scripts/demo.mjs
//                                                    passes the URL in STOPLINE_DEMO_RPC_URL and selects `--network demo`
import { styleText } from "node:util";

import { network } from "hardhat";
import {
  type Address,
  type Hex,
  type TransactionReceipt,
  createWalletClient,
  custom,
  encodeFunctionData,
  erc20Abi,
  getAddress,
  isAddressEqual,
  parseEther,
  parseGwei,
  parseUnits,
} from "viem";
import { type UserOperation, toPackedUserOperation } from "viem/account-abstraction";
import { x402Client } from "@x402/core/client";
import { decodePaymentResponseHeader, wrapFetchWithPayment } from "@x402/fetch";

import {
  type AgentCall,
  type AgentKey,
  type GuardrailViolation,
  type ToStoplineAgentAccountReturnType,
  ENTRY_POINT_V08_ADDRESS,
  StoplineX402Scheme,
  agentAccountAbi,
  buildPolicy,
  createAgentAccount,
  createAgentKey,
  decodeUserOperationReceipt,
  entryPointV08Abi,
  erc20Approval,
  erc20Payment,
  estimateGasBudget,
  explainGuardrailViolation,
  formatAmount,
  getAgentStatus,
  grantAgent,
  pauseAgents,
  payAsAgent,
  randomAgentId,
  revokeAgent,
  rotateAgentKey,
  setGuardian,
  shortAddress,
  testUsdcAbi,
  timeZoneOffsetMinutes,
  toStoplineAgentAccount,
  unpauseAgents,
  toContractPolicy,
} from "../src/index.js";
import { deployEntryPoint } from "../test/helpers/fixture.js";
import { startX402Services } from "../test/helpers/x402.js";

// ---------------------------------------------------------------------------------------------- output and checks
const paint = (style: Parameters<typeof styleText>[0], text: string) => styleText(style, text);
const say = (text = "") => console.log(text);
const heading = (text: string) => say(`\n${paint(["bold", "cyan"], text)}`);
const ok = (text: string) => say(`  ${paint("green", "✓")} ${text}`);
const note = (text: string) => say(`    ${paint("dim", text)}`);

/** A step that did not go as the story says. */
class StoryMismatch extends Error {}
function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new StoryMismatch(what);
}
function same<T>(actual: T, expected: T, what: string) {
  check(actual === expected, `${what}: expected ${String(expected)}, got ${String(actual)}`);
}

// ---------------------------------------------------------------------------------------------- the clock
const TZ = "Europe/Berlin";
type LocalDate = { y: number; m: number; d: number };
/** Unix seconds of a local wall-clock time in Berlin. */
function berlin({ y, m, d }: LocalDate, hhmm: string): number {
  const [h, min] = hhmm.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, h, min);
  const t = wall - timeZoneOffsetMinutes(TZ, wall) * 60_000;
  return (wall - timeZoneOffsetMinutes(TZ, t) * 60_000) / 1000;
}
const addDays = ({ y, m, d }: LocalDate, n: number): LocalDate => {
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
};
/** `Tue 2031-03-04 09:30 Berlin` */
function when(seconds: bigint | number): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: TZ,
    weekday: "short",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(Number(seconds) * 1000);
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return `${p.weekday} ${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} Berlin`;
}

async function main() {
  // ---------------------------------------------------------------------------------------------- the world
  const conn = await network.getOrCreate();
  const { viem, networkHelpers } = conn;
  const publicClient = await viem.getPublicClient();
  const [deployer, owner, guardian, , , , , facilitatorWallet, bundler] = await viem.getWalletClients();
  const rpcUrl = conn.networkConfig.type === "http" ? process.env.STOPLINE_DEMO_RPC_URL : undefined;
  const mined = async (hash: Hex, what: string): Promise<TransactionReceipt> => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    same(receipt.status, "success", what);
    return receipt;
  };

  // A fixed weekday morning in the future: Tuesday 2031-03-04 09:30 in Berlin. On a node already past it (a second run
  // against the same node), the same weekday and time a whole number of weeks later.
  let today: LocalDate = { y: 2031, m: 3, d: 4 };
  const chainNow = Number((await publicClient.getBlock()).timestamp);
  while (berlin(today, "09:30") <= chainNow + 60) today = addDays(today, 7);
  await networkHelpers.time.increaseTo(berlin(today, "09:30"));

  say(paint("bold", "Stopline: an account an owner shares with AI agents, whose limits the chain itself enforces."));
  say(
    `Network: ${rpcUrl ?? "a fresh in-process Hardhat network"}. Chain clock set to ${when(berlin(today, "09:30"))}.`,
  );
  say("No bundler runs here: the demo is its own bundler (it simulates handleOps, then sends it from a bundler key).");

  const USDC = (amount: string) => parseUnits(amount, 6);
  const COFFEE = getAddress("0xc0ffee00000000000000000000000000000000c0");
  const API = getAddress("0xa9100000000000000000000000000000000000a9");
  const DATASETS = getAddress("0xda7a5e7000000000000000000000000000000da7");
  const MINING_POOL = getAddress("0xb17c010000000000000000000000000000000b17");

  heading("1. The owner sets up an account and grants two agents");
  await deployEntryPoint(conn);
  const implementation = await viem.deployContract("AgentAccount", [ENTRY_POINT_V08_ADDRESS]);
  const factory = await viem.deployContract("AgentAccountFactory", [implementation.address]);
  const usdc = (await viem.deployContract("TestUSDC", [deployer.account.address])).address;
  await mined(
    await deployer.writeContract({
      address: usdc,
      abi: testUsdcAbi,
      functionName: "mint",
      args: [owner.account.address, USDC("10000")],
    }),
    "minting test USDC",
  );
  ok(
    `EntryPoint v0.8 at ${shortAddress(ENTRY_POINT_V08_ADDRESS)}, Stopline factory at ${shortAddress(factory.address)}, test USDC (EIP-3009) at ${shortAddress(usdc)}`,
  );

  // One account per run (the salt is the start time), so that a node that already ran the demo gets a fresh one.
  const created = await createAgentAccount(owner, {
    factory: factory.address,
    owner: owner.account.address,
    salt: BigInt(berlin(today, "09:30")),
  });
  await mined(created.hash, "createAgentAccount");
  const account = created.address;
  await mined(
    await owner.writeContract({
      address: usdc,
      abi: erc20Abi,
      functionName: "transfer",
      args: [account, USDC("2000")],
    }),
    "funding USDC",
  );
  await mined(await owner.sendTransaction({ to: account, value: parseEther("0.5") }), "funding ETH");
  await mined(await setGuardian(owner, { address: account, guardian: guardian.account.address }), "setGuardian");
  const balanceOf = (who: Address) =>
    publicClient.readContract({ address: usdc, abi: erc20Abi, functionName: "balanceOf", args: [who] });
  same(await balanceOf(account), USDC("2000"), "the account's USDC");
  ok(
    `The owner ${shortAddress(owner.account.address)} created Stopline account ${shortAddress(account)}, funded it with 2000.00 USDC and 0.5 ETH, and made ${shortAddress(guardian.account.address)} its guardian`,
  );

  // Gas: each agent UserOperation here sets these limits and fee; the budget covers 4 a day for 30 days, plus 50 %.
  const OP_GAS = { callGasLimit: 300_000n, verificationGasLimit: 300_000n, preVerificationGas: 60_000n };
  const OP_FEES = { maxFeePerGas: parseGwei("2"), maxPriorityFeePerGas: parseGwei("1") };
  const opMaxCost =
    (OP_GAS.callGasLimit + OP_GAS.verificationGasLimit + OP_GAS.preVerificationGas) * OP_FEES.maxFeePerGas;
  const { gasBudget } = estimateGasBudget({
    paymentsPerPeriod: 4,
    periods: 30,
    maxFeePerGas: OP_FEES.maxFeePerGas,
    gasPerOp: OP_GAS.callGasLimit + OP_GAS.verificationGasLimit + OP_GAS.preVerificationGas,
  });
  const MANDATE = "Buy office coffee and API credits, at most 100 USDC a day";
  const HOURS = { days: "Mon-Fri", from: "09:00", to: "17:30", timeZone: TZ };
  const midnight = berlin(today, "00:00");

  const shopping = { name: "shopping agent", id: randomAgentId(), key: createAgentKey() };
  const shoppingPolicy = await buildPolicy(publicClient, {
    address: account,
    limits: [{ token: usdc, perPayment: "25", perPeriod: "100", lifetime: "1000" }],
    merchants: [COFFEE, API],
    period: "1d",
    validity: { from: midnight, for: "30d" },
    schedule: HOURS,
    scheduleAt: berlin(today, "09:30"),
    gasBudget,
    mandate: { text: MANDATE },
  });
  await mined(
    await grantAgent(owner, {
      address: account,
      agentId: shopping.id,
      key: shopping.key.address,
      policy: shoppingPolicy,
    }),
    "granting the shopping agent",
  );
  ok(`Granted the ${shopping.name} (key ${shortAddress(shopping.key.address)}, made with createAgentKey):`);
  note("25.00 USDC per payment, 100.00 USDC a day, 1000.00 USDC in total, to two merchants only:");
  note(`coffee roaster ${shortAddress(COFFEE)} and API credits shop ${shortAddress(API)}`);
  note(
    `Mon-Fri 09:00-17:30 ${TZ} (the chain counts whole UTC hours: 09:00-17:00), valid 30 days from ${when(midnight)}`,
  );
  note(
    `gas budget ${formatAmount(gasBudget, 18)} ETH (estimateGasBudget: 120 UserOperations of up to ${formatAmount(opMaxCost, 18)} ETH, +50 %)`,
  );
  note(`mandate: "${MANDATE}" (its keccak256 is in the policy)`);

  const research = { name: "research agent", id: randomAgentId(), key: createAgentKey() };
  const researchPolicy = await buildPolicy(publicClient, {
    address: account,
    limits: [{ token: usdc, perPayment: "10", perPeriod: "20", lifetime: "200", lane: { count: 2, max: "1" } }],
    merchants: [DATASETS],
    period: "1d",
    validity: { from: midnight, for: "7d" },
    maxCallsPerPeriod: 5,
    mandate: { text: "Buy datasets for the market report, at most 20 USDC a day" },
  });
  await mined(
    await grantAgent(owner, {
      address: account,
      agentId: research.id,
      key: research.key.address,
      policy: researchPolicy,
    }),
    "granting the research agent",
  );
  ok(
    `Granted the ${research.name} (key ${shortAddress(research.key.address)}): 10.00 USDC per payment, 20.00 a day, 200.00 in total,`,
  );
  note(
    `dataset shop ${shortAddress(DATASETS)} only, any hour, 5 calls a day, 7 days, no gas budget (it pays its own gas, directly)`,
  );
  note("and an x402 lane: at most 2 signed API payments a day of at most 1.00 USDC each");
  for (const agent of [shopping, research]) {
    await mined(
      await owner.sendTransaction({ to: agent.key.address, value: parseEther("0.05") }),
      "gas money for an agent key",
    );
  }

  // ---------------------------------------------------------------------------------------------- agent side
  const labels: Record<string, string> = {
    [COFFEE]: "coffee roaster",
    [API]: "API credits shop",
    [DATASETS]: "dataset shop",
    [MINING_POOL]: "mining pool",
    [account]: "the Stopline account",
    [shopping.key.address]: "the shopping agent's own key",
  };
  const wallet = (key: AgentKey) =>
    createWalletClient({
      account: key.account,
      chain: publicClient.chain,
      transport: custom(conn.provider),
      pollingInterval: 50,
      cacheTime: 0,
    });
  const smartAccount = (agentId: Hex, key: AgentKey) =>
    toStoplineAgentAccount({ client: publicClient, address: account, agentId, key: key.account });
  const status = (agentId: Hex) => getAgentStatus(publicClient, { address: account, agentId });

  /** A signed UserOperation for `calls` (fixed gas values: there is no bundler to estimate them). */
  async function userOp(
    agent: ToStoplineAgentAccountReturnType,
    calls: readonly AgentCall[],
  ): Promise<UserOperation<"0.8">> {
    const op: UserOperation<"0.8"> = {
      sender: agent.address,
      nonce: await agent.getNonce(),
      callData: await agent.encodeCalls(calls),
      ...OP_GAS,
      ...OP_FEES,
      signature: "0x",
    };
    return { ...op, signature: await agent.signUserOperation(op) };
  }

  /** What a bundler does: simulate handleOps (a refusal in validation throws here), then send it and wait. */
  async function bundle(op: UserOperation<"0.8">): Promise<TransactionReceipt> {
    const args = [[toPackedUserOperation(op)], bundler.account.address] as const;
    const call = { address: ENTRY_POINT_V08_ADDRESS, abi: entryPointV08Abi, functionName: "handleOps", args } as const;
    await publicClient.simulateContract({ ...call, account: bundler.account });
    return mined(await bundler.writeContract({ ...call, gas: 5_000_000n }), "handleOps");
  }

  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );

  /** Prints a refusal as its violation's name and one-sentence explanation, after checking it is the expected one. */
  async function refused(
    attempt: string,
    path: string,
    refusal: unknown,
    expected: { name: string } & Partial<Record<keyof GuardrailViolation, unknown>>,
  ) {
    check(refusal !== undefined, `${attempt}: expected a refusal (${expected.name}), but it went through`);
    const v = await explainGuardrailViolation(publicClient, refusal, { address: account, labels });
    check(v !== undefined, `${attempt}: the refusal could not be decoded: ${String(refusal)}`);
    for (const [field, want] of Object.entries(expected)) {
      const got = (v as Record<string, unknown>)[field];
      const equal =
        typeof want === "string" && typeof got === "string" && /^0x[0-9a-f]{40}$/i.test(want)
          ? isAddressEqual(want as Address, got as Address)
          : got === want;
      check(equal, `${attempt}: expected ${field} ${String(want)}, got ${String(got)} (${v.name}: ${v.message})`);
    }
    say(`  ${paint("red", "✗")} ${attempt} ${paint("dim", `[${path}]`)}`);
    say(`    ${paint(["bold", "red"], v.name)}: ${v.message}`);
  }

  /** UserOperation refused in validation: the bundler's simulation reverts with the account's error (AA23). */
  const refusedInValidation = async (op: UserOperation<"0.8">) => failure(bundle(op));
  /** UserOperation refused at execution: mined with success == false, the reason in UserOperationRevertReason. */
  const refusedAtExecution = async (op: UserOperation<"0.8">) => {
    const receipt = await bundle(op);
    return decodeUserOperationReceipt(receipt) === undefined ? undefined : receipt;
  };

  async function expectRemaining(agentId: Hex, today: string, total: string, what: string) {
    const s = await status(agentId);
    same(s.tokens[0].remainingInPeriod.amount, USDC(today), `${what}: left today`);
    same(s.tokens[0].remainingInLifetime.amount, USDC(total), `${what}: left in total`);
    return s;
  }

  // ---------------------------------------------------------------------------------------------- the story
  heading("2. The agents pay, within their policies");
  const shopper = await smartAccount(shopping.id, shopping.key);
  const coffeeOp = await bundle(await userOp(shopper, [erc20Payment({ token: usdc, to: COFFEE, amount: USDC("25") })]));
  check(
    (await explainGuardrailViolation(publicClient, coffeeOp, { address: account })) === undefined,
    "the coffee UserOperation should succeed",
  );
  same(await balanceOf(COFFEE), USDC("25"), "the coffee roaster's USDC");
  ok(
    `The ${shopping.name} paid the coffee roaster 25.00 USDC through a UserOperation (toStoplineAgentAccount, handleOps)`,
  );

  await mined(
    await payAsAgent(wallet(shopping.key), {
      address: account,
      agentId: shopping.id,
      calls: [erc20Payment({ token: usdc, to: API, amount: USDC("20") })],
    }),
    "the direct payment",
  );
  same(await balanceOf(API), USDC("20"), "the API shop's USDC");
  ok(
    `The ${shopping.name} paid the API credits shop 20.00 USDC directly (payAsAgent, after the checkAgentCalls preflight)`,
  );

  await mined(
    await payAsAgent(wallet(research.key), {
      address: account,
      agentId: research.id,
      calls: [erc20Payment({ token: usdc, to: DATASETS, amount: USDC("7.5") })],
    }),
    "the research payment",
  );
  same(await balanceOf(DATASETS), USDC("7.5"), "the dataset shop's USDC");
  ok(`The ${research.name} paid the dataset shop 7.50 USDC directly`);
  const [lanePeriod, laneSlots, laneMax] = await publicClient.readContract({
    address: account,
    abi: agentAccountAbi,
    functionName: "lane",
    args: [research.id, usdc],
  });
  same(laneSlots, 2n, "the research agent's lane slots");
  same(laneMax, USDC("1"), "the research agent's lane maximum");
  same(lanePeriod, BigInt(berlin(addDays(today, 1), "00:00")), "the research agent's lane period");
  note("that payment also opened its x402 lane for today: 2 x 1.00 USDC held in its counters, like a card hold");

  const afterPay = await expectRemaining(shopping.id, "55", "955", "after the payments");
  same(afterPay.gas.charged.amount, opMaxCost, "the gas budget charged for one UserOperation");
  same(afterPay.tokens[0].periodResetsAt, BigInt(berlin(addDays(today, 1), "00:00")), "when the daily budget resets");
  const t0 = afterPay.tokens[0];
  ok(
    `Status (getAgentStatus): spent ${t0.spentInPeriod.formatted} today; left ${t0.remainingInPeriod.formatted} of ${t0.perPeriod.formatted} today and ${t0.remainingInLifetime.formatted} of ${t0.lifetime.formatted} in total`,
  );
  note(`the daily budget resets ${when(t0.periodResetsAt)}; gas budget left ${afterPay.gas.remaining.formatted}`);

  heading("3. The research agent buys paid API responses over x402, up to its lane limit");
  // The facilitator runs in this process and checks validAfter/validBefore against Date.now, the token against the
  // chain's clock. The demo's chain lives in 2031, so for this step the process clock follows the chain's (outside a
  // demo, chain and facilitator share the real time).
  const realNow = Date.now;
  const skew = Number((await publicClient.getBlock()).timestamp) * 1000 - realNow();
  Date.now = () => realNow() + skew;
  const [, tokenName, tokenVersion] = await publicClient.readContract({
    address: usdc,
    abi: testUsdcAbi,
    functionName: "eip712Domain",
  });
  const DATASET_PATH = "/datasets/eu-coffee-prices";
  const api = await startX402Services({
    facilitatorWallet: createWalletClient({
      account: facilitatorWallet.account,
      chain: publicClient.chain,
      transport: custom(conn.provider),
      pollingInterval: 50,
      cacheTime: 0,
    }),
    token: { address: usdc, name: tokenName, version: tokenVersion },
    routes: [
      {
        path: DATASET_PATH,
        price: USDC("1"),
        payTo: DATASETS,
        body: { dataset: "eu-coffee-prices", rows: 1200, preview: [{ week: "2031-W09", eurPerKg: 8.42 }] },
      },
    ],
  });
  try {
    const scheme = new StoplineX402Scheme({
      client: wallet(research.key),
      address: account,
      agentId: research.id,
      key: research.key.account,
      labels,
    });
    const client = new x402Client()
      .register(api.network, scheme)
      .setSpendControls({ allowedAssets: [{ network: api.network, asset: usdc }] });
    let creationFailure: Error | undefined;
    client.onPaymentCreationFailure(async (ctx) => void (creationFailure = ctx.error));
    const payingFetch = wrapFetchWithPayment(fetch, client);
    ok(
      `The dataset shop's API (${api.url}) answers 402 Payment Required: 1.00 USDC, with the official @x402/express middleware and an x402 facilitator (@x402/core, @x402/evm) that settles on this chain`,
    );
    for (const slot of [0n, 1n]) {
      const before = await balanceOf(DATASETS);
      const response = await payingFetch(`${api.url}${DATASET_PATH}`);
      same(response.status, 200, `the paid API response (slot ${slot})`);
      const body = (await response.json()) as { dataset: string; rows: number };
      const settled = decodePaymentResponseHeader(response.headers.get("PAYMENT-RESPONSE")!);
      check(settled.success && isAddressEqual(settled.payer as Address, account), "the x402 settlement");
      const receipt = await mined(settled.transaction as Hex, "the x402 settlement");
      same(await balanceOf(DATASETS), before + USDC("1"), "the dataset shop's USDC after an x402 payment");
      same(scheme.lastPayment?.i, slot, "the lane slot used");
      ok(
        `The ${research.name} fetched ${DATASET_PATH} through wrapFetchWithPayment and StoplineX402Scheme: HTTP 200, "${body.dataset}" (${body.rows} rows)`,
      );
      note(
        `paid 1.00 USDC from the Stopline account with lane slot ${slot}'s signature; the facilitator settled it (${receipt.gasUsed} gas), no agent transaction`,
      );
    }
    const third = await failure(payingFetch(`${api.url}${DATASET_PATH}`));
    check(third !== undefined, "a third x402 payment today should be refused");
    await refused(
      "It asks for the same dataset a third time today",
      "x402, stopped by the scheme's preflight (checkLanePayment): nothing was signed",
      creationFailure,
      { name: "LaneSlotUnavailable", slot: 2n, slots: 2n },
    );
    same(api.settlements.length, 2, "x402 settlements");
  } finally {
    await api.close();
    Date.now = realNow;
  }
  same(await balanceOf(DATASETS), USDC("9.5"), "the dataset shop's USDC after x402");

  heading("4. The shopping agent misbehaves, the ways agents in the news have");
  const accountUsdc = await balanceOf(account);
  await refused(
    "It pays 20 USDC to a crypto mining pool",
    "UserOperation, refused in validation: no gas charged",
    await refusedInValidation(
      await userOp(shopper, [erc20Payment({ token: usdc, to: MINING_POOL, amount: USDC("20") })]),
    ),
    { name: "MerchantNotAllowed", merchant: MINING_POOL, aaCode: "AA23" },
  );
  same((await status(shopping.id)).gas.charged.amount, opMaxCost, "gas charged after a refusal in validation");

  await refused(
    "It approves itself an allowance of 1,000,000 USDC",
    "direct call",
    await failure(
      payAsAgent(wallet(shopping.key), {
        address: account,
        agentId: shopping.id,
        preflight: false,
        calls: [erc20Approval({ token: usdc, spender: shopping.key.address, amount: USDC("1000000") })],
      }),
    ),
    { name: "MerchantNotAllowed", merchant: shopping.key.address },
  );
  same(
    await publicClient.readContract({
      address: usdc,
      abi: erc20Abi,
      functionName: "allowance",
      args: [account, shopping.key.address],
    }),
    0n,
    "the agent's allowance",
  );

  const sliced = await refusedAtExecution(
    await userOp(
      shopper,
      [1, 2, 3].map(() => erc20Payment({ token: usdc, to: API, amount: USDC("25") })),
    ),
  );
  await refused(
    "It buys 75 USDC of API credits in three 25 USDC slices, with 55 USDC left today",
    "UserOperation, mined and refused at execution",
    sliced,
    { name: "PeriodCapExceeded", amount: USDC("25"), remaining: USDC("5") },
  );
  same((await status(shopping.id)).gas.charged.amount, 2n * opMaxCost, "gas charged after a refusal at execution");
  note(
    `nothing was paid, but the op's gas (${formatAmount(opMaxCost, 18)} ETH) stays charged to the gas budget: gas is spending`,
  );

  const grantItself = encodeFunctionData({
    abi: agentAccountAbi,
    functionName: "grantAgent",
    args: [
      randomAgentId(),
      createAgentKey().address,
      toContractPolicy({ ...shoppingPolicy, merchants: [MINING_POOL] }),
    ],
  });
  await refused(
    "It calls the account's own grantAgent to make itself a new agent that may pay the mining pool",
    "UserOperation, refused in validation",
    await refusedInValidation(
      await userOp(shopper, [{ to: account, target: account, value: 0n, data: grantItself, callData: grantItself }]),
    ),
    { name: "CallNotAllowed", target: account, selector: grantItself.slice(0, 10) },
  );

  const evening = berlin(today, "20:00");
  await networkHelpers.time.increaseTo(evening);
  say(`  ${paint("yellow", "⏱")} The chain clock moves to ${when(evening)}.`);
  await refused(
    "It buys coffee for 5 USDC at 20:00",
    "direct call, stopped by payAsAgent's preflight: nothing was sent",
    await failure(
      payAsAgent(wallet(shopping.key), {
        address: account,
        agentId: shopping.id,
        calls: [erc20Payment({ token: usdc, to: COFFEE, amount: USDC("5") })],
      }),
    ),
    { name: "OutsideActiveHours", nextAllowedAt: BigInt(berlin(addDays(today, 1), "09:00")) },
  );
  same(await balanceOf(account), accountUsdc, "the account's USDC after the misbehaviours");
  same(await balanceOf(MINING_POOL), 0n, "the mining pool's USDC");
  await expectRemaining(shopping.id, "55", "955", "after the misbehaviours");

  heading("5. The humans step in");
  const oldKey = shopping.key;
  shopping.key = createAgentKey();
  labels[oldKey.address] = "the shopping agent's old key";
  labels[shopping.key.address] = "the shopping agent's new key";
  await mined(
    await rotateAgentKey(owner, { address: account, agentId: shopping.id, newKey: shopping.key.address }),
    "rotateAgentKey",
  );
  await mined(
    await owner.sendTransaction({ to: shopping.key.address, value: parseEther("0.05") }),
    "gas money for the new key",
  );
  const rotated = await expectRemaining(shopping.id, "55", "955", "after the rotation");
  same(rotated.key, shopping.key.address, "the shopping agent's key");
  ok(`The owner rotated the ${shopping.name}'s key to ${shortAddress(shopping.key.address)}; the budget is kept:`);
  note(
    `left ${rotated.tokens[0].remainingInPeriod.formatted} today and ${rotated.tokens[0].remainingInLifetime.formatted} in total, as before`,
  );
  await refused(
    "The old key tries to pay the coffee roaster 5 USDC",
    "direct call",
    await failure(
      payAsAgent(wallet(oldKey), {
        address: account,
        agentId: shopping.id,
        preflight: false,
        calls: [erc20Payment({ token: usdc, to: COFFEE, amount: USDC("5") })],
      }),
    ),
    { name: "AgentUnknown", key: oldKey.address },
  );

  await mined(await pauseAgents(guardian, { address: account }), "pauseAgents");
  same((await status(shopping.id)).blockedBy, "AgentsPaused", "status while paused");
  ok(`The guardian ${shortAddress(guardian.account.address)} paused all agents`);
  await refused(
    "The shopping agent, with its new key, tries to pay the coffee roaster 5 USDC",
    "UserOperation, refused in validation",
    await refusedInValidation(
      await userOp(await smartAccount(shopping.id, shopping.key), [
        erc20Payment({ token: usdc, to: COFFEE, amount: USDC("5") }),
      ]),
    ),
    { name: "AgentsPaused" },
  );

  await mined(await unpauseAgents(owner, { address: account }), "unpauseAgents");
  await mined(await revokeAgent(owner, { address: account, agentId: research.id }), "revokeAgent");
  const resumed = await status(shopping.id);
  same(resumed.paused, false, "paused after unpauseAgents");
  same(resumed.nextMayActAt, BigInt(berlin(addDays(today, 1), "09:00")), "when the shopping agent may act next");
  ok(
    `The owner unpaused the agents (the ${shopping.name} may act again ${when(resumed.nextMayActAt!)}) and revoked the ${research.name}`,
  );
  await refused(
    `The research agent (id ${shortAddress(research.id)}) tries to pay the dataset shop 5 USDC`,
    "direct call",
    await failure(
      payAsAgent(wallet(research.key), {
        address: account,
        agentId: research.id,
        preflight: false,
        calls: [erc20Payment({ token: usdc, to: DATASETS, amount: USDC("5") })],
      }),
    ),
    { name: "AgentIsRevoked", agentId: research.id },
  );

  heading("6. Where things stand");
  const rows = [["agent", "spent", "left today", "left in total", "status"]];
  for (const agent of [shopping, research]) {
    const s = await status(agent.id);
    for (const t of s.tokens) {
      const left = [t.remainingInPeriod.formatted, t.remainingInLifetime.formatted];
      rows.push([agent.name, t.spentInLifetime.formatted, ...left, s.revoked ? "revoked" : "active"]);
    }
  }
  same(rows[1].join("|"), "shopping agent|45.00 USDC|55.00 USDC|955.00 USDC|active", "the shopping agent's row");
  same(rows[2].join("|"), "research agent|9.50 USDC|0.00 USDC|0.00 USDC|revoked", "the research agent's row");
  same(await balanceOf(account), USDC("2000") - USDC("54.5"), "the account's USDC at the end");
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  rows.forEach((r, i) => {
    const line = r.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join("   ");
    say(`  ${i === 0 ? paint("bold", line) : line}`);
  });
  say(
    `\n${paint(["bold", "green"], "Every step went as the story says: each refusal came from the account itself, on-chain.")}`,
  );
}

try {
  await main();
} catch (e) {
  process.exitCode = 1;
  if (e instanceof StoryMismatch)
    console.error(`\n${paint(["bold", "red"], "The story went differently:")} ${e.message}`);
  else console.error(`\n${paint(["bold", "red"], "The demo failed:")}`, e);
}

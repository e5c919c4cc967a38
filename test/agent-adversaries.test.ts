// The adversarial suite: real attacker contracts (contracts/test/Adversaries.sol) against an agent holding a valid key,
// on the direct path and as UserOperations through the real EntryPoint (bundles of several ops where it matters). Every
// refusal is checked with its exact error and a snapshot of the whole state, the attackers' balances, allowances and
// the agents' policies included (THREATS classes 1, 11 and 12).
import { expect } from "chai";
import { network } from "hardhat";
import { type Address, type Hex, encodeFunctionData, parseEther, parseGwei } from "viem";

import {
  DAY,
  type OpOutcome,
  type RefusalCase,
  type World,
  BATCH_MODE,
  deployAgentWorld,
  encodeErr,
  encodeExecutions,
  err,
  expectError,
  onBothPaths,
  pays,
  readState,
  refusal,
  refusesOnBothPaths,
  revertDataOf,
  sendBundle,
  sendDirect,
} from "./agent-shared.js";
import {
  type PackedUserOperation,
  ROLES,
  type TokenLimit,
  USDC,
  limit as tokenLimit,
  maxCost,
  nonceFor,
} from "./helpers/stopline.js";

const conn = await network.create();

/** One token limit, lane off; every limit of this suite is built here. */
const limit = (token: Address, perPayment: bigint, perPeriod: bigint, lifetime: bigint): TokenLimit =>
  tokenLimit({ token, perPayment, perPeriod, lifetime });

// ERC-1967 implementation slot: an agent must never move it
const IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

/**
 * The agent world plus the attackers: a hook token and its re-entering merchant, a fee-on-transfer token, a pull-payment
 * merchant and a bundler's beneficiary. Agent 1 may pay both new tokens (25 per payment, 100 a day, 1,000 ever) to the
 * hook merchant, the pull merchant and merchants A and B.
 */
async function adversaryWorld() {
  const w = await deployAgentWorld(conn);
  const hookToken = await w.viem.deployContract("AdversaryHookToken");
  const hookMerchant = await w.viem.deployContract("AdversaryHookMerchant");
  const feeToken = await w.viem.deployContract("AdversaryFeeToken");
  const puller = await w.viem.deployContract("AdversaryPullMerchant");
  const beneficiary = await w.viem.deployContract("AdversaryBeneficiary");
  await hookToken.write.mint([w.accountAddress, USDC(10_000)]);
  await feeToken.write.mint([w.accountAddress, USDC(10_000)]);
  // enough deposit for ops priced in thousands of gwei (class 11)
  await w.entryPoint.write.depositTo([w.accountAddress], {
    value: parseEther("50"),
    account: w.wallets.deployer.account,
  });
  const policyA = {
    ...w.policy1,
    limits: [
      ...w.policy1.limits,
      limit(hookToken.address, USDC(25), USDC(100), USDC(1_000)),
      limit(feeToken.address, USDC(25), USDC(100), USDC(1_000)),
    ],
    merchants: [...w.policy1.merchants, hookMerchant.address, puller.address],
  };
  await w.account.write.updatePolicy([w.agentId, policyA]);

  const holders = [w.accountAddress, w.addr.merchantA, w.addr.merchantB, hookMerchant.address, puller.address];
  const extraState = async () => ({
    hook: await Promise.all(holders.map((h) => hookToken.read.balanceOf([h]))),
    fee: await Promise.all(holders.map((h) => feeToken.read.balanceOf([h]))),
    feeSupply: await feeToken.read.totalSupply(),
    pullerAllowances: [
      await w.usdc.read.allowance([w.accountAddress, puller.address]),
      await feeToken.read.allowance([w.accountAddress, puller.address]),
    ],
    pulled: await puller.read.pulled([w.usdc.address]),
    hooks: await hookMerchant.read.hooks(),
    lastRevert: await hookMerchant.read.lastRevert(),
    beneficiary: [await beneficiary.read.received(), await w.publicClient.getBalance({ address: beneficiary.address })],
    newTokensSpent: await Promise.all(
      [w.agentId, w.agentId2].flatMap((id) =>
        [hookToken.address, feeToken.address].map(async (t) => [...(await w.account.read.spent([id, t]))]),
      ),
    ),
    // the policies, the guardian and the implementation: no agent attempt may change any of them
    agents: await Promise.all([w.agentId, w.agentId2].map((id) => w.account.read.getAgent([id]))),
    guardian: await w.account.read.guardian(),
    implementation: await w.publicClient.getStorageAt({ address: w.accountAddress, slot: IMPLEMENTATION_SLOT }),
  });
  return { ...w, hookToken, hookMerchant, feeToken, puller, beneficiary, policyA, extraState };
}

type AdversaryWorld = Awaited<ReturnType<typeof adversaryWorld>>;
const load = () => conn.networkHelpers.loadFixture(adversaryWorld) as Promise<AdversaryWorld>;
const adv = (w: World) => w as AdversaryWorld;
const refuses = (title: string, c: RefusalCase) => refusesOnBothPaths(title, load, c);

const usdcTransfer = (w: World, to: Hex, amount: bigint) => w.erc20(w.usdc.address, "transfer", to, amount);
const usdcApprove = (w: World, to: Hex, amount: bigint) => w.erc20(w.usdc.address, "approve", to, amount);
const hookPay = (w: World, amount: bigint, to: Hex = adv(w).hookMerchant.address) =>
  w.erc20(adv(w).hookToken.address, "transfer", to, amount);
const feePay = (w: World, to: Hex, amount: bigint) => w.erc20(adv(w).feeToken.address, "transfer", to, amount);
const drainCall = (w: World, token: Address = w.usdc.address) =>
  w.call(
    adv(w).puller.address,
    encodeFunctionData({ abi: adv(w).puller.abi, functionName: "drain", args: [token, w.accountAddress] }),
  );
const updateA = (w: AdversaryWorld, overrides: Partial<AdversaryWorld["policyA"]>) =>
  w.account.write.updatePolicy([w.agentId, { ...w.policyA, ...overrides }]);
const withLimit = (w: AdversaryWorld, l: TokenLimit) =>
  w.policyA.limits.map((x) => (x.token === l.token ? { ...x, ...l } : x));
const bundle = async (w: World, ops: PackedUserOperation[]): Promise<OpOutcome[]> => {
  const r = await sendBundle(w, ops);
  if (!r.mined) expect.fail(`handleOps reverted: ${r.data}`);
  return r.ops;
};
const dayOf = (w: World, n: bigint) => w.dayEnd(w.t0) + (n - 1n) * DAY + 60n; // a minute into day n (today is day 0)

describe("adversaries: a merchant whose token hook re-enters the account (class 12)", function () {
  const reentries: [string, (w: World) => Hex][] = [
    [
      "the same agent's executeAsAgent, paying itself more",
      (w) =>
        encodeFunctionData({
          abi: w.account.abi,
          functionName: "executeAsAgent",
          args: [w.agentId, [hookPay(w, USDC(25))]],
        }),
    ],
    [
      "another agent's executeAsAgent",
      (w) =>
        encodeFunctionData({
          abi: w.account.abi,
          functionName: "executeAsAgent",
          args: [w.agentId2, [usdcTransfer(w, w.addr.merchantA, USDC(25))]],
        }),
    ],
    [
      "execute (the owner's batch), draining the token to itself",
      (w) =>
        encodeFunctionData({
          abi: w.account.abi,
          functionName: "execute",
          args: [BATCH_MODE, encodeExecutions([hookPay(w, USDC(5_000))])],
        }),
    ],
    [
      "updatePolicy, lifting its own caps",
      (w) =>
        encodeFunctionData({
          abi: w.account.abi,
          functionName: "updatePolicy",
          args: [
            w.agentId,
            {
              ...adv(w).policyA,
              limits: withLimit(adv(w), limit(adv(w).hookToken.address, 2n ** 127n, 2n ** 127n, 2n ** 127n)),
            },
          ],
        }),
    ],
    [
      "rotateAgentKey, onto a key of its own",
      (w) =>
        encodeFunctionData({
          abi: w.account.abi,
          functionName: "rotateAgentKey",
          args: [w.agentId, w.addr.stranger],
        }),
    ],
    [
      "upgradeToAndCall",
      (w) =>
        encodeFunctionData({
          abi: w.account.abi,
          functionName: "upgradeToAndCall",
          args: [w.implementation.address, "0x"],
        }),
    ],
  ];
  for (const [what, payload] of reentries) {
    refuses(`refuses re-entry into ${what} from the token's receive hook, undoing the whole batch`, {
      setup: async (w) => void (await adv(w).hookMerchant.write.arm([w.accountAddress, payload(w), false])),
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(10)), hookPay(w, USDC(5))] }),
      direct: () => err("AgentReentrancy"),
      userOp: { execution: () => err("AgentReentrancy") },
      view: "empty",
    });
  }

  onBothPaths("gives a merchant that swallows the refusal nothing beyond the payment it was made", async (path) => {
    const w = await load();
    const inner = encodeFunctionData({
      abi: w.account.abi,
      functionName: "executeAsAgent",
      args: [w.agentId, [hookPay(w, USDC(25))]],
    });
    await w.hookMerchant.write.arm([w.accountAddress, inner, true]);
    await pays(w, path, { calls: [hookPay(w, USDC(5))] });
    expect(await w.hookMerchant.read.hooks()).to.equal(1n);
    expect(await w.hookMerchant.read.lastRevert()).to.equal(encodeErr(w, err("AgentReentrancy")));
    expect(await w.hookToken.read.balanceOf([w.hookMerchant.address])).to.equal(USDC(5));
    expect(await w.hookToken.read.balanceOf([w.accountAddress])).to.equal(USDC(10_000) - USDC(5));
    expect(await w.account.read.spent([w.agentId, w.hookToken.address])).to.deep.equal([USDC(5), USDC(5)]);
  });

  it("fails only the re-entering op of a bundle; the lock does not outlive it, so the next op pays", async function () {
    const w = await load();
    const inner = encodeFunctionData({
      abi: w.account.abi,
      functionName: "executeAsAgent",
      args: [w.agentId, [hookPay(w, USDC(25))]],
    });
    await w.hookMerchant.write.arm([w.accountAddress, inner, false]);
    const before = await readState(w);
    const op1 = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(10)), hookPay(w, USDC(5))]);
    const op2 = await w.agentOp([usdcTransfer(w, w.addr.merchantB, USDC(7))], { nonce: nonceFor(1n, 1n) });
    const op3 = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(3))], {
      agentId: w.agentId2,
      signer: ROLES.agent2,
    });
    const outcomes = await bundle(w, [op1, op2, op3]);
    expect(outcomes.map((o) => o.success)).to.deep.equal([false, true, true]);
    expectError(w, outcomes[0].revertReason, err("AgentReentrancy"));
    const after = await readState(w);
    expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(3));
    expect(await w.usdc.read.balanceOf([w.addr.merchantB])).to.equal(USDC(7));
    expect(after.extra).to.deep.equal(before.extra); // hook token, hook merchant, policies: untouched
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(7), USDC(7)]);
    expect(await w.account.read.spent([w.agentId2, w.usdc.address])).to.deep.equal([USDC(3), USDC(3)]);
    expect(after.agents[0].usage[0]).to.equal(before.agents[0].usage[0] + maxCost(op1) + maxCost(op2));
    expect(after.deposit).to.equal(before.deposit - outcomes.reduce((s, o) => s + o.actualGasCost, 0n));
  });
});

describe("adversaries: a fee-on-transfer token (class 12)", function () {
  onBothPaths(
    "charges what leaves the account, not what arrives: the balance delta never passes the period cap",
    async (path) => {
      const w = await load();
      const start = await w.feeToken.read.balanceOf([w.accountAddress]);
      await pays(w, path, { calls: [1, 2, 3, 4].map(() => feePay(w, w.addr.merchantA, USDC(25))) });
      // the merchant got 98% of each payment; the account sent the nominal amount, and that is what was charged
      expect(await w.feeToken.read.balanceOf([w.addr.merchantA])).to.equal(USDC(98));
      expect(start - (await w.feeToken.read.balanceOf([w.accountAddress]))).to.equal(USDC(100));
      expect(await w.account.read.spent([w.agentId, w.feeToken.address])).to.deep.equal([USDC(100), USDC(100)]);
      // topping up for the fee is one more unit over the cap: refused
      const data = await refusal(w, path, { calls: [feePay(w, w.addr.merchantB, 1n)] });
      const resetsAt = w.dayEnd((await w.publicClient.getBlock()).timestamp);
      expectError(w, data, err("PeriodCapExceeded", w.agentId, w.feeToken.address, 1n, 0n, resetsAt));
      expect(start - (await w.feeToken.read.balanceOf([w.accountAddress]))).to.equal(USDC(100));
    },
  );

  refuses("refuses grossing a payment up for the fee past the per-payment cap (the nominal amount is judged)", {
    // 25 net would need 25.510205 sent
    attempt: (w) => ({ calls: [feePay(w, w.addr.merchantA, 25_510_205n)] }),
    direct: (w) => err("PerPaymentCapExceeded", w.agentId, adv(w).feeToken.address, 25_510_205n, USDC(25)),
    userOp: {
      validation: (w) => err("PerPaymentCapExceeded", w.agentId, adv(w).feeToken.address, 25_510_205n, USDC(25)),
    },
  });

  refuses("refuses the next fee-token payment once the nominal amounts fill the period cap", {
    setup: async (w) =>
      void (await pays(w, "direct", { calls: [1, 2, 3, 4].map(() => feePay(w, w.addr.merchantA, USDC(25))) })),
    attempt: (w) => ({ calls: [feePay(w, w.addr.merchantB, USDC(2))] }),
    direct: (w, at) => err("PeriodCapExceeded", w.agentId, adv(w).feeToken.address, USDC(2), 0n, w.dayEnd(at)),
    userOp: {
      execution: (w, at) => err("PeriodCapExceeded", w.agentId, adv(w).feeToken.address, USDC(2), 0n, w.dayEnd(at)),
    },
  });
});

describe("adversaries: a token that returns false, in bundles (class 12)", function () {
  it("fails only the op whose token returned false; the ops around it pay and are charged", async function () {
    const w = await load();
    const before = await readState(w);
    const ops = [
      await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(10))]),
      await w.agentOp(
        [usdcTransfer(w, w.addr.merchantB, USDC(20)), w.erc20(w.falseToken.address, "transfer", w.addr.merchantB, 1n)],
        { nonce: nonceFor(1n, 1n) },
      ),
      await w.agentOp([usdcTransfer(w, w.addr.merchantB, USDC(15))], { nonce: nonceFor(1n, 2n) }),
    ];
    const outcomes = await bundle(w, ops);
    expect(outcomes.map((o) => o.success)).to.deep.equal([true, false, true]);
    expectError(w, outcomes[1].revertReason, err("TokenCallFailed", w.agentId, w.falseToken.address));
    expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(10));
    expect(await w.usdc.read.balanceOf([w.addr.merchantB])).to.equal(USDC(15));
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(25), USDC(25)]);
    expect(await w.account.read.spent([w.agentId, w.falseToken.address])).to.deep.equal([0n, 0n]);
    const after = await readState(w);
    expect(after.agents[0].nonce).to.equal(before.agents[0].nonce + 3n);
    expect(after.agents[0].usage[0]).to.equal(before.agents[0].usage[0] + ops.reduce((s, o) => s + maxCost(o), 0n));
    expect(after.extra).to.deep.equal(before.extra);
  });
});

describe("adversaries: a pull-payment merchant, approve-then-drain (class 1)", function () {
  onBothPaths(
    "lets the merchant pull at most what the caps let the agent approve, period after period, up to the lifetime cap",
    async (path) => {
      const w = await load();
      await updateA(w, { limits: withLimit(w, limit(w.usdc.address, USDC(25), USDC(25), USDC(60))) });
      const pull = () => w.puller.write.drain([w.usdc.address, w.accountAddress]);
      // day 0: approve the whole period cap; the merchant pulls it
      await pays(w, path, { calls: [usdcApprove(w, w.puller.address, USDC(25))] });
      await pull();
      let data = await refusal(w, path, { calls: [usdcApprove(w, w.puller.address, 1n)] });
      expectError(w, data, err("PeriodCapExceeded", w.agentId, w.usdc.address, 1n, 0n, w.dayEnd(w.t0)));
      // day 1: again
      await pays(w, path, { calls: [usdcApprove(w, w.puller.address, USDC(25))], at: dayOf(w, 1n) });
      await pull();
      // day 2: only 10 of the lifetime cap is left
      data = await refusal(w, path, { calls: [usdcApprove(w, w.puller.address, USDC(25))], at: dayOf(w, 2n) });
      expectError(w, data, err("LifetimeCapExceeded", w.agentId, w.usdc.address, USDC(25), USDC(10)));
      await pays(w, path, { calls: [usdcApprove(w, w.puller.address, USDC(10))], at: dayOf(w, 2n) + 10n });
      await pull();
      // day 3: nothing left to approve, and the merchant's own pull finds no allowance
      data = await refusal(w, path, { calls: [usdcApprove(w, w.puller.address, 1n)], at: dayOf(w, 3n) });
      expectError(w, data, err("LifetimeCapExceeded", w.agentId, w.usdc.address, 1n, 0n));
      const over = await w.puller.write
        .pull([w.usdc.address, w.accountAddress, 1n])
        .then(() => undefined, revertDataOf);
      expectError(w, over, err("ERC20InsufficientAllowance", w.puller.address, 0n, 1n));
      expect(await w.puller.read.pulled([w.usdc.address])).to.equal(USDC(60));
      expect(await w.usdc.read.balanceOf([w.puller.address])).to.equal(USDC(60));
      expect(await w.usdc.read.balanceOf([w.accountAddress])).to.equal(USDC(10_000) - USDC(60));
      expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([0n, USDC(60)]);
    },
  );

  onBothPaths(
    "charges an unused approve, and each approve again, whole: allowances overwrite, charges add",
    async (path) => {
      const w = await load();
      await pays(w, path, { calls: [usdcApprove(w, w.puller.address, USDC(25))] });
      await pays(w, path, { calls: [usdcApprove(w, w.puller.address, USDC(25))] });
      expect(await w.usdc.read.allowance([w.accountAddress, w.puller.address])).to.equal(USDC(25));
      expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(50), USDC(50)]);
      await w.puller.write.drain([w.usdc.address, w.accountAddress]);
      expect(await w.puller.read.pulled([w.usdc.address])).to.equal(USDC(25));
      // approving again after the pull is a new payment, charged again
      await pays(w, path, { calls: [usdcApprove(w, w.puller.address, USDC(25))] });
      expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(75), USDC(75)]);
      await w.puller.write.drain([w.usdc.address, w.accountAddress]);
      expect(await w.puller.read.pulled([w.usdc.address])).to.equal(USDC(50));
      // the last 25 of the period: approve-then-drain in one batch, the merchant pulling while the batch runs
      await pays(w, path, { calls: [usdcApprove(w, w.puller.address, USDC(25)), drainCall(w)] });
      expect(await w.puller.read.pulled([w.usdc.address])).to.equal(USDC(75));
      expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(100), USDC(100)]);
      const data = await refusal(w, path, { calls: [usdcApprove(w, w.puller.address, 1n), drainCall(w)] });
      const resetsAt = w.dayEnd((await w.publicClient.getBlock()).timestamp);
      expectError(w, data, err("PeriodCapExceeded", w.agentId, w.usdc.address, 1n, 0n, resetsAt));
      // what left the account is what was pulled, and never more than was charged
      expect(await w.usdc.read.balanceOf([w.accountAddress])).to.equal(USDC(10_000) - USDC(75));
    },
  );

  refuses("refuses approving the pull merchant more than one payment may be, with its drain in the same batch", {
    attempt: (w) => ({ calls: [usdcApprove(w, adv(w).puller.address, USDC(26)), drainCall(w)] }),
    direct: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(26), USDC(25)),
    userOp: { validation: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(26), USDC(25)) },
  });

  refuses("refuses approve-then-drain once earlier approves filled the period, though the allowance was pulled", {
    setup: async (w) => {
      for (let i = 0; i < 4; i++) {
        await pays(w, "direct", { calls: [usdcApprove(w, adv(w).puller.address, USDC(25)), drainCall(w)] });
      }
    },
    attempt: (w) => ({ calls: [usdcApprove(w, adv(w).puller.address, USDC(25)), drainCall(w)] }),
    direct: (w, at) => err("PeriodCapExceeded", w.agentId, w.usdc.address, USDC(25), 0n, w.dayEnd(at)),
    userOp: { execution: (w, at) => err("PeriodCapExceeded", w.agentId, w.usdc.address, USDC(25), 0n, w.dayEnd(at)) },
  });

  it("charges every approve of a bundle of five; the fifth is refused and the merchant pulls one allowance", async function () {
    const w = await load();
    const ops: PackedUserOperation[] = [];
    for (let i = 0n; i < 5n; i++) {
      ops.push(await w.agentOp([usdcApprove(w, w.puller.address, USDC(25))], { nonce: nonceFor(1n, i) }));
    }
    const outcomes = await bundle(w, ops);
    expect(outcomes.map((o) => o.success)).to.deep.equal([true, true, true, true, false]);
    const resetsAt = w.dayEnd((await w.publicClient.getBlock()).timestamp);
    expectError(
      w,
      outcomes[4].revertReason,
      err("PeriodCapExceeded", w.agentId, w.usdc.address, USDC(25), 0n, resetsAt),
    );
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(100), USDC(100)]);
    await w.puller.write.drain([w.usdc.address, w.accountAddress]);
    expect(await w.puller.read.pulled([w.usdc.address])).to.equal(USDC(25));
    expect(await w.usdc.read.allowance([w.accountAddress, w.puller.address])).to.equal(0n);
  });
});

describe("adversaries: a malicious bundler's beneficiary (class 11, Sodium)", function () {
  // thousands of gwei per gas and a call gas limit of 1: every op fails at execution and pays the bundler in full
  const fields = { maxFeePerGas: parseGwei("5000"), maxPriorityFeePerGas: parseGwei("5000"), callGasLimit: 1n };
  const COST = (500_000n + 1n + 60_000n) * parseGwei("5000");
  const drainOp = (w: World, seq: bigint) =>
    w.agentOp([usdcTransfer(w, w.addr.merchantA, 1n)], { fields, nonce: nonceFor(1n, seq) });
  const handleOpsTo = async (w: AdversaryWorld, ops: PackedUserOperation[]) => {
    const hash = await w.entryPoint.write.handleOps([ops, w.beneficiary.address], {
      account: w.wallets.bundler.account,
      gas: 10_000_000n,
    });
    return w.publicClient.waitForTransactionReceipt({ hash });
  };

  it("bounds the account's deposit loss by the gas budget, all of it going to the beneficiary, and stops the rest in validation", async function () {
    const w = await load();
    const budget = 3n * COST + COST / 2n;
    await updateA(w, { gasBudget: budget });
    const ops = [await drainOp(w, 0n), await drainOp(w, 1n), await drainOp(w, 2n), await drainOp(w, 3n)];
    expect(maxCost(ops[0])).to.equal(COST);

    // the whole bundle: the fourth op is over the budget in validation, so handleOps reverts and nobody is paid
    const before = await readState(w);
    const whole = await handleOpsTo(w, ops).then(() => undefined, revertDataOf);
    const over = encodeErr(w, err("GasBudgetExceeded", w.agentId, COST, COST / 2n));
    expectError(w, whole, err("FailedOpWithRevert", 3n, "AA23 reverted", over));
    expect(await readState(w)).to.deep.equal(before);

    // the three that fit: each fails at execution, and the account pays the beneficiary for all three
    const receipt = await handleOpsTo(w, ops.slice(0, 3));
    expect(receipt.status).to.equal("success");
    const paid = before.deposit - (await w.deposit());
    expect(await w.beneficiary.read.received()).to.equal(paid);
    expect(paid > 0n && paid <= 3n * COST).to.equal(true);
    expect(await w.account.read.agentUsage([w.agentId])).to.deep.equal([3n * COST, COST / 2n, 0n, w.dayEnd(w.t0)]);
    expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(0n);

    // the fourth, alone: refused in validation with exactly what it needs and what is left
    const mid = await readState(w);
    const r = await sendBundle(w, [ops[3]]);
    expectError(w, (r as { data: Hex }).data, err("FailedOpWithRevert", 0n, "AA23 reverted", over));
    expect(await readState(w)).to.deep.equal(mid);

    // an op that fits what is left still runs, and the account never pays more than the budget
    const cheap = await w.agentOp([usdcTransfer(w, w.addr.merchantA, 1n)], {
      fields: { maxFeePerGas: parseGwei("1000"), maxPriorityFeePerGas: parseGwei("1000") },
      nonce: nonceFor(1n, 3n),
    });
    expect(maxCost(cheap) <= COST / 2n).to.equal(true);
    await handleOpsTo(w, [cheap]);
    expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(1n);
    const totalPaid = before.deposit - (await w.deposit());
    expect(await w.beneficiary.read.received()).to.equal(totalPaid);
    expect(totalPaid <= budget).to.equal(true);
    const [charged, left] = await w.account.read.agentUsage([w.agentId]);
    expect([charged, left]).to.deep.equal([3n * COST + maxCost(cheap), COST / 2n - maxCost(cheap)]);
  });

  refuses("refuses a Sodium-style op one wei over the gas budget in validation (the direct path pays its own gas)", {
    setup: async (w) => void (await updateA(adv(w), { gasBudget: COST - 1n })),
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, 1n)], fields }),
    direct: null,
    userOp: { validation: (w) => err("GasBudgetExceeded", w.agentId, COST, COST - 1n) },
  });

  it("costs the account nothing when a direct call fails: the key pays its own gas", async function () {
    const w = await load();
    const before = await readState(w);
    const keyBefore = await w.publicClient.getBalance({ address: w.addr.agent });
    const r = await sendDirect(w, {
      calls: [
        usdcTransfer(w, w.addr.merchantA, 1n),
        w.call(w.reverting.address, encodeFunctionData({ abi: w.reverting.abi, functionName: "refuse", args: [11n] })),
      ],
    });
    expect(r.ok).to.equal(false);
    expectError(w, (r as { data: Hex }).data, err("AgentPathMockRefused", 11n));
    expect(await readState(w)).to.deep.equal(before);
    expect((await w.publicClient.getBalance({ address: w.addr.agent })) < keyBefore).to.equal(true);
  });
});

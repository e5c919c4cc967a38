// Bundles and races (THREATS class 9): `handleOps` validates every op of a bundle before it executes any, so an owner
// action or a spend earlier in the same bundle must still stop a later agent op, at execution. Key rotation keeps the
// agent's counters and retires the old key at once on both paths.
import { expect } from "chai";
import { network } from "hardhat";
import { type Hex, encodeFunctionData } from "viem";

import {
  type OpOutcome,
  type State,
  type World,
  deployAgentWorld,
  err,
  expectError,
  onBothPaths,
  pays,
  readState,
  refusal,
  refusesOnBothPaths,
  revertDataOf,
  sendBundle,
} from "./agent-shared.js";
import { type PackedUserOperation, ROLES, USDC, maxCost, nonceFor } from "./helpers/stopline.js";

const conn = await network.create();
async function agentWorld() {
  return deployAgentWorld(conn);
}
const load = () => conn.networkHelpers.loadFixture(agentWorld);

const usdcTransfer = (w: World, to: Hex, amount: bigint) => w.erc20(w.usdc.address, "transfer", to, amount);
const ownerCall = (w: World, functionName: string, args: readonly unknown[] = []) =>
  w.ownerOp(encodeFunctionData({ abi: w.account.abi, functionName, args } as Parameters<typeof encodeFunctionData>[0]));

/** Sends the bundle and returns each op's outcome; the bundle itself must be mined. */
async function bundle(w: World, ops: PackedUserOperation[]): Promise<OpOutcome[]> {
  const r = await sendBundle(w, ops);
  if (!r.mined) expect.fail(`handleOps reverted: ${r.data}`);
  return r.ops;
}

/**
 * After a bundle [owner op, agent op] whose agent op was refused at execution: no token moved, the agent's spending
 * counters are unchanged, its gas budget carries the op's maximum cost, and the deposit paid both ops' actual cost.
 */
async function expectAgentOpRefusedAfterOwnerOp(w: World, before: State, outcomes: OpOutcome[]) {
  const [owner, agent] = outcomes;
  expect(owner.success, "the owner op succeeds").to.equal(true);
  expect(agent.success, "the agent op fails at execution").to.equal(false);
  const after = await readState(w);
  expect(after.usdc).to.deep.equal(before.usdc);
  expect(after.eth).to.deep.equal(before.eth);
  expect(after.agents[0].spent).to.deep.equal(before.agents[0].spent);
  expect(after.agents[0].nonce).to.equal(before.agents[0].nonce + 1n);
  expect(after.ownerNonce).to.equal(before.ownerNonce + 1n);
  const cost = maxCost(agent.op);
  expect(after.agents[0].usage[0]).to.equal(before.agents[0].usage[0] + cost);
  expect(after.agents[0].usage[1]).to.equal(before.agents[0].usage[1] - cost);
  expect(after.deposit).to.equal(before.deposit - owner.actualGasCost - agent.actualGasCost);
}

describe("agent bundles: owner actions earlier in the same handleOps stop a later agent op", function () {
  it("refuses an agent op after a revocation earlier in the bundle with AgentIsRevoked at execution", async function () {
    const w = await load();
    const before = await readState(w);
    const revoke = await ownerCall(w, "revokeAgent", [w.agentId]);
    const pay = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(10))]);
    const outcomes = await bundle(w, [revoke, pay]);
    expectError(w, outcomes[1].revertReason, err("AgentIsRevoked", w.agentId));
    await expectAgentOpRefusedAfterOwnerOp(w, before, outcomes);
    expect((await w.account.read.getAgent([w.agentId]))[1]).to.equal(true);
  });

  it("refuses an agent op after a pause earlier in the bundle with AgentsPaused at execution", async function () {
    const w = await load();
    const before = await readState(w);
    const pause = await ownerCall(w, "pauseAgents");
    const pay = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(10))]);
    const outcomes = await bundle(w, [pause, pay]);
    expectError(w, outcomes[1].revertReason, err("AgentsPaused"));
    await expectAgentOpRefusedAfterOwnerOp(w, before, outcomes);
    expect(await w.account.read.agentsPaused()).to.equal(true);
  });

  it("refuses an agent op after its key was rotated earlier in the bundle with AgentUnknown(old key)", async function () {
    const w = await load();
    const before = await readState(w);
    const rotate = await ownerCall(w, "rotateAgentKey", [w.agentId, w.addr.newKey]);
    const pay = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(10))]);
    const outcomes = await bundle(w, [rotate, pay]);
    expectError(w, outcomes[1].revertReason, err("AgentUnknown", w.addr.agent));
    await expectAgentOpRefusedAfterOwnerOp(w, before, outcomes);
    expect(await w.account.read.agentOf([w.addr.newKey])).to.equal(w.agentId);
  });

  it("re-checks the per-payment cap at execution after an update earlier in the bundle lowered it", async function () {
    const w = await load();
    const before = await readState(w);
    const limits = w.policy1.limits.map((l) => (l.token === w.usdc.address ? { ...l, perPayment: USDC(5) } : l));
    const lower = await ownerCall(w, "updatePolicy", [w.agentId, { ...w.policy1, limits }]);
    const pay = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(10))]);
    const outcomes = await bundle(w, [lower, pay]);
    expectError(
      w,
      outcomes[1].revertReason,
      err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(10), USDC(5)),
    );
    await expectAgentOpRefusedAfterOwnerOp(w, before, outcomes);
  });

  it("re-checks the merchant list at execution after an update earlier in the bundle removed the merchant", async function () {
    const w = await load();
    const before = await readState(w);
    const merchants = w.policy1.merchants.filter((m) => m !== w.addr.merchantA);
    const drop = await ownerCall(w, "updatePolicy", [w.agentId, { ...w.policy1, merchants }]);
    const pay = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(10))]);
    const outcomes = await bundle(w, [drop, pay]);
    expectError(w, outcomes[1].revertReason, err("MerchantNotAllowed", w.agentId, w.addr.merchantA));
    await expectAgentOpRefusedAfterOwnerOp(w, before, outcomes);
  });
});

describe("agent bundles: spending across ops of one bundle", function () {
  it("refuses the second of two agent ops in one bundle that together exceed the period cap", async function () {
    const w = await load();
    const op1 = await w.agentOp([1, 2, 3].map(() => usdcTransfer(w, w.addr.merchantA, USDC(25))));
    const op2 = await w.agentOp(
      [usdcTransfer(w, w.addr.merchantB, USDC(20)), usdcTransfer(w, w.addr.merchantB, USDC(10))],
      {
        nonce: nonceFor(1n, 1n),
      },
    );
    // each op alone is within every cap, so both pass validation
    const outcomes = await bundle(w, [op1, op2]);
    expect(outcomes[0].success).to.equal(true);
    expect(outcomes[1].success).to.equal(false);
    const resetsAt = w.dayEnd((await w.publicClient.getBlock()).timestamp);
    expectError(
      w,
      outcomes[1].revertReason,
      err("PeriodCapExceeded", w.agentId, w.usdc.address, USDC(10), USDC(5), resetsAt),
    );
    expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(75));
    expect(await w.usdc.read.balanceOf([w.addr.merchantB])).to.equal(0n);
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(75), USDC(75)]);
    // both ops were charged their maximum cost in validation
    const [gasCharged] = await w.account.read.agentUsage([w.agentId]);
    expect(gasCharged).to.equal(maxCost(op1) + maxCost(op2));
  });

  it("keeps two agents' counters apart when both spend their whole period cap in one bundle", async function () {
    const w = await load();
    const op1 = await w.agentOp([1, 2, 3, 4].map(() => usdcTransfer(w, w.addr.merchantA, USDC(25))));
    const op2 = await w.agentOp(
      [1, 2, 3, 4].map(() => usdcTransfer(w, w.addr.merchantB, USDC(25))),
      { agentId: w.agentId2, signer: ROLES.agent2 },
    );
    const outcomes = await bundle(w, [op1, op2]);
    expect(outcomes.map((o) => o.success)).to.deep.equal([true, true]);
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(100), USDC(100)]);
    expect(await w.account.read.spent([w.agentId2, w.usdc.address])).to.deep.equal([USDC(100), USDC(100)]);
    expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(100));
    expect(await w.usdc.read.balanceOf([w.addr.merchantB])).to.equal(USDC(100));
  });
});

describe("agent bundles: key rotation", function () {
  const spend75ThenRotate = async (w: World) => {
    await pays(w, "direct", { calls: [1, 2, 3].map(() => usdcTransfer(w, w.addr.merchantA, USDC(25))) });
    await w.account.write.rotateAgentKey([w.agentId, w.addr.newKey]);
  };

  refusesOnBothPaths("refuses the old key at once after a rotation", load, {
    setup: spend75ThenRotate,
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))] }),
    direct: (w) => err("AgentUnknown", w.addr.agent),
    userOp: { entryPoint: "AA24 signature error" },
    view: "empty",
  });

  onBothPaths("lets the new key spend only what the agent had left: counters survive rotation", async (path) => {
    const w = await load();
    await spend75ThenRotate(w);
    expect(await w.account.read.agentOf([w.addr.agent])).to.equal(`0x${"0".repeat(64)}`);
    expect(await w.account.read.agentOf([w.addr.newKey])).to.equal(w.agentId);
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(75), USDC(75)]);
    await pays(w, path, { calls: [usdcTransfer(w, w.addr.merchantB, USDC(25))], signer: ROLES.newKey });
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(100), USDC(100)]);
    const data = await refusal(w, path, { calls: [usdcTransfer(w, w.addr.merchantB, 1n)], signer: ROLES.newKey });
    const resetsAt = w.dayEnd((await w.publicClient.getBlock()).timestamp);
    expectError(w, data, err("PeriodCapExceeded", w.agentId, w.usdc.address, 1n, 0n, resetsAt));
    expect(await w.usdc.read.balanceOf([w.addr.merchantB])).to.equal(USDC(25));
  });

  it("refuses to rotate onto a key registered to another agent or retired", async function () {
    const w = await load();
    await w.account.write.rotateAgentKey([w.agentId, w.addr.newKey]);
    const check = async (key: Hex) => {
      const data = await w.account.write.rotateAgentKey([w.agentId, key]).then(() => undefined, revertDataOf);
      expectError(w, data, err("AgentKeyInUse", key));
    };
    await check(w.addr.agent2); // another agent's current key
    await check(w.addr.agent); // this agent's retired key
  });
});

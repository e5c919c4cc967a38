// THREATS.md on the agent path: each class shown failing for an agent holding a key, on the direct path and as a
// UserOperation, with nothing moved and no counter changed (the shared behaviour checks the whole state each time).
import { expect } from "chai";
import { network } from "hardhat";
import {
  type Hex,
  concat,
  encodeFunctionData,
  padHex,
  parseEther,
  parseGwei,
  toFunctionSelector,
  zeroHash,
} from "viem";

import {
  DAY,
  ETH,
  EXTRA_KEY_A,
  EXTRA_KEY_B,
  HOUR,
  SEL,
  type Attempt,
  type RefusalCase,
  type World,
  BATCH_MODE,
  compact,
  deployAgentWorld,
  encodeErr,
  encodeExecutions,
  err,
  expectError,
  highS,
  onBothPaths,
  pays,
  readState,
  refusal,
  refusesOnBothPaths,
  revertDataOf,
  sendBundle,
  sendDirect,
  withDecoy,
} from "./agent-shared.js";
import { PERMIT2, ROLES, USDC, agentIdFor, maxCost, nonceFor } from "./helpers/stopline.js";

const conn = await network.create();
async function agentWorld() {
  return deployAgentWorld(conn);
}
const load = () => conn.networkHelpers.loadFixture(agentWorld);
const refuses = (title: string, c: RefusalCase) => refusesOnBothPaths(title, load, c);

const usdcTransfer = (w: World, to: Hex, amount: bigint) => w.erc20(w.usdc.address, "transfer", to, amount);
const usdcApprove = (w: World, to: Hex, amount: bigint) => w.erc20(w.usdc.address, "approve", to, amount);
const update = (w: World, overrides: Partial<World["policy1"]>) =>
  w.account.write.updatePolicy([w.agentId, { ...w.policy1, ...overrides }]);
const withUsdcLimit = (w: World, perPayment: bigint, perPeriod: bigint, lifetime: bigint) =>
  w.policy1.limits.map((l) => (l.token === w.usdc.address ? { ...l, perPayment, perPeriod, lifetime } : l));
const transferFromDrain = (w: World) =>
  w.call(
    w.usdc.address,
    encodeFunctionData({
      abi: w.usdc.abi,
      functionName: "transferFrom",
      args: [w.accountAddress, w.addr.stranger, USDC(25)],
    }),
  );

describe("agent threats: class 1, moving tokens without transfer", function () {
  refuses("refuses approve-then-transferFrom in one batch (the transferFrom), so the drain never starts", {
    attempt: (w) => ({ calls: [usdcApprove(w, w.addr.merchantA, USDC(25)), transferFromDrain(w)] }),
    direct: (w) => err("CallNotAllowed", w.agentId, w.usdc.address, SEL.transferFrom),
    userOp: { validation: (w) => err("CallNotAllowed", w.agentId, w.usdc.address, SEL.transferFrom) },
  });

  onBothPaths("charges an approve in full as a payment, though no token moves", async (path) => {
    const w = await load();
    await pays(w, path, { calls: [usdcApprove(w, w.addr.merchantA, USDC(25))] });
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(25), USDC(25)]);
    expect(await w.usdc.read.allowance([w.accountAddress, w.addr.merchantA])).to.equal(USDC(25));
    expect(await w.usdc.read.balanceOf([w.accountAddress])).to.equal(USDC(10_000));
  });

  onBothPaths("bounds allowances built up over several periods by the lifetime cap", async (path) => {
    const w = await load();
    await update(w, { limits: withUsdcLimit(w, USDC(25), USDC(25), USDC(50)) });
    const day = (n: bigint) => w.dayEnd(w.t0) + (n - 1n) * DAY + 60n; // a minute into day n (today is day 0)
    await pays(w, path, { calls: [usdcApprove(w, w.addr.merchantA, USDC(25))] });
    await pays(w, path, { calls: [usdcApprove(w, w.addr.merchantA, USDC(25))], at: day(1n) });
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(25), USDC(50)]);
    const data = await refusal(w, path, { calls: [usdcApprove(w, w.addr.merchantA, 1n)], at: day(2n) });
    expectError(w, data, err("LifetimeCapExceeded", w.agentId, w.usdc.address, 1n, 0n));
    // an approve overwrites: the merchant can never pull more than one approve's worth, each charged whole
    expect(await w.usdc.read.allowance([w.accountAddress, w.addr.merchantA])).to.equal(USDC(25));
    // setting the allowance back to zero is still a (zero) payment to a merchant, and is allowed
    await pays(w, path, { calls: [usdcApprove(w, w.addr.merchantA, 0n)], at: day(2n) + 10n });
    expect(await w.usdc.read.allowance([w.accountAddress, w.addr.merchantA])).to.equal(0n);
  });

  refuses("refuses approving Permit2 as a spender (Permit2 is never a merchant)", {
    attempt: (w) => ({ calls: [usdcApprove(w, PERMIT2, USDC(1))] }),
    direct: (w) => err("MerchantNotAllowed", w.agentId, PERMIT2),
    userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, PERMIT2) },
  });

  const otherWays: [string, string, (w: World) => Hex[]][] = [
    ["increaseAllowance", "increaseAllowance(address,uint256)", (w) => [padHex(w.addr.merchantA), padHex("0x01")]],
    ["ERC-777 authorizeOperator", "authorizeOperator(address)", (w) => [padHex(w.addr.stranger)]],
    [
      "ERC-777 send",
      "send(address,uint256,bytes)",
      (w) => [padHex(w.addr.stranger), padHex("0x01"), padHex("0x60"), zeroHash],
    ],
    ["ERC-1363 transferAndCall", "transferAndCall(address,uint256)", (w) => [padHex(w.addr.stranger), padHex("0x01")]],
    ["ERC-1363 approveAndCall", "approveAndCall(address,uint256)", (w) => [padHex(w.addr.stranger), padHex("0x01")]],
    ["setApprovalForAll", "setApprovalForAll(address,bool)", (w) => [padHex(w.addr.stranger), padHex("0x01")]],
    ["DAI push (68 bytes like a transfer)", "push(address,uint256)", (w) => [padHex(w.addr.stranger), padHex("0x01")]],
    ["DAI pull", "pull(address,uint256)", (w) => [padHex(w.accountAddress), padHex("0x01")]],
    [
      "DAI move",
      "move(address,address,uint256)",
      (w) => [padHex(w.accountAddress), padHex(w.addr.stranger), padHex("0x01")],
    ],
    [
      "the token's own multicall wrapping a transfer",
      "multicall(bytes[])",
      (w) => {
        const inner = usdcTransfer(w, w.addr.stranger, USDC(1)).callData;
        return [padHex("0x20"), padHex("0x01"), padHex("0x20"), padHex("0x44"), inner, padHex("0x", { size: 28 })];
      },
    ],
  ];
  for (const [what, signature, args] of otherWays) {
    const sel = toFunctionSelector(signature);
    refuses(`refuses ${what} on a listed token with CallNotAllowed`, {
      attempt: (w) => ({ calls: [w.call(w.usdc.address, concat([sel, ...args(w)]))] }),
      direct: (w) => err("CallNotAllowed", w.agentId, w.usdc.address, sel),
      userOp: { validation: (w) => err("CallNotAllowed", w.agentId, w.usdc.address, sel) },
    });
  }
});

describe("agent threats: classes 3 and 10, self-calls, selector swaps, replay and malleable signatures", function () {
  const agentTransfer = (w: World): Attempt => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))] });
  refuses("refuses a high-s (malleable) signature of a valid op with AA24", {
    attempt: (w) => ({ ...agentTransfer(w), resign: (op) => highS(op.signature) }),
    direct: null,
    userOp: { entryPoint: "AA24 signature error" },
  });
  refuses("refuses the 64-byte (EIP-2098) form of a valid signature with AA24", {
    attempt: (w) => ({ ...agentTransfer(w), resign: (op) => compact(op.signature) }),
    direct: null,
    userOp: { entryPoint: "AA24 signature error" },
  });
  refuses("refuses a signature that recovers to address(0) with AA24", {
    attempt: (w) => ({ ...agentTransfer(w), resign: () => concat([zeroHash, padHex("0x01"), "0x1b"]) }),
    direct: null,
    userOp: { entryPoint: "AA24 signature error" },
  });
  refuses("refuses an empty signature with AA24", {
    attempt: (w) => ({ ...agentTransfer(w), resign: () => "0x" }),
    direct: null,
    userOp: { entryPoint: "AA24 signature error" },
  });

  it("refuses an agent key signing an owner op (execute) with AA24, and the same callData swapped into its op", async function () {
    const w = await load();
    const drain = encodeFunctionData({
      abi: w.account.abi,
      functionName: "execute",
      args: [BATCH_MODE, encodeExecutions([usdcTransfer(w, w.addr.stranger, USDC(500))])],
    });
    const before = await readState(w);
    // signed by the agent key for the owner's path
    const signedByAgent = await w.ownerOp(drain, { signer: ROLES.agent });
    let r = await sendBundle(w, [signedByAgent]);
    expectError(w, (r as { data: Hex }).data, err("FailedOp", 0n, "AA24 signature error"));
    // a valid agent op whose callData is swapped for the owner batch after signing
    const valid = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(1))], { nonce: nonceFor(0n) });
    r = await sendBundle(w, [{ ...valid, callData: drain }]);
    expectError(w, (r as { data: Hex }).data, err("FailedOp", 0n, "AA24 signature error"));
    // and an owner function (revokeAgent) signed by the agent key
    const revoke = await w.ownerOp(
      encodeFunctionData({ abi: w.account.abi, functionName: "revokeAgent", args: [w.agentId2] }),
      { signer: ROLES.agent },
    );
    r = await sendBundle(w, [revoke]);
    expectError(w, (r as { data: Hex }).data, err("FailedOp", 0n, "AA24 signature error"));
    // and the EntryPoint's executeUserOp entry path wrapping an agent batch: the owner's path, so AA24 for the key
    const viaExecuteUserOp = await w.ownerOp(
      concat([
        toFunctionSelector("executeUserOp((address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes),bytes32)"),
        valid.callData,
      ]),
      { signer: ROLES.agent },
    );
    r = await sendBundle(w, [viaExecuteUserOp]);
    expectError(w, (r as { data: Hex }).data, err("FailedOp", 0n, "AA24 signature error"));
    expect(await readState(w)).to.deep.equal(before);
  });

  it("refuses an agent op replayed after it was mined (AA25) and on another account of the same owner (AA24)", async function () {
    const w = await load();
    const op = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(10))]);
    await w.handleOps([op]);
    const replay = await sendBundle(w, [op]);
    expectError(w, (replay as { data: Hex }).data, err("FailedOp", 0n, "AA25 invalid account nonce"));

    // a second account of the same owner, where the same key is agent 1 with the same policy
    await w.factory.write.createAccount([w.addr.owner, 1n]);
    const second = await w.factory.read.getAddress([w.addr.owner, 1n]);
    const account2 = await w.viem.getContractAt("AgentAccount", second, { client: { wallet: w.wallets.owner } });
    await account2.write.grantAgent([w.agentId, w.addr.agent, w.policy1]);
    await w.usdc.write.mint([second, USDC(1_000)]);
    await w.entryPoint.write.depositTo([second], { value: parseEther("1"), account: w.wallets.deployer.account });
    // signed for the first account with the nonce the second account expects next
    const fresh = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(10))], { nonce: nonceFor(1n, 0n) });
    const moved = await sendBundle(w, [{ ...fresh, sender: second }]);
    expectError(w, (moved as { data: Hex }).data, err("FailedOp", 0n, "AA24 signature error"));
    expect(await w.usdc.read.balanceOf([second])).to.equal(USDC(1_000));
    expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(10));
  });
});

describe("agent threats: class 5, the checker reads the calldata the executor runs", function () {
  const decoyCase = (w: World): Attempt => {
    const real = [usdcTransfer(w, w.addr.stranger, USDC(10))];
    const decoy = [usdcTransfer(w, w.addr.merchantA, USDC(10))];
    return { calls: real, rawCallData: withDecoy(w, w.agentId, real, decoy) };
  };
  refuses("refuses a non-canonical executeAsAgent whose offset skips a decoy payment, naming the real recipient", {
    attempt: decoyCase,
    direct: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger),
    userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger) },
  });

  onBothPaths("runs exactly the batch the offset points to, and charges exactly it", async (path) => {
    const w = await load();
    const real = [usdcTransfer(w, w.addr.merchantA, USDC(10))];
    const decoy = [usdcTransfer(w, w.addr.stranger, USDC(25)), usdcTransfer(w, w.addr.merchantB, USDC(25))];
    await pays(w, path, { calls: real, rawCallData: withDecoy(w, w.agentId, real, decoy) });
    expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(10));
    expect(await w.usdc.read.balanceOf([w.addr.merchantB])).to.equal(0n);
    expect(await w.usdc.read.balanceOf([w.addr.stranger])).to.equal(0n);
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(10), USDC(10)]);
  });
});

describe("agent threats: class 6, ETH value", function () {
  refuses("refuses wrapping ETH at a WETH-like contract that is not a merchant", {
    attempt: (w) => ({
      calls: [w.call(w.weth.address, encodeFunctionData({ abi: w.weth.abi, functionName: "deposit" }), 1n)],
    }),
    direct: (w) => err("MerchantNotAllowed", w.agentId, w.weth.address),
    userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, w.weth.address) },
  });
  refuses("refuses ETH attached to a transferFrom on a listed token (value checked first)", {
    attempt: (w) => ({ calls: [{ ...transferFromDrain(w), value: 1n }] }),
    direct: (w) => err("MerchantNotAllowed", w.agentId, w.usdc.address),
    userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, w.usdc.address) },
  });
  refuses("refuses ETH with transfer-shaped calldata to an unlisted token", {
    attempt: (w) => ({ calls: [{ ...w.erc20(w.other.address, "transfer", w.addr.merchantA, 1n), value: 1n }] }),
    direct: (w) => err("MerchantNotAllowed", w.agentId, w.other.address),
    userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, w.other.address) },
  });
  onBothPaths("counts ETH sent with calldata to a payable merchant function as an ETH payment", async (path) => {
    const w = await load();
    const before = await w.publicClient.getBalance({ address: w.reentrant.address });
    await pays(w, path, { calls: [w.poke(w.reentrant.address, parseEther("0.004"))] });
    expect((await w.publicClient.getBalance({ address: w.reentrant.address })) - before).to.equal(parseEther("0.004"));
    expect(await w.account.read.spent([w.agentId, ETH])).to.deep.equal([parseEther("0.004"), parseEther("0.004")]);
  });
});

describe("agent threats: class 7, counting", function () {
  refuses("undoes the whole batch when a later call reverts: the first payment is not made or counted", {
    attempt: (w) => ({
      calls: [
        usdcTransfer(w, w.addr.merchantA, USDC(10)),
        w.call(w.reverting.address, encodeFunctionData({ abi: w.reverting.abi, functionName: "refuse", args: [7n] })),
      ],
    }),
    direct: () => err("AgentPathMockRefused", 7n),
    userOp: { execution: () => err("AgentPathMockRefused", 7n) },
    view: "empty",
  });

  it("leaves spent and agentUsage exactly as they were after refused batches on both paths", async function () {
    const w = await load();
    await update(w, { maxCallsPerPeriod: 10 });
    await pays(w, "direct", { calls: [usdcTransfer(w, w.addr.merchantA, USDC(25)), w.eth(w.addr.merchantA, 1n)] });
    const spentBefore = [
      await w.account.read.spent([w.agentId, w.usdc.address]),
      await w.account.read.spent([w.agentId, ETH]),
    ];
    const usageBefore = await w.account.read.agentUsage([w.agentId]);
    expect(spentBefore).to.deep.equal([
      [USDC(25), USDC(25)],
      [1n, 1n],
    ]);
    expect(usageBefore.slice(2)).to.deep.equal([2n, w.dayEnd(w.t0)]);
    // refused in validation (op) / at once (direct): counters unchanged
    for (const path of ["direct", "userOp"] as const) {
      await refusal(w, path, {
        calls: [usdcTransfer(w, w.addr.merchantA, USDC(20)), usdcTransfer(w, w.addr.stranger, 1n)],
      });
    }
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal(spentBefore[0]);
    expect(await w.account.read.spent([w.agentId, ETH])).to.deep.equal(spentBefore[1]);
    expect(await w.account.read.agentUsage([w.agentId])).to.deep.equal(usageBefore);
    // refused at execution (op): only the gas charge moves
    const op = await w.agentOp([
      usdcTransfer(w, w.addr.merchantA, USDC(20)),
      w.erc20(w.falseToken.address, "transfer", w.addr.merchantA, 1n),
    ]);
    await w.handleOps([op]);
    expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal(spentBefore[0]);
    expect(await w.account.read.spent([w.agentId, w.falseToken.address])).to.deep.equal([0n, 0n]);
    const [charged, left, calls, resetsAt] = await w.account.read.agentUsage([w.agentId]);
    expect([charged, left, calls, resetsAt]).to.deep.equal([
      usageBefore[0] + maxCost(op),
      usageBefore[1] - maxCost(op),
      usageBefore[2],
      usageBefore[3],
    ]);
  });

  it("refuses to grant an id that differs from a granted one only in its high 64 bits (same nonce key)", async function () {
    const w = await load();
    const twin = agentIdFor(1, 0xdeadn);
    const key = w.allWallets[EXTRA_KEY_A].account.address;
    const data = await w.account.write.grantAgent([twin, key, w.policy2]).then(() => undefined, revertDataOf);
    expectError(w, data, err("AgentAlreadyExists", twin));
  });

  refuses("treats an id differing from agent 1 only in high bits as unknown (never granted)", {
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))], agentId: agentIdFor(1, 0xdeadn) }),
    direct: (w) => err("AgentUnknown", w.addr.agent),
    userOp: { entryPoint: "AA24 signature error" },
    view: () => err("AgentNotFound", agentIdFor(1, 0xdeadn)),
  });

  onBothPaths("keeps the counters of agents whose ids differ in a single byte apart", async (path) => {
    const w = await load();
    const near = agentIdFor(0x0101); // differs from agent 1 in one byte
    const far = agentIdFor((1n << 184n) | 1n); // differs in the top byte of the nonce key
    const keys = [w.allWallets[EXTRA_KEY_A].account.address, w.allWallets[EXTRA_KEY_B].account.address];
    await w.account.write.grantAgent([near, keys[0], w.policy2]);
    await w.account.write.grantAgent([far, keys[1], w.policy2]);
    const full = (to: Hex) => [1, 2, 3, 4].map(() => usdcTransfer(w, to, USDC(25)));
    await pays(w, path, { calls: full(w.addr.merchantA) });
    await pays(w, path, { calls: full(w.addr.merchantB), agentId: near, signer: EXTRA_KEY_A });
    await pays(w, path, { calls: full(w.addr.merchantB), agentId: far, signer: EXTRA_KEY_B });
    for (const id of [w.agentId, near, far]) {
      expect(await w.account.read.spent([id, w.usdc.address])).to.deep.equal([USDC(100), USDC(100)]);
    }
    expect(await w.account.read.spent([w.agentId2, w.usdc.address])).to.deep.equal([0n, 0n]);
    expect(await w.usdc.read.balanceOf([w.addr.merchantB])).to.equal(USDC(200));
  });

  it("never grants a revoked id again, so nothing stale can come back", async function () {
    const w = await load();
    await w.account.write.revokeAgent([w.agentId2]);
    const key = w.allWallets[EXTRA_KEY_A].account.address;
    const data = await w.account.write.grantAgent([w.agentId2, key, w.policy2]).then(() => undefined, revertDataOf);
    expectError(w, data, err("AgentAlreadyExists", w.agentId2));
    expect(await w.account.read.remaining([w.agentId2, w.usdc.address])).to.deep.equal([0n, 0n, 0n, 0n]);
  });
});

describe("agent threats: class 8, time and the period schedule", function () {
  onBothPaths(
    "lets an agent spend the full period cap in the last second of a period and again in the first second of the next (the fixed-window bound: 2x the cap in 2 seconds)",
    async (path) => {
      const w = await load();
      const end = w.dayEnd(w.t0);
      const full = (to: Hex) => [1, 2, 3, 4].map(() => usdcTransfer(w, to, USDC(25)));
      await pays(w, path, { calls: full(w.addr.merchantA), at: end - 1n });
      expect(await w.account.read.remaining([w.agentId, w.usdc.address])).to.deep.equal([USDC(25), 0n, USDC(900), end]);
      await pays(w, path, { calls: full(w.addr.merchantB), at: end });
      expect(await w.account.read.remaining([w.agentId, w.usdc.address])).to.deep.equal([
        USDC(25),
        0n,
        USDC(800),
        end + DAY,
      ]);
      expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(100));
      expect(await w.usdc.read.balanceOf([w.addr.merchantB])).to.equal(USDC(100));
      const data = await refusal(w, path, { calls: [usdcTransfer(w, w.addr.merchantB, 1n)], at: end + 1n });
      expectError(w, data, err("PeriodCapExceeded", w.agentId, w.usdc.address, 1n, 0n, end + DAY));
    },
  );

  onBothPaths("does not restart the period when an update changes the caps", async (path) => {
    const w = await load();
    const end = w.dayEnd(w.t0);
    await pays(w, path, { calls: [25n, 25n, 10n].map((n) => usdcTransfer(w, w.addr.merchantA, USDC(n))) });
    await update(w, { limits: withUsdcLimit(w, USDC(25), USDC(80), USDC(1_000)) });
    expect(await w.account.read.remaining([w.agentId, w.usdc.address])).to.deep.equal([
      USDC(25),
      USDC(20),
      USDC(940),
      end,
    ]);
    const data = await refusal(w, path, { calls: [usdcTransfer(w, w.addr.merchantA, USDC(25))] });
    expectError(w, data, err("PeriodCapExceeded", w.agentId, w.usdc.address, USDC(25), USDC(20), end));
    // raising the cap again gives back only the difference, never a fresh period
    await update(w, { limits: withUsdcLimit(w, USDC(25), USDC(100), USDC(1_000)) });
    expect(await w.account.read.remaining([w.agentId, w.usdc.address])).to.deep.equal([
      USDC(25),
      USDC(40),
      USDC(940),
      end,
    ]);
  });

  onBothPaths(
    "re-anchors a changed period at the end of the current one, keeping what was spent in it",
    async (path) => {
      const w = await load();
      const end = w.dayEnd(w.t0);
      await pays(w, path, { calls: [25n, 25n, 10n].map((n) => usdcTransfer(w, w.addr.merchantA, USDC(n))) });
      expect((await w.account.read.remaining([w.agentId, w.usdc.address]))[3]).to.equal(end);
      await update(w, { period: Number(HOUR) });
      // still the same day-long period: same reset time, same 40 left, even an hour later
      expect(await w.account.read.remaining([w.agentId, w.usdc.address])).to.deep.equal([
        USDC(25),
        USDC(40),
        USDC(940),
        end,
      ]);
      expect((await w.account.read.agentUsage([w.agentId]))[3]).to.equal(end);
      const data = await refusal(w, path, {
        calls: [usdcTransfer(w, w.addr.merchantA, USDC(25)), usdcTransfer(w, w.addr.merchantA, USDC(20))],
        at: w.t0 + HOUR + 60n,
      });
      expectError(w, data, err("PeriodCapExceeded", w.agentId, w.usdc.address, USDC(20), USDC(15), end));
      // from the end of that period on, hour-long periods anchored there
      await pays(w, path, { calls: [1, 2, 3, 4].map(() => usdcTransfer(w, w.addr.merchantB, USDC(25))), at: end });
      expect(await w.account.read.remaining([w.agentId, w.usdc.address])).to.deep.equal([
        USDC(25),
        0n,
        USDC(840),
        end + HOUR,
      ]);
      await pays(w, path, { calls: [usdcTransfer(w, w.addr.merchantB, USDC(25))], at: end + HOUR });
      expect(await w.account.read.remaining([w.agentId, w.usdc.address])).to.deep.equal([
        USDC(25),
        USDC(75),
        USDC(815),
        end + 2n * HOUR,
      ]);
    },
  );

  onBothPaths("anchors a new agent's periods at its validAfter, and the period before it ends there", async (path) => {
    const w = await load();
    const id = agentIdFor(5);
    const validAfter = w.t0 + 1_000n;
    await w.account.write.grantAgent([
      id,
      w.allWallets[EXTRA_KEY_A].account.address,
      { ...w.policy2, validAfter: Number(validAfter), period: Number(HOUR) },
    ]);
    expect((await w.account.read.remaining([id, w.usdc.address]))[3]).to.equal(validAfter);
    expect((await w.account.read.agentUsage([id]))[3]).to.equal(validAfter);
    await pays(w, path, {
      calls: [usdcTransfer(w, w.addr.merchantA, USDC(25))],
      agentId: id,
      signer: EXTRA_KEY_A,
      at: validAfter,
    });
    expect(await w.account.read.remaining([id, w.usdc.address])).to.deep.equal([
      USDC(25),
      USDC(75),
      USDC(975),
      validAfter + HOUR,
    ]);
  });

  it("keeps the first re-anchor when the period is changed twice in one period", async function () {
    const w = await load();
    const end = w.dayEnd(w.t0);
    await update(w, { period: Number(HOUR) });
    await update(w, { period: Number(2n * HOUR) });
    expect((await w.account.read.remaining([w.agentId, w.usdc.address]))[3]).to.equal(end);
    await pays(w, "direct", { calls: [usdcTransfer(w, w.addr.merchantA, 1n)], at: end + HOUR });
    expect((await w.account.read.remaining([w.agentId, w.usdc.address]))[3]).to.equal(end + 2n * HOUR);
  });

  onBothPaths("starts counting calls at the update that introduces a call limit", async (path) => {
    const w = await load();
    await pays(w, path, { calls: [1, 2, 3, 4, 5].map(() => w.poke()) });
    await update(w, { maxCallsPerPeriod: 2 });
    expect((await w.account.read.agentUsage([w.agentId]))[2]).to.equal(0n);
    await pays(w, path, { calls: [w.poke(), w.poke()] });
    const data = await refusal(w, path, { calls: [w.poke()] });
    const resetsAt = w.dayEnd((await w.publicClient.getBlock()).timestamp);
    expectError(w, data, err("CallLimitExceeded", w.agentId, 2n, resetsAt));
  });
});

describe("agent threats: class 11, gas drain (Sodium)", function () {
  it("charges ops that fail at execution in full and stops the next one at the budget, in validation", async function () {
    const w = await load();
    const fields = { maxFeePerGas: parseGwei("100"), maxPriorityFeePerGas: parseGwei("100"), callGasLimit: 1n };
    const first = await w.agentOp([usdcTransfer(w, w.addr.merchantA, 1n)], { fields });
    const cost = maxCost(first);
    expect(cost).to.equal((500_000n + 1n + 60_000n) * parseGwei("100"));
    await update(w, { gasBudget: 2n * cost });
    const deposit = await w.deposit();
    const second = await w.agentOp([usdcTransfer(w, w.addr.merchantA, 1n)], { fields, nonce: nonceFor(1n, 1n) });
    const r = await sendBundle(w, [first, second]);
    if (!r.mined) expect.fail("the bundle should be mined");
    expect(r.ops.map((o) => o.success)).to.deep.equal([false, false]); // callGasLimit 1: out of gas at execution
    const paid = r.ops[0].actualGasCost + r.ops[1].actualGasCost;
    expect(await w.deposit()).to.equal(deposit - paid);
    expect(paid <= 2n * cost).to.equal(true);
    expect(await w.account.read.agentUsage([w.agentId])).to.deep.equal([2n * cost, 0n, 0n, w.dayEnd(w.t0)]);
    const third = await w.agentOp([usdcTransfer(w, w.addr.merchantA, 1n)], { fields });
    const refused = await sendBundle(w, [third]);
    expectError(
      w,
      (refused as { data: Hex }).data,
      err("FailedOpWithRevert", 0n, "AA23 reverted", encodeErr(w, err("GasBudgetExceeded", w.agentId, cost, 0n))),
    );
    expect(await w.deposit()).to.equal(deposit - paid);
    expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(0n);
  });
});

describe("agent threats: checkAgentCalls answers exactly what the direct call would do", function () {
  it("returns empty bytes for a batch that passes, and the call then passes", async function () {
    const w = await load();
    const calls = [usdcTransfer(w, w.addr.merchantA, USDC(25)), w.eth(w.addr.merchantB, 1n), w.poke()];
    expect(await w.account.read.checkAgentCalls([w.agentId, calls])).to.equal("0x");
    await pays(w, "direct", { calls });
    expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(25));
  });

  it("returns the direct call's revert bytes for a sample of refusals", async function () {
    const w = await load();
    const samples: Attempt["calls"][] = [
      [],
      [usdcTransfer(w, w.addr.stranger, 1n)],
      [usdcTransfer(w, w.addr.merchantA, USDC(26))],
      [{ ...usdcTransfer(w, w.addr.merchantA, 1n), value: 1n }],
      [w.erc20(w.other.address, "approve", w.addr.merchantA, 1n)],
      [w.call(w.usdc.address, "0xa9059c")],
      [1, 2, 3, 4, 5].map(() => usdcTransfer(w, w.addr.merchantA, USDC(25))),
    ];
    for (const calls of samples) {
      const view = await w.account.read.checkAgentCalls([w.agentId, calls]);
      const r = await sendDirect(w, { calls });
      expect(r.ok).to.equal(false);
      expect(view).to.not.equal("0x");
      // the direct call was mined one second after the view's block: same period, same answer
      expect((r as { data: Hex }).data).to.equal(view);
    }
  });
});

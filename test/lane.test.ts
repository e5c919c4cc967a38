// The x402 lane (SPEC section 7) on the contract: opening reserves a hold in both counters, lane signatures make the
// token's EIP-3009 transfers from the account valid only inside that hold, the next opening (or a closing) gives back
// what was not used, and every refusal is explained by checkLanePayment. The real test USDC settles every payment.
import { network } from "hardhat";
import { expect } from "chai";
import {
  type Address,
  type Hex,
  type TransactionReceipt,
  concat,
  encodeErrorResult,
  encodeFunctionData,
  hashTypedData,
  padHex,
  parseEventLogs,
  toHex,
  zeroAddress,
} from "viem";

import {
  encodeLaneSignature,
  laneNonce,
  signLaneAuthorization,
  transferWithAuthorizationTypes,
} from "../src/x402/lane.js";
import { deployStopline } from "./helpers/fixture.js";
import {
  BATCH_MODE,
  ERC1271_INVALID,
  bundleRefused,
  ERC1271_MAGIC,
  encodeBatch,
  eventsOf,
  expectError,
  expectEvents,
  expectRevert,
  opOutcome,
  same,
  send,
} from "./helpers/admin.js";
import {
  ENTRY_POINT_ABI,
  ROLES,
  USDC,
  agentIdFor,
  hdKey,
  limit,
  maxCost,
  nonceFor,
  nonceKeyOf,
  policy,
  userOp,
} from "./helpers/stopline.js";

const conn = await network.create();
const { viem, networkHelpers } = conn;

const DAY = 86_400n;
const HOUR = 3_600n;
/** A Wednesday, 00:00 UTC: the world's clock starts 10 hours into this day. */
const DAY0 = 1_800_057_600n;
const N = 3; // lane slots per period
const M = USDC(10); // largest lane payment

/** The fixture's agent, with a lane of N payments of at most M on the test USDC. */
async function laneWorld() {
  await networkHelpers.time.increaseTo(DAY0 + 10n * HOUR);
  const s = await deployStopline(conn);
  const lanePolicy = policy({
    ...s.agentPolicy,
    limits: [limit({ ...s.agentPolicy.limits[0], laneCount: N, laneMax: M })],
  });
  await s.account.write.updatePolicy([s.agentId, lanePolicy]);
  const [, name, version, chainId, verifyingContract] = await s.usdc.read.eip712Domain();
  const domain = { name, version, chainId: Number(chainId), verifyingContract };
  const asStranger = await viem.getContractAt("AgentAccount", s.accountAddress, {
    client: { wallet: s.wallets.stranger },
  });
  return { ...s, lanePolicy, domain, asStranger };
}
type W = Awaited<ReturnType<typeof laneWorld>>;

const now = async () => BigInt(await networkHelpers.time.latest());
const periodOf = (t: bigint) => (t / DAY + 1n) * DAY; // the fixture's period: days from the epoch (validAfter 0)

/** Signs lane slot `i` paying `to` `value`, valid from now - 1 to the end of the period (overrides allowed). */
async function laneAuth(
  w: W,
  o: {
    i?: bigint;
    to?: Address;
    value?: bigint;
    validAfter?: bigint;
    validBefore?: bigint;
    period?: bigint;
    key?: number;
  } = {},
) {
  const t = await now();
  const validAfter = o.validAfter ?? t - 1n;
  const period = o.period ?? periodOf(validAfter);
  return signLaneAuthorization(hdKey(o.key ?? ROLES.agent), w.domain, {
    address: w.accountAddress,
    agentId: w.agentId,
    token: w.usdc.address,
    period,
    i: o.i ?? 0n,
    to: o.to ?? w.addr.merchantA,
    value: o.value ?? M,
    validAfter,
    validBefore: o.validBefore ?? period,
  });
}

type Auth = Awaited<ReturnType<typeof laneAuth>>;

/** The facilitator's settlement: the token's `bytes signature` overload, sent by the stranger (anyone may). */
function settle(w: W, a: Auth) {
  return w.usdc.write.transferWithAuthorization(
    [w.accountAddress, a.to, a.value, a.validAfter, a.validBefore, a.nonce, a.signature],
    { account: w.wallets.stranger.account },
  );
}

const check = (w: W, a: Auth) =>
  w.account.read.checkLanePayment([w.agentId, w.usdc.address, a.i, a.to, a.value, a.validAfter, a.validBefore]);

const balances = async (w: W) => ({
  account: await w.usdc.read.balanceOf([w.accountAddress]),
  merchantA: await w.usdc.read.balanceOf([w.addr.merchantA]),
  stranger: await w.usdc.read.balanceOf([w.addr.stranger]),
});

/** A lane payment that must be refused: checkLanePayment names `name(args)`, isValidSignature says no, the token
 *  refuses to settle it, and no balance or counter moves. */
async function refusedEverywhere(w: W, a: Auth, name: string, args: readonly unknown[]) {
  const before = { b: await balances(w), spent: await w.account.read.spent([w.agentId, w.usdc.address]) };
  expectError((await check(w, a)) as Hex, w.account.abi, name, args);
  expect(await w.account.read.isValidSignature([a.digest, a.signature])).to.equal(ERC1271_INVALID);
  await expectRevert(settle(w, a), w.usdc.abi, "InvalidAuthorizationSignature", []);
  same({ b: await balances(w), spent: await w.account.read.spent([w.agentId, w.usdc.address]) }, before);
}

/** A lane authorization of slot 0 to merchantA for M, signed by the agent key without the toolkit's window checks. */
async function signUnchecked(w: W, o: { validAfter: bigint; validBefore: bigint; period: bigint }) {
  const base = {
    address: w.accountAddress,
    agentId: w.agentId,
    token: w.usdc.address,
    i: 0n,
    to: w.addr.merchantA,
    value: M,
  };
  const auth = { ...base, ...o };
  const nonce = laneNonce(auth);
  const digest = hashTypedData({
    domain: w.domain,
    types: transferWithAuthorizationTypes,
    primaryType: "TransferWithAuthorization",
    message: {
      from: w.accountAddress,
      to: auth.to,
      value: M,
      validAfter: o.validAfter,
      validBefore: o.validBefore,
      nonce,
    },
  });
  const ecdsa = await hdKey(ROLES.agent).sign({ hash: digest });
  return { ...auth, nonce, digest, signature: encodeLaneSignature({ ...auth, ecdsa }) };
}

const encodeError = (w: W, errorName: string, args: readonly unknown[]) =>
  encodeErrorResult({ abi: w.account.abi, errorName, args } as never);

/** paymasterAndData naming `pm`, with its two gas limits (validation, postOp). */
const paymaster = (pm: Address): Hex =>
  concat([pm, padHex(toHex(100_000n), { size: 16 }), padHex(toHex(50_000n), { size: 16 })]);

/** Every op of `sender` in a mined bundle, in order: success and the logged revert reason. */
function opOutcomes(receipt: TransactionReceipt, sender: Address) {
  const events = parseEventLogs({ abi: ENTRY_POINT_ABI, logs: receipt.logs }) as unknown as {
    eventName: string;
    args: { sender: Address; nonce: bigint; success?: boolean; revertReason?: Hex };
  }[];
  const mine = events.filter((e) => e.args?.sender?.toLowerCase() === sender.toLowerCase());
  return mine
    .filter((e) => e.eventName === "UserOperationEvent")
    .map((e) => ({
      success: e.args.success as boolean,
      revertData: mine.find((r) => r.eventName === "UserOperationRevertReason" && r.args.nonce === e.args.nonce)?.args
        .revertReason,
    }));
}

async function openLane(w: W, from: "agent" | "owner" = "agent") {
  const client = from === "agent" ? w.asAgent : w.account;
  const hash = await client.write.openLane([w.agentId, w.usdc.address]);
  return w.publicClient.waitForTransactionReceipt({ hash });
}

/** The lane policy with the lane switched off. */
const laneOff = (w: W) =>
  policy({ ...w.lanePolicy, limits: [limit({ ...w.lanePolicy.limits[0], laneCount: 0, laneMax: 0n })] });

/** The agent pays merchantA these amounts in one direct batch. */
async function pay(w: W, amounts: bigint[]) {
  const hash = await w.asAgent.write.executeAsAgent([w.agentId, amounts.map((a) => w.transfer(w.addr.merchantA, a))]);
  return w.publicClient.waitForTransactionReceipt({ hash });
}

/** A LaneOpened event's arguments. */
const opened = (w: W, period: bigint, slots: bigint, settled: [bigint, bigint, bigint] = [0n, 0n, 0n]) => ({
  agentId: w.agentId,
  token: w.usdc.address,
  period,
  slots,
  laneMax: M,
  settledPeriod: settled[0],
  usedInSettled: settled[1],
  givenBack: settled[2],
});

describe("x402 lane (SPEC section 7)", function () {
  describe("policy", function () {
    const cases: [
      string,
      (w: W) => { laneCount: number; laneMax: bigint; token?: Address; perPayment?: bigint },
      string,
    ][] = [
      ["on ETH", () => ({ token: zeroAddress, laneCount: 1, laneMax: 1n }), "a lane needs an ERC-20 token, not ETH"],
      ["with 257 slots", () => ({ laneCount: 257, laneMax: 1n }), "laneCount above 256"],
      ["with laneMax 0", () => ({ laneCount: 1, laneMax: 0n }), "laneMax must be above 0 and at most perPayment"],
      [
        "with laneMax above perPayment",
        () => ({ laneCount: 1, laneMax: USDC(25) + 1n }),
        "laneMax must be above 0 and at most perPayment",
      ],
      [
        "with laneMax above 2^128-2 under an unlimited perPayment",
        () => ({ laneCount: 1, laneMax: 2n ** 128n - 1n, perPayment: 2n ** 256n - 1n }),
        "laneMax above 2^128-2",
      ],
    ];
    for (const [title, make, reason] of cases) {
      it(`refuses a lane ${title}: InvalidPolicy("${reason}")`, async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        const o = make(w);
        const base = w.lanePolicy.limits[0];
        const lim = limit({
          ...base,
          token: o.token ?? base.token,
          perPayment: o.perPayment ?? base.perPayment,
          perPeriod: o.perPayment === undefined ? base.perPeriod : 2n ** 256n - 1n,
          lifetime: o.perPayment === undefined ? base.lifetime : 2n ** 256n - 1n,
          laneCount: o.laneCount,
          laneMax: o.laneMax,
        });
        await expectRevert(
          w.account.write.updatePolicy([w.agentId, { ...w.lanePolicy, limits: [lim] }]),
          w.account.abi,
          "InvalidPolicy",
          [reason],
        );
        await expectRevert(
          w.account.write.grantAgent([agentIdFor(9), w.addr.newKey, { ...w.lanePolicy, limits: [lim] }]),
          w.account.abi,
          "InvalidPolicy",
          [reason],
        );
      });
    }

    it("keeps the lane fields in the stored policy, and laneMax only while the lane is on", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      same((await w.account.read.getAgent([w.agentId]))[2].limits, w.lanePolicy.limits);
      const off = policy({
        ...w.lanePolicy,
        limits: [limit({ ...w.lanePolicy.limits[0], laneCount: 0, laneMax: 7n })],
      });
      await w.account.write.updatePolicy([w.agentId, off]);
      same((await w.account.read.getAgent([w.agentId]))[2].limits, [{ ...off.limits[0], laneMax: 0n }]);
    });
  });

  describe("openLane", function () {
    it("reserves min(laneCount, room / laneMax) slots and charges the hold to both counters at once", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      const p = periodOf(await now());
      const receipt = await openLane(w);
      expectEvents(receipt, w.account.abi, "LaneOpened", w.accountAddress, [opened(w, p, 3n)]);
      same(await w.account.read.lane([w.agentId, w.usdc.address]), [p, 3n, M]);
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), USDC(30)]);
      same(await w.account.read.remaining([w.agentId, w.usdc.address]), [USDC(25), USDC(70), USDC(970), p]);
      // opening again in the same period does nothing
      const again = await openLane(w, "owner");
      expect(eventsOf(again, w.account.abi, "LaneOpened", w.accountAddress)).to.have.length(0);
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), USDC(30)]);
    });

    it("reserves only what the caps leave: fewer slots when room / laneMax < laneCount", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      // 85 paid with the lane off, then the lane switched on: 15 left in the period, one slot of 10
      await w.account.write.updatePolicy([w.agentId, laneOff(w)]);
      await pay(w, [USDC(25), USDC(25), USDC(25)]);
      await pay(w, [USDC(10)]);
      await w.account.write.updatePolicy([w.agentId, w.lanePolicy]);
      const p = periodOf(await now());
      expectEvents(await openLane(w), w.account.abi, "LaneOpened", w.accountAddress, [opened(w, p, 1n)]);
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(95), USDC(95)]);
      same(await w.account.read.lane([w.agentId, w.usdc.address]), [p, 1n, M]);
    });

    it("is refused, in SPEC's order, with nothing reserved", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      const open = (c: typeof w.asAgent, id: Hex = w.agentId, token: Address = w.usdc.address) =>
        c.write.openLane([id, token]);
      // a stranger is neither the key nor the owner
      await expectRevert(open(w.asStranger), w.account.abi, "AgentUnknown", [w.addr.stranger]);
      // an unlisted token, then ETH (listed by no lane), then a listed token without a lane
      await expectRevert(open(w.asAgent, w.agentId, w.addr.merchantB), w.account.abi, "TokenNotAllowed", [
        w.agentId,
        w.addr.merchantB,
      ]);
      const withEth = policy({
        ...w.lanePolicy,
        limits: [...w.lanePolicy.limits, limit({ token: zeroAddress, perPayment: 1n, perPeriod: 1n, lifetime: 1n })],
      });
      await w.account.write.updatePolicy([w.agentId, withEth]);
      await expectRevert(open(w.asAgent, w.agentId, zeroAddress), w.account.abi, "LaneNotEnabled", [
        w.agentId,
        zeroAddress,
      ]);
      await w.account.write.updatePolicy([w.agentId, laneOff(w)]);
      await expectRevert(open(w.asAgent), w.account.abi, "LaneNotEnabled", [w.agentId, w.usdc.address]);
      await w.account.write.updatePolicy([w.agentId, w.lanePolicy]);
      // an id never granted
      await expectRevert(open(w.account, agentIdFor(77)), w.account.abi, "AgentNotFound", [agentIdFor(77)]);
      // the validity window, at the block's time
      const t = await now();
      await w.account.write.updatePolicy([w.agentId, { ...w.lanePolicy, validAfter: Number(t + 100n) }]);
      await expectRevert(open(w.asAgent), w.account.abi, "AgentNotYetValid", [w.agentId, t + 100n]);
      await w.account.write.updatePolicy([w.agentId, { ...w.lanePolicy, validUntil: Number(t) }]);
      await expectRevert(open(w.asAgent), w.account.abi, "AgentExpired", [w.agentId, t]);
      await w.account.write.updatePolicy([w.agentId, w.lanePolicy]);
      // paused: for the owner too (a hold is an agent action); paused wins over everything
      await w.account.write.pauseAgents();
      await expectRevert(open(w.account), w.account.abi, "AgentsPaused", []);
      await expectRevert(open(w.asStranger, agentIdFor(77)), w.account.abi, "AgentsPaused", []);
      await w.account.write.unpauseAgents();
      // revoked, whoever asks
      await w.account.write.revokeAgent([w.agentId]);
      await expectRevert(open(w.account), w.account.abi, "AgentIsRevoked", [w.agentId]);
      await expectRevert(open(w.asStranger), w.account.abi, "AgentIsRevoked", [w.agentId]);
      same(await w.account.read.lane([w.agentId, w.usdc.address]), [0n, 0n, 0n]);
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [0n, 0n]);
    });

    it("is open to owner batches and to the owner key, as well as to the agent's key", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      const p = periodOf(await now());
      const data = encodeFunctionData({
        abi: w.account.abi,
        functionName: "openLane",
        args: [w.agentId, w.usdc.address],
      });
      const batch = encodeFunctionData({
        abi: w.account.abi,
        functionName: "execute",
        args: [BATCH_MODE, encodeBatch([{ target: w.accountAddress, value: 0n, callData: data }])],
      });
      const receipt = await send(w, "owner", w.accountAddress, batch);
      expectEvents(receipt, w.account.abi, "LaneOpened", w.accountAddress, [opened(w, p, 3n)]);
      // the owner key itself, in the next period (the batch opened this one)
      await networkHelpers.time.increaseTo(p + HOUR);
      expectEvents(await openLane(w, "owner"), w.account.abi, "LaneOpened", w.accountAddress, [
        opened(w, p + DAY, 3n, [p, 0n, 3n * M]),
      ]);
    });
  });

  describe("lane payments (isValidSignature and the token's EIP-3009 transfer)", function () {
    it("settle inside the hold: the merchant is paid, the counters do not move again, each nonce settles once", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      await openLane(w);
      const before = await balances(w);
      const a = await laneAuth(w, { i: 0n, value: M });
      expect((await check(w, a)) as Hex).to.equal("0x");
      expect(await w.account.read.isValidSignature([a.digest, a.signature])).to.equal(ERC1271_MAGIC);
      await settle(w, a);
      same(await balances(w), { ...before, account: before.account - M, merchantA: before.merchantA + M });
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), USDC(30)]);
      expect(await w.usdc.read.authorizationState([w.accountAddress, a.nonce])).to.equal(true);
      // the same nonce again: the token refuses it; the view says the slot is taken
      await expectRevert(settle(w, a), w.usdc.abi, "AuthorizationAlreadyUsed", [w.accountAddress, a.nonce]);
      expectError((await check(w, a)) as Hex, w.account.abi, "LaneSlotUnavailable", [
        w.agentId,
        w.usdc.address,
        0n,
        3n,
      ]);
      // the nonce is the account's laneNonce
      expect(a.nonce).to.equal(await w.account.read.laneNonce([w.agentId, w.usdc.address, a.period, 0n]));
      expect(a.period).to.equal(await w.account.read.lanePeriodOf([w.agentId, a.validAfter]));
    });

    it("settle at most laneCount payments of at most laneMax in a period: exactly the hold", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      await openLane(w);
      const before = await balances(w);
      for (const i of [0n, 1n, 2n]) await settle(w, await laneAuth(w, { i, value: M }));
      same((await balances(w)).account, before.account - 3n * M);
      await refusedEverywhere(w, await laneAuth(w, { i: 3n }), "LaneSlotUnavailable", [
        w.agentId,
        w.usdc.address,
        3n,
        3n,
      ]);
    });

    describe("are refused, with the reason checkLanePayment gives, and nothing moves", function () {
      it("a merchant not in the allowlist", async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        await openLane(w);
        await refusedEverywhere(w, await laneAuth(w, { to: w.addr.stranger }), "MerchantNotAllowed", [
          w.agentId,
          w.addr.stranger,
        ]);
      });

      it("a value above laneMax (and above the hold's laneMax after an update lowers it)", async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        await openLane(w);
        await refusedEverywhere(w, await laneAuth(w, { value: M + 1n }), "PerPaymentCapExceeded", [
          w.agentId,
          w.usdc.address,
          M + 1n,
          M,
        ]);
        const lower = policy({
          ...w.lanePolicy,
          limits: [limit({ ...w.lanePolicy.limits[0], laneCount: N, laneMax: USDC(4) })],
        });
        await w.account.write.updatePolicy([w.agentId, lower]);
        await refusedEverywhere(w, await laneAuth(w, { value: USDC(5) }), "PerPaymentCapExceeded", [
          w.agentId,
          w.usdc.address,
          USDC(5),
          USDC(4),
        ]);
      });

      it("a validBefore past the period's end, or a window that is empty", async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        await openLane(w);
        const t = await now();
        const p = periodOf(t);
        for (const [validAfter, validBefore] of [
          [t - 1n, p + 1n],
          [t - 1n, t - 1n],
        ]) {
          // signed by hand: the toolkit refuses to build either
          const a = await signUnchecked(w, { validAfter, validBefore, period: p });
          expectError((await check(w, a)) as Hex, w.account.abi, "LaneWindowInvalid", [
            w.agentId,
            validAfter,
            validBefore,
            p,
          ]);
          expect(await w.account.read.isValidSignature([a.digest, a.signature])).to.equal(ERC1271_INVALID);
        }
        // one that outlives the period cannot settle even after the period (the lane is then another's)
      });

      it("a lane not opened for the period, or a period whose lane is not the open one", async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        const p = periodOf(await now());
        await refusedEverywhere(w, await laneAuth(w), "LaneNotOpen", [w.agentId, w.usdc.address, p]);
        await openLane(w);
        // an authorization for the next period (validAfter tomorrow): that period's lane is not open
        const a = await laneAuth(w, { validAfter: p + 10n, validBefore: p + 100n });
        expectError((await check(w, a)) as Hex, w.account.abi, "LaneNotOpen", [w.agentId, w.usdc.address, p + DAY]);
        expect(await w.account.read.isValidSignature([a.digest, a.signature])).to.equal(ERC1271_INVALID);
      });

      it("while agents are paused, after revocation, outside active hours, outside the validity window", async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        await openLane(w);
        const a = await laneAuth(w);
        await w.account.write.pauseAgents();
        await refusedEverywhere(w, a, "AgentsPaused", []);
        await w.account.write.unpauseAgents();
        const t = await now();
        const h = (t / HOUR + 72n) % 168n;
        await w.account.write.updatePolicy([w.agentId, { ...w.lanePolicy, activeHours: 1n << ((h + 5n) % 168n) }]);
        await refusedEverywhere(w, a, "OutsideActiveHours", [w.agentId, h]);
        await w.account.write.updatePolicy([w.agentId, { ...w.lanePolicy, validUntil: Number(t + 1n) }]);
        await networkHelpers.time.increase(5);
        await refusedEverywhere(w, a, "AgentExpired", [w.agentId, t + 1n]);
        await w.account.write.updatePolicy([w.agentId, w.lanePolicy]);
        expect((await check(w, a)) as Hex).to.equal("0x");
        await w.account.write.revokeAgent([w.agentId]);
        await refusedEverywhere(w, a, "AgentIsRevoked", [w.agentId]);
      });

      it("an agent never granted (AgentNotFound; its lane period is 0), or one not yet valid", async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        await openLane(w);
        const a = await laneAuth(w);
        const unknown = agentIdFor(99);
        expectError(
          (await w.account.read.checkLanePayment([
            unknown,
            w.usdc.address,
            0n,
            a.to,
            a.value,
            a.validAfter,
            a.validBefore,
          ])) as Hex,
          w.account.abi,
          "AgentNotFound",
          [unknown],
        );
        expect(await w.account.read.lanePeriodOf([unknown, a.validAfter])).to.equal(0n);
        const t = await now();
        await w.account.write.updatePolicy([w.agentId, { ...w.lanePolicy, validAfter: Number(t + 100n) }]);
        await refusedEverywhere(w, a, "AgentNotYetValid", [w.agentId, t + 100n]);
      });

      it("an unlisted token, or a listed token whose lane is off", async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        await openLane(w);
        const a = await laneAuth(w);
        expectError(
          (await w.account.read.checkLanePayment([
            w.agentId,
            w.addr.merchantB,
            0n,
            a.to,
            a.value,
            a.validAfter,
            a.validBefore,
          ])) as Hex,
          w.account.abi,
          "TokenNotAllowed",
          [w.agentId, w.addr.merchantB],
        );
        await w.account.write.updatePolicy([w.agentId, laneOff(w)]);
        await refusedEverywhere(w, a, "LaneNotEnabled", [w.agentId, w.usdc.address]);
      });

      it("a key other than the agent's current one (a rotated-away key, the owner, a stranger)", async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        await openLane(w);
        for (const key of [ROLES.owner, ROLES.stranger, ROLES.agent2]) {
          const a = await laneAuth(w, { key });
          expect((await check(w, a)) as Hex).to.equal("0x"); // everything but the signature holds
          expect(await w.account.read.isValidSignature([a.digest, a.signature])).to.equal(ERC1271_INVALID);
          await expectRevert(settle(w, a), w.usdc.abi, "InvalidAuthorizationSignature", []);
        }
        const a = await laneAuth(w);
        await w.account.write.rotateAgentKey([w.agentId, w.addr.newKey]);
        expect(await w.account.read.isValidSignature([a.digest, a.signature])).to.equal(ERC1271_INVALID);
        await expectRevert(settle(w, a), w.usdc.abi, "InvalidAuthorizationSignature", []);
        // the new key signs the same slot, and it settles
        await settle(w, await laneAuth(w, { key: ROLES.newKey }));
      });

      it("a lane signature checked against another hash, or with its fields changed after signing", async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        await openLane(w);
        const a = await laneAuth(w);
        expect(await w.account.read.isValidSignature([a.nonce, a.signature])).to.equal(ERC1271_INVALID);
        // the token hashes what it is given: a different value or recipient is a different digest
        await expectRevert(
          w.usdc.write.transferWithAuthorization([
            w.accountAddress,
            w.addr.merchantA,
            M - 1n,
            a.validAfter,
            a.validBefore,
            a.nonce,
            a.signature,
          ]),
          w.usdc.abi,
          "InvalidAuthorizationSignature",
          [],
        );
        await expectRevert(
          w.usdc.write.transferWithAuthorization([
            w.accountAddress,
            w.addr.merchantB,
            M,
            a.validAfter,
            a.validBefore,
            a.nonce,
            a.signature,
          ]),
          w.usdc.abi,
          "InvalidAuthorizationSignature",
          [],
        );
      });
    });
  });

  describe("settling a period", function () {
    it("the next period's opening counts the used nonces and gives the rest back to the lifetime counter", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      await openLane(w);
      const p = periodOf(await now());
      await settle(w, await laneAuth(w, { i: 1n }));
      await networkHelpers.time.increaseTo(p + HOUR);
      const receipt = await openLane(w);
      expectEvents(receipt, w.account.abi, "LaneOpened", w.accountAddress, [opened(w, p + DAY, 3n, [p, 1n, 2n * M])]);
      // lifetime: 30 held, 20 given back, 30 held again; the period counter is the new hold
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), USDC(40)]);
      same(await w.account.read.remaining([w.agentId, w.usdc.address]), [USDC(25), USDC(70), USDC(960), p + DAY]);
      // last period's authorizations cannot settle any more (the token's validBefore) nor pass the lane check
      const old = await laneAuth(w, { i: 2n, validAfter: p - 100n, validBefore: p });
      expectError((await check(w, old)) as Hex, w.account.abi, "LaneNotOpen", [w.agentId, w.usdc.address, p]);
    });

    it("an ordinary payment opens the lane after charging its own amount, and checkAgentCalls foresees it", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      const p = periodOf(await now());
      // 70 then 5 in one batch: the 70 leaves 30, the lane holds 3 x 10 of it, and the 5 no longer fits
      const calls = [
        w.transfer(w.addr.merchantA, USDC(25)),
        w.transfer(w.addr.merchantA, USDC(25)),
        w.transfer(w.addr.merchantA, USDC(20)),
        w.transfer(w.addr.merchantB, USDC(5)),
      ];
      const expected = ["PeriodCapExceeded", [w.agentId, w.usdc.address, USDC(5), 0n, p]] as const;
      expectError((await w.asAgent.read.checkAgentCalls([w.agentId, calls])) as Hex, w.account.abi, ...expected);
      await expectRevert(w.asAgent.write.executeAsAgent([w.agentId, calls]), w.account.abi, ...expected);
      same(await w.account.read.lane([w.agentId, w.usdc.address]), [0n, 0n, 0n]);
      // without the last call it passes: AgentPaid for the first payment, then the lane opens, then the others
      const receipt = await pay(w, [USDC(25), USDC(25), USDC(20)]);
      expectEvents(receipt, w.account.abi, "LaneOpened", w.accountAddress, [opened(w, p, 3n)]);
      const paid = eventsOf(receipt, w.account.abi, "AgentPaid", w.accountAddress).map((e) => [
        e.args.amount,
        e.args.spentInPeriod,
        e.args.spentLifetime,
      ]);
      same(paid, [
        [USDC(25), USDC(25), USDC(25)],
        [USDC(25), USDC(80), USDC(80)],
        [USDC(20), USDC(100), USDC(100)],
      ]);
      // the hold is the lane's: three lane payments settle, and nothing else fits in the period
      for (const i of [0n, 1n, 2n]) await settle(w, await laneAuth(w, { i }));
      await expectRevert(pay(w, [1n]), w.account.abi, "PeriodCapExceeded", [w.agentId, w.usdc.address, 1n, 0n, p]);
      same((await balances(w)).merchantA, USDC(100));
    });

    it("a later payment in the period leaves the open lane as it is", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      await openLane(w);
      const receipt = await pay(w, [USDC(5)]);
      expect(eventsOf(receipt, w.account.abi, "LaneOpened", w.accountAddress)).to.have.length(0);
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(35), USDC(35)]);
    });
  });

  describe("closing", function () {
    it("an update that switches the lane off settles it at once; the period keeps its hold; no reopening this period", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      await openLane(w);
      const p = periodOf(await now());
      await settle(w, await laneAuth(w, { i: 0n }));
      const pending = await laneAuth(w, { i: 1n });
      const hash = await w.account.write.updatePolicy([w.agentId, laneOff(w)]);
      const receipt = await w.publicClient.waitForTransactionReceipt({ hash });
      expectEvents(receipt, w.account.abi, "LaneClosed", w.accountAddress, [
        { agentId: w.agentId, token: w.usdc.address, settledPeriod: p, usedInSettled: 1n, givenBack: 2n * M },
      ]);
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), USDC(10)]);
      same(await w.account.read.lane([w.agentId, w.usdc.address]), [p, 0n, 0n]);
      await refusedEverywhere(w, pending, "LaneNotEnabled", [w.agentId, w.usdc.address]);
      // switched on again in the same period: the lane stays closed until the period ends
      await w.account.write.updatePolicy([w.agentId, w.lanePolicy]);
      const again = await openLane(w);
      expect(eventsOf(again, w.account.abi, "LaneOpened", w.accountAddress)).to.have.length(0);
      await refusedEverywhere(w, pending, "LaneSlotUnavailable", [w.agentId, w.usdc.address, 1n, 0n]);
      // the next period opens as usual, with nothing left to settle
      await networkHelpers.time.increaseTo(p + HOUR);
      expectEvents(await openLane(w), w.account.abi, "LaneOpened", w.accountAddress, [opened(w, p + DAY, 3n)]);
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), USDC(40)]);
    });

    it("unlisting the token closes its lane and gives the whole unused hold back", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      await openLane(w);
      const p = periodOf(await now());
      const hash = await w.account.write.updatePolicy([w.agentId, policy({ ...w.lanePolicy, limits: [] })]);
      const receipt = await w.publicClient.waitForTransactionReceipt({ hash });
      expectEvents(receipt, w.account.abi, "LaneClosed", w.accountAddress, [
        { agentId: w.agentId, token: w.usdc.address, settledPeriod: p, usedInSettled: 0n, givenBack: 3n * M },
      ]);
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), 0n]);
    });

    it("revocation closes every open lane (by the guardian too), and an update that keeps the lane on closes nothing", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      await openLane(w);
      const p = periodOf(await now());
      const keep = await w.account.write.updatePolicy([w.agentId, { ...w.lanePolicy, maxCallsPerPeriod: 7 }]);
      const kept = await w.publicClient.waitForTransactionReceipt({ hash: keep });
      expect(eventsOf(kept, w.account.abi, "LaneClosed", w.accountAddress)).to.have.length(0);
      same(await w.account.read.lane([w.agentId, w.usdc.address]), [p, 3n, M]);
      await settle(w, await laneAuth(w, { i: 2n }));
      await w.account.write.setGuardian([w.addr.guardian]);
      const asGuardian = await viem.getContractAt("AgentAccount", w.accountAddress, {
        client: { wallet: w.wallets.guardian },
      });
      const hash = await asGuardian.write.revokeAgent([w.agentId]);
      const receipt = await w.publicClient.waitForTransactionReceipt({ hash });
      expectEvents(receipt, w.account.abi, "LaneClosed", w.accountAddress, [
        { agentId: w.agentId, token: w.usdc.address, settledPeriod: p, usedInSettled: 1n, givenBack: 2n * M },
      ]);
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), USDC(10)]);
    });

    it("a token that burns gas or answers nothing counts every nonce as used and cannot block settlement or revocation", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      for (const name of ["LaneMockGasBurner", "LaneMockMute"] as const) {
        const token = (await viem.deployContract(name)).address;
        const id = agentIdFor(name === "LaneMockGasBurner" ? 21 : 22);
        const key = name === "LaneMockGasBurner" ? w.wallets.agent2 : w.wallets.newKey;
        const slots = 8;
        await w.account.write.grantAgent([
          id,
          key.account.address,
          policy({
            limits: [{ token, perPayment: 10n, perPeriod: 1_000n, lifetime: 10_000n, laneCount: slots, laneMax: 10n }],
            merchants: [w.addr.merchantA],
          }),
        ]);
        const asKey = await viem.getContractAt("AgentAccount", w.accountAddress, { client: { wallet: key } });
        await asKey.write.openLane([id, token]);
        const p = periodOf(await now());
        await networkHelpers.time.increaseTo(p + HOUR + (name === "LaneMockMute" ? DAY : 0n));
        const q = periodOf(await now());
        const hash = await asKey.write.openLane([id, token], { gas: 2_000_000n });
        const receipt = await w.publicClient.waitForTransactionReceipt({ hash });
        expect(receipt.status).to.equal("success");
        expect(receipt.gasUsed < BigInt(slots) * 32_000n + 150_000n, `gas used ${receipt.gasUsed}`).to.equal(true);
        expectEvents(receipt, w.account.abi, "LaneOpened", w.accountAddress, [
          {
            agentId: id,
            token,
            period: q,
            slots: 8n,
            laneMax: 10n,
            settledPeriod: p,
            usedInSettled: 8n,
            givenBack: 0n,
          },
        ]);
        same(await w.account.read.spent([id, token]), [80n, 160n]);
        const revoked = await w.account.write.revokeAgent([id], { gas: 2_000_000n });
        const r2 = await w.publicClient.waitForTransactionReceipt({ hash: revoked });
        expectEvents(r2, w.account.abi, "LaneClosed", w.accountAddress, [
          { agentId: id, token, settledPeriod: q, usedInSettled: 8n, givenBack: 0n },
        ]);
      }
    });
  });

  describe("openLane as a UserOperation (an agent op, whoever signs it)", function () {
    const laneCallData = (w: W, id: Hex = w.agentId, token: Address = w.usdc.address) =>
      encodeFunctionData({ abi: w.account.abi, functionName: "openLane", args: [id, token] });
    async function laneOp(
      w: W,
      o: { signer?: number; nonceKey?: bigint; callData?: Hex; paymasterAndData?: Hex } = {},
    ) {
      const key = o.nonceKey ?? nonceKeyOf(w.agentId);
      const nonce = (await w.entryPoint.read.getNonce([w.accountAddress, key])) as bigint;
      const op = userOp({
        sender: w.accountAddress,
        nonce,
        callData: o.callData ?? laneCallData(w),
        paymasterAndData: o.paymasterAndData,
      });
      return w.sign(op, o.signer ?? ROLES.agent);
    }

    for (const [who, signer] of [
      ["the agent's key", ROLES.agent],
      ["the owner", ROLES.owner],
    ] as const) {
      it(`signed by ${who}: opens the lane, on the agent's nonce key, charged to the agent's gas budget`, async function () {
        const w = await networkHelpers.loadFixture(laneWorld);
        const p = periodOf(await now());
        const usage = await w.account.read.agentUsage([w.agentId]);
        const op = await laneOp(w, { signer });
        const receipt = await w.handleOps([op]);
        expect(opOutcome(receipt, w.accountAddress).success).to.equal(true);
        expectEvents(receipt, w.account.abi, "LaneOpened", w.accountAddress, [opened(w, p, 3n)]);
        same((await w.account.read.agentUsage([w.agentId]))[0], usage[0] + maxCost(op));
        expect(await w.entryPoint.read.getNonce([w.accountAddress, nonceKeyOf(w.agentId)])).to.equal(
          nonceFor(nonceKeyOf(w.agentId), 1n),
        );
      });
    }

    it("is refused in validation, before any gas is charged: wrong nonce key, paymaster, lane off, paused, revoked", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      const refused = async (op: Awaited<ReturnType<typeof laneOp>>, name: string, args: readonly unknown[]) => {
        const usage = await w.account.read.agentUsage([w.agentId]);
        const data = await bundleRefused(w, [op]);
        expectError(data, w.entryPoint.abi, "FailedOpWithRevert", [0n, "AA23 reverted", encodeError(w, name, args)]);
        same(await w.account.read.agentUsage([w.agentId]), usage);
      };
      await refused(await laneOp(w, { nonceKey: 0n }), "WrongNonceKey", [w.agentId, 0n]);
      const pm = w.addr.stranger;
      await refused(await laneOp(w, { paymasterAndData: paymaster(pm) }), "PaymasterNotAllowed", [w.agentId, pm]);
      await refused(await laneOp(w, { callData: laneCallData(w, w.agentId, zeroAddress) }), "TokenNotAllowed", [
        w.agentId,
        zeroAddress,
      ]);
      await w.account.write.updatePolicy([w.agentId, laneOff(w)]);
      await refused(await laneOp(w), "LaneNotEnabled", [w.agentId, w.usdc.address]);
      await w.account.write.updatePolicy([w.agentId, w.lanePolicy]);
      const malformed = (await laneOp(w)).callData + "00";
      await refused(await laneOp(w, { callData: malformed as Hex }), "MalformedAgentCallData", []);
      await w.account.write.pauseAgents();
      await refused(await laneOp(w), "AgentsPaused", []);
      await w.account.write.unpauseAgents();
      await w.account.write.revokeAgent([w.agentId]);
      await refused(await laneOp(w), "AgentIsRevoked", [w.agentId]);
    });

    it("signed by anyone else, or for an id never granted: AA24", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      for (const op of [
        await laneOp(w, { signer: ROLES.stranger }),
        await laneOp(w, { signer: ROLES.guardian }),
        await laneOp(w, { callData: laneCallData(w, agentIdFor(1, 9n)), nonceKey: nonceKeyOf(agentIdFor(1, 9n)) }),
      ]) {
        expectError(await bundleRefused(w, [op]), w.entryPoint.abi, "FailedOp", [0n, "AA24 signature error"]);
      }
      same(await w.account.read.lane([w.agentId, w.usdc.address]), [0n, 0n, 0n]);
    });

    it("stops at execution when the key that signed it was rotated away earlier in the same bundle", async function () {
      const w = await networkHelpers.loadFixture(laneWorld);
      const rotate = await w.ownerOp(
        encodeFunctionData({ abi: w.account.abi, functionName: "rotateAgentKey", args: [w.agentId, w.addr.newKey] }),
      );
      const op = await laneOp(w);
      const receipt = await w.handleOps([rotate, op]);
      const outcome = opOutcomes(receipt, w.accountAddress);
      expect(outcome.map((o) => o.success)).to.deep.equal([true, false]);
      expectError(outcome[1].revertData, w.account.abi, "AgentUnknown", [w.addr.agent]);
      same(await w.account.read.lane([w.agentId, w.usdc.address]), [0n, 0n, 0n]);
    });
  });
});

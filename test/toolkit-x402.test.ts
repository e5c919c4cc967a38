// The x402 side of the toolkit on the in-process network: the Stopline x402 scheme's payload (the account as payer,
// the lane nonce, the lane signature, the window clipped to the lane period), its preflight (the account's refusal as
// the toolkit's error class and sentence, before anything is signed), and ensureLaneOpen on both agent paths (the key
// sends openLane; a UserOperation on the agent's nonce key through the real EntryPoint). Every payload the scheme
// builds is settled by the real test USDC, as a facilitator would.
import { expect } from "chai";
import { network } from "hardhat";
import { type Address, type Hash, type Hex, hexToBytes, parseEventLogs, size } from "viem";
import { type SmartAccount, type UserOperation, toPackedUserOperation } from "viem/account-abstraction";

import { toStoplineAgentAccount } from "../src/agent/index.js";
import {
  LaneNotEnabledError,
  LaneNotOpenError,
  LaneSlotUnavailableError,
  MerchantNotAllowedError,
  PerPaymentCapExceededError,
} from "../src/errors/index.js";
import { shortAddress } from "../src/utils/format.js";
import {
  LANE_SIGNATURE_LENGTH,
  StoplineX402Scheme,
  X402PaymentError,
  ensureLaneOpen,
  laneNonce,
  openLaneCallData,
} from "../src/x402/index.js";
import { checkLanePayment, openLane, stoplineActions } from "../src/index.js";
import { deployStopline } from "./helpers/fixture.js";
import { ERC1271_MAGIC, same } from "./helpers/admin.js";
import { ROLES, USDC, hdKey, limit, nonceFor, nonceKeyOf, policy, rejection } from "./helpers/stopline.js";

const { viem, networkHelpers } = await network.create();

const DAY = 86_400n;
const HOUR = 3_600n;
/** A Wednesday, 00:00 UTC: the world's clock starts 10 hours into this day. */
const DAY0 = 1_800_057_600n;
const N = 3;
const M = USDC(10);

async function x402World() {
  await networkHelpers.time.increaseTo(DAY0 + 10n * HOUR);
  const s = await deployStopline({ viem, networkHelpers } as never, { agentPolicy: {} });
  const lanePolicy = policy({
    ...s.agentPolicy,
    limits: [limit({ ...s.agentPolicy.limits[0], laneCount: N, laneMax: M })],
  });
  await s.account.write.updatePolicy([s.agentId, lanePolicy]);
  const [, name, version, chainId] = await s.usdc.read.eip712Domain();
  const requirements = (o: { amount?: bigint; payTo?: Address; maxTimeoutSeconds?: number } = {}) => ({
    scheme: "exact",
    network: `eip155:${chainId}`,
    asset: s.usdc.address,
    amount: (o.amount ?? M).toString(),
    payTo: o.payTo ?? s.addr.merchantA,
    maxTimeoutSeconds: o.maxTimeoutSeconds ?? 60,
    extra: { name, version },
  });
  return { ...s, lanePolicy, requirements, chainId };
}
type W = Awaited<ReturnType<typeof x402World>>;

const now = async () => BigInt(await networkHelpers.time.latest());
const periodOf = (t: bigint) => (t / DAY + 1n) * DAY;

/** The scheme for the fixture's agent, on the chain's clock (the in-process chain runs ahead of the wall clock). */
const schemeOf = (w: W, o: Partial<ConstructorParameters<typeof StoplineX402Scheme>[0]> = {}) =>
  new StoplineX402Scheme({
    client: w.wallets.agent,
    address: w.accountAddress,
    agentId: w.agentId,
    key: hdKey(ROLES.agent),
    now,
    ...o,
  });

type Payload = Awaited<ReturnType<StoplineX402Scheme["createPaymentPayload"]>>["payload"];

/** What a facilitator does: the token's `bytes signature` overload, sent by a stranger. */
async function settle(w: W, p: Payload) {
  const a = p.authorization;
  const hash = await w.usdc.write.transferWithAuthorization(
    [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, p.signature],
    { account: w.wallets.stranger.account },
  );
  return w.publicClient.waitForTransactionReceipt({ hash });
}

const usdcLabel = (w: W) => `USDC (${shortAddress(w.usdc.address)})`;

describe("toolkit: x402 payments from a Stopline account", function () {
  describe("StoplineX402Scheme's payload", function () {
    it("pays from the account with the lane nonce of the first free slot and a 324-byte lane signature", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      await openLane(w.wallets.agent, { address: w.accountAddress, agentId: w.agentId, token: w.usdc.address });
      const scheme = schemeOf(w);
      const t = await now();
      const p = periodOf(t);
      const { x402Version, payload } = await scheme.createPaymentPayload(2, w.requirements());
      expect(x402Version).to.equal(2);
      const nonce0 = laneNonce({
        address: w.accountAddress,
        agentId: w.agentId,
        token: w.usdc.address,
        period: p,
        i: 0n,
      });
      same(await w.account.read.laneNonce([w.agentId, w.usdc.address, p, 0n]), nonce0);
      same(payload.authorization, {
        from: w.accountAddress,
        to: w.addr.merchantA,
        value: M.toString(),
        validAfter: (t - 1n).toString(),
        validBefore: (t + 60n).toString(),
        nonce: nonce0,
      });
      expect(size(payload.signature)).to.equal(LANE_SIGNATURE_LENGTH);
      expect(LANE_SIGNATURE_LENGTH).to.equal(324);
      expect(payload.signature.slice(0, 10)).to.equal("0x4c414e45");
      expect(hexToBytes(payload.signature)[4 + 32 * 2 + 31]).to.equal(0); // slot 0
      same(scheme.lastPayment?.i, 0n);
      same(await w.account.read.isValidSignature([scheme.lastPayment!.digest, payload.signature]), ERC1271_MAGIC);

      // the same requirements again before settlement: the same slot (a payload built twice uses one slot)
      const again = await scheme.createPaymentPayload(2, w.requirements());
      expect(again.payload.authorization.nonce).to.equal(nonce0);

      // once the token marked it used, the next payload takes slot 1
      const before = await w.usdc.read.balanceOf([w.accountAddress]);
      await settle(w, payload);
      same(await w.usdc.read.balanceOf([w.accountAddress]), before - M);
      same(await w.usdc.read.balanceOf([w.addr.merchantA]), M);
      const next = await scheme.createPaymentPayload(2, w.requirements({ amount: USDC(4) }));
      same(next.payload.authorization.nonce, await w.account.read.laneNonce([w.agentId, w.usdc.address, p, 1n]));
      same(scheme.lastPayment?.i, 1n);
      await settle(w, next.payload);
      same(await w.usdc.read.balanceOf([w.addr.merchantA]), M + USDC(4));
      // counters: the hold (3 x 10), not the payments
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), USDC(30)]);
    });

    it("clips validBefore to the lane period's end, and refuses to sign in its last seconds", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      const p = periodOf(await now());
      await networkHelpers.time.increaseTo(p - 30n);
      await openLane(w.wallets.agent, { address: w.accountAddress, agentId: w.agentId, token: w.usdc.address });
      const scheme = schemeOf(w);
      const { payload } = await scheme.createPaymentPayload(2, w.requirements({ maxTimeoutSeconds: 300 }));
      expect(payload.authorization.validBefore).to.equal(p.toString());
      await settle(w, payload);
      await networkHelpers.time.increaseTo(p - 11n);
      const e = await rejection(scheme.createPaymentPayload(2, w.requirements()), X402PaymentError);
      expect(e.reason).to.equal("period-ending");
      expect(e.shortMessage).to.equal(
        `The agent's lane period ends in 11 s (at unix ${p}); a facilitator needs an authorization valid at least 6 s ahead. Pay again once the next period has started.`,
      );
    });

    it("refuses requirements it cannot pay: another chain, Permit2, no EIP-712 domain", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      const scheme = schemeOf(w);
      const other = { ...w.requirements(), network: "eip155:8453" };
      const e1 = await rejection(scheme.createPaymentPayload(2, other), X402PaymentError);
      expect(e1.shortMessage).to.equal(
        `The Stopline x402 scheme pays "exact" on eip155:${w.chainId} (the account's chain), not "exact" on eip155:8453.`,
      );
      const permit2 = { ...w.requirements(), extra: { ...w.requirements().extra, assetTransferMethod: "permit2" } };
      expect((await rejection(scheme.createPaymentPayload(2, permit2), X402PaymentError)).reason).to.equal(
        "transfer-method",
      );
      const bare = { ...w.requirements(), extra: {} };
      expect((await rejection(scheme.createPaymentPayload(2, bare), X402PaymentError)).reason).to.equal("domain");
    });
  });

  describe("the preflight names the limit before anything is signed", function () {
    it("slots used up: LaneSlotUnavailableError for the next slot", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      await openLane(w.wallets.agent, { address: w.accountAddress, agentId: w.agentId, token: w.usdc.address });
      const scheme = schemeOf(w);
      for (let i = 0; i < N; i++) await settle(w, (await scheme.createPaymentPayload(2, w.requirements())).payload);
      const signed = scheme.lastPayment;
      const e = await rejection(scheme.createPaymentPayload(2, w.requirements()), LaneSlotUnavailableError);
      same(
        { name: e.violation.name, agentId: e.violation.agentId, token: e.violation.token, slot: e.violation.slot },
        { name: "LaneSlotUnavailable", agentId: w.agentId, token: w.usdc.address, slot: 3n },
      );
      same(e.violation.slots, 3n);
      expect(e.shortMessage).to.equal(
        `Lane slot 3 for ${usdcLabel(w)} is already used or out of range: the lane holds 3 slots this period (0 to 2).`,
      );
      expect(scheme.lastPayment).to.equal(signed); // nothing new was signed
      same(await w.usdc.read.balanceOf([w.addr.merchantA]), 3n * M);
    });

    it("a price above laneMax: PerPaymentCapExceededError naming the merchant", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      await openLane(w.wallets.agent, { address: w.accountAddress, agentId: w.agentId, token: w.usdc.address });
      const e = await rejection(
        schemeOf(w).createPaymentPayload(2, w.requirements({ amount: M + 1n })),
        PerPaymentCapExceededError,
      );
      same([e.violation.amount, e.violation.limit, e.violation.token], [M + 1n, M, w.usdc.address]);
      expect(e.shortMessage).to.equal(
        `Payment of 10.000001 USDC to ${shortAddress(w.addr.merchantA)} is over the per-payment cap of 10.00 USDC.`,
      );
    });

    it("a server whose payTo is not a merchant: MerchantNotAllowedError", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      await openLane(w.wallets.agent, { address: w.accountAddress, agentId: w.agentId, token: w.usdc.address });
      const e = await rejection(
        schemeOf(w, { labels: { [w.addr.stranger]: "the API server" } }).createPaymentPayload(
          2,
          w.requirements({ payTo: w.addr.stranger }),
        ),
        MerchantNotAllowedError,
      );
      same([e.violation.agentId, e.violation.merchant], [w.agentId, w.addr.stranger]);
      expect(e.shortMessage).to.equal(
        `the API server (${shortAddress(w.addr.stranger)}) is not one of the agent's merchants, so the agent may not pay it.`,
      );
    });

    it("a lane not opened this period: LaneNotOpenError, unless autoOpenLane opens it", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      const p = periodOf(await now());
      const e = await rejection(schemeOf(w).createPaymentPayload(2, w.requirements()), LaneNotOpenError);
      same([e.violation.agentId, e.violation.token, e.violation.period], [w.agentId, w.usdc.address, p]);
      expect(e.shortMessage).to.equal(
        `The agent's x402 lane for ${usdcLabel(w)} is not open for the period ending ${new Date(Number(p) * 1000).toISOString().slice(0, 10)} 00:00 UTC: open it (openLane) in that period before signing lane payments.`,
      );
      const { payload } = await schemeOf(w, { autoOpenLane: true }).createPaymentPayload(2, w.requirements());
      same(await w.account.read.lane([w.agentId, w.usdc.address]), [p, 3n, M]);
      await settle(w, payload);
      same(await w.usdc.read.balanceOf([w.addr.merchantA]), M);
    });

    it("with preflight off it signs anyway, and the account refuses the signature (what a facilitator sees)", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      await openLane(w.wallets.agent, { address: w.accountAddress, agentId: w.agentId, token: w.usdc.address });
      const scheme = schemeOf(w, { preflight: false });
      const { payload } = await scheme.createPaymentPayload(2, w.requirements({ payTo: w.addr.stranger }));
      same(await w.account.read.isValidSignature([scheme.lastPayment!.digest, payload.signature]), "0xffffffff");
      const refusal = await rejection(settle(w, payload));
      expect(String(refusal)).to.contain("InvalidAuthorizationSignature");
      const v = await checkLanePayment(w.publicClient, {
        address: w.accountAddress,
        agentId: w.agentId,
        token: w.usdc.address,
        slot: 0n,
        to: w.addr.stranger,
        value: M,
        validAfter: BigInt(payload.authorization.validAfter),
        validBefore: BigInt(payload.authorization.validBefore),
      });
      same([v?.name, v?.merchant], ["MerchantNotAllowed", w.addr.stranger]);
    });
  });

  describe("ensureLaneOpen", function () {
    it("directly: the agent key opens the lane once per period; the next period gives the unused hold back", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      const p = periodOf(await now());
      const args = { address: w.accountAddress, agentId: w.agentId, token: w.usdc.address };
      const first = await ensureLaneOpen(w.wallets.agent, args);
      same(
        [first.opened, first.period, first.slots, first.laneMax, first.currentPeriod, first.givenBack],
        [true, p, 3n, M, p, 0n],
      );
      const again = await ensureLaneOpen(w.wallets.agent, args);
      same([again.opened, again.transactionHash], [false, undefined]);
      const scheme = schemeOf(w);
      await settle(w, (await scheme.createPaymentPayload(2, w.requirements())).payload);
      await networkHelpers.time.increaseTo(p + HOUR);
      const next = await ensureLaneOpen(w.wallets.agent, args);
      same(
        [next.opened, next.period, next.slots, next.settledPeriod, next.usedInSettled, next.givenBack],
        [true, p + DAY, 3n, p, 1n, 2n * M],
      );
      // lifetime: 30 held, 20 given back, 30 held again
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), USDC(40)]);
      // the owner may open it too, through the decorator's action
      const owner = w.wallets.owner.extend(stoplineActions({ address: w.accountAddress }));
      await networkHelpers.time.increaseTo(p + DAY + HOUR);
      await owner.openLane({ agentId: w.agentId, token: w.usdc.address });
      same(await w.account.read.lane([w.agentId, w.usdc.address]), [p + 2n * DAY, 3n, M]);
    });

    it("directly: a refusal is the toolkit's error class (lane off)", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      await w.account.write.updatePolicy([w.agentId, w.agentPolicy]);
      const e = await rejection(
        ensureLaneOpen(w.wallets.agent, { address: w.accountAddress, agentId: w.agentId, token: w.usdc.address }),
        LaneNotEnabledError,
      );
      same([e.violation.agentId, e.violation.token], [w.agentId, w.usdc.address]);
      expect(e.shortMessage).to.equal(
        `The agent has no x402 lane for ${usdcLabel(w)}: its policy sets no lane payments (laneCount 0) for it.`,
      );
    });

    it("as a UserOperation: openLane on the agent's nonce key, signed by its key, through the real EntryPoint", async function () {
      const w = await networkHelpers.loadFixture(x402World);
      const p = periodOf(await now());
      const smartAccount = await toStoplineAgentAccount({
        client: w.publicClient,
        address: w.accountAddress,
        agentId: w.agentId,
        key: hdKey(ROLES.agent),
      });
      const usage = await w.account.read.agentUsage([w.agentId]);
      // no bundler in process: this one builds the op with the smart account and bundles it with handleOps
      const sent: UserOperation<"0.8">[] = [];
      const bundlerClient = {
        async sendUserOperation({ account, callData }: { account: SmartAccount; callData: Hex }) {
          const op: UserOperation<"0.8"> = {
            sender: account.address,
            nonce: await account.getNonce(),
            callData,
            // room for the coverage build's probes too
            callGasLimit: 800_000n,
            verificationGasLimit: 800_000n,
            preVerificationGas: 60_000n,
            maxFeePerGas: 2_000_000_000n,
            maxPriorityFeePerGas: 1_000_000_000n,
            signature: "0x",
          };
          op.signature = await account.signUserOperation(op as never);
          sent.push(op);
          const receipt = await w.handleOps([toPackedUserOperation(op) as never]);
          const event = parseEventLogs({ abi: w.entryPoint.abi, logs: receipt.logs }).find(
            (l) => (l as { eventName: string }).eventName === "UserOperationEvent",
          ) as unknown as { args: { userOpHash: Hash; success: boolean } };
          this.last = { receipt, event };
          return event.args.userOpHash;
        },
        last: undefined as unknown as {
          receipt: Awaited<ReturnType<W["handleOps"]>>;
          event: { args: { userOpHash: Hash; success: boolean } };
        },
        async waitForUserOperationReceipt() {
          const { receipt, event } = this.last;
          return { success: event.args.success, userOpHash: event.args.userOpHash, receipt, logs: receipt.logs };
        },
      };
      const r = await ensureLaneOpen(w.publicClient, {
        address: w.accountAddress,
        agentId: w.agentId,
        token: w.usdc.address,
        bundlerClient,
        smartAccount,
      });
      same([r.opened, r.period, r.slots, r.laneMax], [true, p, 3n, M]);
      expect(sent).to.have.length(1);
      same(sent[0].callData, openLaneCallData(w.agentId, w.usdc.address));
      same(sent[0].nonce, nonceFor(nonceKeyOf(w.agentId), 0n));
      // the account paid: the op's maximum cost went to the agent's gas budget
      const maxCost = (800_000n + 800_000n + 60_000n) * 2_000_000_000n;
      same((await w.account.read.agentUsage([w.agentId]))[0], usage[0] + maxCost);
      same(await w.account.read.spent([w.agentId, w.usdc.address]), [USDC(30), USDC(30)]);
    });
  });
});

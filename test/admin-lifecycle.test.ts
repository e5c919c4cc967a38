// The owner's and guardian's lifecycle functions (SPEC sections 2, 4, 6; THREATS class 3): updatePolicy, rotateAgentKey,
// revokeAgent, setGuardian, pauseAgents / unpauseAgents, setAgentPaymaster. Each is reached the three ways the owner has
// (its key, an ERC-7821 execute batch, a UserOperation), refused to everyone else with NotAuthorized(caller) and, while an
// agent batch runs, with AgentReentrancy. Every refusal leaves the account unchanged.
import { expect } from "chai";
import { network } from "hardhat";
import { type Address, type Hex, encodeErrorResult, encodeFunctionData, zeroAddress } from "viem";

import {
  type AdminWorld,
  MERCHANT_C,
  WAYS,
  adminWorld,
  bundleRefused,
  call,
  executeCallData,
  expectError,
  expectEvents,
  expectRevert,
  expectUnchanged,
  opOutcome,
  ownerOk,
  ownerRefused,
  same,
  secondPolicy,
  send,
  signGrant,
} from "./helpers/admin.js";
import {
  ENTRY_POINT_ABI,
  type Execution,
  type PackedUserOperation,
  ROLES,
  USDC,
  agentIdFor,
  policy,
  zeroHash,
  limit,
} from "./helpers/stopline.js";

const conn = await network.create();
const { networkHelpers } = conn;
const world = () => adminWorld(conn);

const ID2 = agentIdFor(2);
const NEVER = agentIdFor(99);
type Role = "stranger" | "agent" | "guardian";

/** The fixture agent pays `amount` USDC to `to`, directly. */
const pay = (s: AdminWorld, to: Address, amount: bigint) =>
  s.asAgent.write.executeAsAgent([s.agentId, [s.transfer(to, amount)]]);

/** The account as seen by another role's wallet. */
const as = (s: AdminWorld, role: keyof AdminWorld["wallets"]) =>
  s.viem.getContractAt("AgentAccount", s.accountAddress, { client: { wallet: s.wallets[role] } });

/** A bundle of `op` must fail validation with FailedOp(0, reason) or FailedOpWithRevert(0, reason, inner). */
async function expectOpRejected(s: AdminWorld, op: PackedUserOperation, reason: string, inner?: Hex) {
  const data = await bundleRefused(s, [op]);
  if (inner === undefined) expectError(data, ENTRY_POINT_ABI, "FailedOp", [0n, reason]);
  else expectError(data, ENTRY_POINT_ABI, "FailedOpWithRevert", [0n, reason, inner]);
}

const accountError = (s: AdminWorld, errorName: string, args: readonly unknown[] = []): Hex =>
  encodeErrorResult({ abi: s.account.abi, errorName, args } as Parameters<typeof encodeErrorResult>[0]);

/** The policy the fixture agent gets in an update: new caps, merchants B and C instead of A and B, a new mandate. */
function updatedPolicy(s: AdminWorld) {
  return policy({
    gasBudget: 2n * 10n ** 17n,
    mandate: s.mandateOf("Pay for API credits only, at most 60 USDC a day"),
    limits: [{ token: s.usdc.address, perPayment: USDC(50), perPeriod: USDC(60), lifetime: USDC(500) }],
    merchants: [s.addr.merchantB, MERCHANT_C],
  });
}

describe("updatePolicy", function () {
  for (const way of WAYS) {
    it(`replaces the policy through ${way}, merchants and tokens included, and keeps the counters`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await pay(s, s.addr.merchantA, USDC(10));
      const p = updatedPolicy(s);

      const receipt = await ownerOk(s, way, call(s, "updatePolicy", [s.agentId, p]));
      expectEvents(receipt, s.account.abi, "AgentPolicyUpdated", s.accountAddress, [
        { agentId: s.agentId, mandate: p.mandate, policy: p },
      ]);
      same(await s.account.read.getAgent([s.agentId]), [s.addr.agent, false, p]);
      expect(await s.account.read.isMerchant([s.agentId, s.addr.merchantA])).to.equal(false);
      expect(await s.account.read.isMerchant([s.agentId, s.addr.merchantB])).to.equal(true);
      expect(await s.account.read.isMerchant([s.agentId, MERCHANT_C])).to.equal(true);
      same(await s.account.read.spent([s.agentId, s.usdc.address]), [USDC(10), USDC(10)]);
      same(await s.account.read.remaining([s.agentId, s.usdc.address]), [USDC(50), USDC(50), USDC(490), s.periodEnd]);
      same(await s.account.read.agentUsage([s.agentId]), [0n, 2n * 10n ** 17n, 0n, s.periodEnd]);

      // merchant A is gone, C is in, and the new caps apply on top of what was spent
      await expectUnchanged(s, () =>
        expectRevert(pay(s, s.addr.merchantA, USDC(1)), s.account.abi, "MerchantNotAllowed", [
          s.agentId,
          s.addr.merchantA,
        ]),
      );
      await pay(s, MERCHANT_C, USDC(50));
      same(await s.account.read.remaining([s.agentId, s.usdc.address]), [USDC(50), 0n, USDC(440), s.periodEnd]);
      await expectUnchanged(s, () =>
        expectRevert(pay(s, MERCHANT_C, 1n), s.account.abi, "PeriodCapExceeded", [
          s.agentId,
          s.usdc.address,
          1n,
          0n,
          s.periodEnd,
        ]),
      );
    });

    it(`refuses through ${way} to update a never-granted id with AgentNotFound`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await expectUnchanged(s, () =>
        ownerRefused(s, way, call(s, "updatePolicy", [NEVER, updatedPolicy(s)]), "AgentNotFound", [NEVER]),
      );
    });
  }

  it("never hands out a fresh budget: a lower cap leaves what was spent in the period charged", async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.asAgent.write.executeAsAgent([s.agentId, [0, 1, 2].map(() => s.transfer(s.addr.merchantA, USDC(25)))]);
    await s.account.write.updatePolicy([
      s.agentId,
      {
        ...s.agentPolicy,
        limits: [limit({ token: s.usdc.address, perPayment: USDC(25), perPeriod: USDC(50), lifetime: USDC(1_000) })],
      },
    ]);
    same(await s.account.read.spent([s.agentId, s.usdc.address]), [USDC(75), USDC(75)]);
    same(await s.account.read.remaining([s.agentId, s.usdc.address]), [USDC(25), 0n, USDC(925), s.periodEnd]);
    await expectUnchanged(s, () =>
      expectRevert(pay(s, s.addr.merchantA, 1n), s.account.abi, "PeriodCapExceeded", [
        s.agentId,
        s.usdc.address,
        1n,
        0n,
        s.periodEnd,
      ]),
    );
  });

  it("unlisting a token refuses it but keeps its counters; relisting it in the same period resumes them", async function () {
    const s = await networkHelpers.loadFixture(world);
    await pay(s, s.addr.merchantA, USDC(10));
    const ethOnly = {
      ...s.agentPolicy,
      limits: [limit({ token: zeroAddress, perPayment: 10n ** 15n, perPeriod: 10n ** 16n, lifetime: 10n ** 17n })],
    };
    await s.account.write.updatePolicy([s.agentId, ethOnly]);
    same(await s.account.read.remaining([s.agentId, s.usdc.address]), [0n, 0n, 0n, 0n]);
    same(await s.account.read.spent([s.agentId, s.usdc.address]), [USDC(10), USDC(10)]);
    same(await s.account.read.remaining([s.agentId, zeroAddress]), [10n ** 15n, 10n ** 16n, 10n ** 17n, s.periodEnd]);
    await expectUnchanged(s, () =>
      expectRevert(pay(s, s.addr.merchantA, USDC(1)), s.account.abi, "TokenNotAllowed", [s.agentId, s.usdc.address]),
    );

    await s.account.write.updatePolicy([s.agentId, s.agentPolicy]);
    same(await s.account.read.spent([s.agentId, s.usdc.address]), [USDC(10), USDC(10)]);
    same(await s.account.read.remaining([s.agentId, s.usdc.address]), [USDC(25), USDC(90), USDC(990), s.periodEnd]);
    await pay(s, s.addr.merchantA, USDC(25));
    same(await s.account.read.spent([s.agentId, s.usdc.address]), [USDC(35), USDC(35)]);
  });

  it("refuses a revoked agent with AgentIsRevoked", async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.account.write.revokeAgent([s.agentId]);
    await expectUnchanged(s, () =>
      expectRevert(s.account.write.updatePolicy([s.agentId, updatedPolicy(s)]), s.account.abi, "AgentIsRevoked", [
        s.agentId,
      ]),
    );
  });

  it("refuses an invalid policy with its reason and keeps the old one, merchants included", async function () {
    const s = await networkHelpers.loadFixture(world);
    await pay(s, s.addr.merchantA, USDC(10));
    const bad: [Partial<ReturnType<typeof updatedPolicy>>, string][] = [
      [{ period: 0 }, "period must be greater than 0"],
      [{ merchants: [MERCHANT_C, s.usdc.address] }, "merchant may not be a listed token"],
      [{ merchants: [MERCHANT_C, s.addr.merchantB, MERCHANT_C] }, "merchant listed twice"],
      [{ gasBudget: 2n ** 128n - 1n }, "cap above 2^128-2 (use type(uint256).max for unlimited)"],
    ];
    for (const [change, reason] of bad) {
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.updatePolicy([s.agentId, { ...updatedPolicy(s), ...change }]),
          s.account.abi,
          "InvalidPolicy",
          [reason],
        ),
      );
    }
    same((await s.account.read.getAgent([s.agentId]))[2], s.agentPolicy);
  });

  for (const role of ["stranger", "agent", "guardian"] as Role[]) {
    it(`refuses the ${role} with NotAuthorized(caller)`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await s.account.write.setGuardian([s.addr.guardian]);
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.updatePolicy([s.agentId, updatedPolicy(s)], { account: s.wallets[role].account }),
          s.account.abi,
          "NotAuthorized",
          [s.addr[role]],
        ),
      );
    });
  }
});

describe("rotateAgentKey", function () {
  for (const way of WAYS) {
    it(`rotates the key through ${way}: the old key stops at once and the new one keeps the counters`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await pay(s, s.addr.merchantA, USDC(10));

      const receipt = await ownerOk(s, way, call(s, "rotateAgentKey", [s.agentId, s.addr.newKey]));
      expectEvents(receipt, s.account.abi, "AgentKeyRotated", s.accountAddress, [
        { agentId: s.agentId, oldKey: s.addr.agent, newKey: s.addr.newKey },
      ]);
      expect(await s.account.read.agentOf([s.addr.agent])).to.equal(zeroHash);
      expect(await s.account.read.agentOf([s.addr.newKey])).to.equal(s.agentId);
      same(await s.account.read.getAgent([s.agentId]), [s.addr.newKey, false, s.agentPolicy]);
      same(await s.account.read.spent([s.agentId, s.usdc.address]), [USDC(10), USDC(10)]);

      // the old key: refused directly and as a UserOperation
      await expectUnchanged(s, () =>
        expectRevert(pay(s, s.addr.merchantA, USDC(1)), s.account.abi, "AgentUnknown", [s.addr.agent]),
      );
      const oldOp = await s.agentOp([s.transfer(s.addr.merchantA, USDC(1))]);
      await expectUnchanged(s, () => expectOpRejected(s, oldOp, "AA24 signature error"));

      // the new key: pays directly and as a UserOperation, on the same counters
      await (await as(s, "newKey")).write.executeAsAgent([s.agentId, [s.transfer(s.addr.merchantA, USDC(15))]]);
      const op = await s.agentOp([s.transfer(s.addr.merchantB, USDC(5))], { signer: ROLES.newKey });
      expect(opOutcome(await s.handleOps([op]), s.accountAddress).success).to.equal(true);
      same(await s.account.read.spent([s.agentId, s.usdc.address]), [USDC(30), USDC(30)]);
    });

    it(`refuses through ${way} to rotate a never-granted id with AgentNotFound`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await expectUnchanged(s, () =>
        ownerRefused(s, way, call(s, "rotateAgentKey", [NEVER, s.addr.newKey]), "AgentNotFound", [NEVER]),
      );
    });
  }

  it("refuses to rotate back onto a retired key", async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.account.write.rotateAgentKey([s.agentId, s.addr.newKey]);
    await expectUnchanged(s, () =>
      expectRevert(s.account.write.rotateAgentKey([s.agentId, s.addr.agent]), s.account.abi, "AgentKeyInUse", [
        s.addr.agent,
      ]),
    );
  });

  it("refuses a revoked agent with AgentIsRevoked", async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.account.write.revokeAgent([s.agentId]);
    await expectUnchanged(s, () =>
      expectRevert(s.account.write.rotateAgentKey([s.agentId, s.addr.newKey]), s.account.abi, "AgentIsRevoked", [
        s.agentId,
      ]),
    );
  });

  for (const [title, keyOf] of [
    ["the zero address", () => zeroAddress],
    ["the owner", (s) => s.addr.owner],
    ["the account itself", (s) => s.accountAddress],
  ] as [string, (s: AdminWorld) => Address][]) {
    it(`refuses ${title} as the new key with InvalidAgentKey`, async function () {
      const s = await networkHelpers.loadFixture(world);
      const key = keyOf(s);
      await expectUnchanged(s, () =>
        expectRevert(s.account.write.rotateAgentKey([s.agentId, key]), s.account.abi, "InvalidAgentKey", [key]),
      );
    });
  }

  it("refuses a registered key with AgentKeyInUse: another agent's, its own, a revoked agent's", async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.account.write.grantAgent([ID2, s.addr.agent2, secondPolicy(s)]);
    await s.account.write.grantAgent([agentIdFor(3), s.addr.stranger, secondPolicy(s)]);
    await s.account.write.revokeAgent([agentIdFor(3)]);
    for (const key of [s.addr.agent2, s.addr.agent, s.addr.stranger]) {
      await expectUnchanged(s, () =>
        expectRevert(s.account.write.rotateAgentKey([s.agentId, key]), s.account.abi, "AgentKeyInUse", [key]),
      );
    }
  });

  for (const role of ["stranger", "agent", "guardian"] as Role[]) {
    it(`refuses the ${role} with NotAuthorized(caller)`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await s.account.write.setGuardian([s.addr.guardian]);
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.rotateAgentKey([s.agentId, s.addr.newKey], { account: s.wallets[role].account }),
          s.account.abi,
          "NotAuthorized",
          [s.addr[role]],
        ),
      );
    });
  }
});

describe("revokeAgent", function () {
  /** After a revocation: the agent reads as revoked, its key and budgets are gone, and nothing can bring it back. */
  async function expectRevokedForever(s: AdminWorld) {
    same(await s.account.read.getAgent([s.agentId]), [zeroAddress, true, s.agentPolicy]);
    expect(await s.account.read.agentOf([s.addr.agent])).to.equal(zeroHash);
    same(await s.account.read.remaining([s.agentId, s.usdc.address]), [0n, 0n, 0n, 0n]);
    await expectUnchanged(s, async () => {
      await expectRevert(pay(s, s.addr.merchantA, USDC(1)), s.account.abi, "AgentIsRevoked", [s.agentId]);
      await expectOpRejected(
        s,
        await s.agentOp([s.transfer(s.addr.merchantA, USDC(1))]),
        "AA23 reverted",
        accountError(s, "AgentIsRevoked", [s.agentId]),
      );
      await expectRevert(s.account.write.revokeAgent([s.agentId]), s.account.abi, "AgentIsRevoked", [s.agentId]);
      await expectRevert(
        s.account.write.grantAgent([s.agentId, s.addr.newKey, s.agentPolicy]),
        s.account.abi,
        "AgentAlreadyExists",
        [s.agentId],
      );
      await expectRevert(s.account.write.rotateAgentKey([s.agentId, s.addr.newKey]), s.account.abi, "AgentIsRevoked", [
        s.agentId,
      ]);
    });
  }

  for (const way of WAYS) {
    it(`revokes through ${way}, logs the owner as "by", and the agent stops forever`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await pay(s, s.addr.merchantA, USDC(10));
      const receipt = await ownerOk(s, way, call(s, "revokeAgent", [s.agentId]));
      expectEvents(receipt, s.account.abi, "AgentRevoked", s.accountAddress, [
        { agentId: s.agentId, by: s.addr.owner },
      ]);
      await expectRevokedForever(s);
    });

    it(`refuses through ${way} to revoke a never-granted id with AgentNotFound`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await expectUnchanged(s, () => ownerRefused(s, way, call(s, "revokeAgent", [NEVER]), "AgentNotFound", [NEVER]));
    });
  }

  it('lets the guardian revoke, logging the guardian as "by"', async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.account.write.setGuardian([s.addr.guardian]);
    const guardian = await as(s, "guardian");
    const hash = await guardian.write.revokeAgent([s.agentId]);
    const receipt = await s.publicClient.waitForTransactionReceipt({ hash });
    expectEvents(receipt, s.account.abi, "AgentRevoked", s.accountAddress, [
      { agentId: s.agentId, by: s.addr.guardian },
    ]);
    await expectRevokedForever(s);
    await expectUnchanged(s, () =>
      expectRevert(guardian.write.revokeAgent([s.agentId]), s.account.abi, "AgentIsRevoked", [s.agentId]),
    );
    await expectUnchanged(s, () =>
      expectRevert(guardian.write.revokeAgent([NEVER]), s.account.abi, "AgentNotFound", [NEVER]),
    );
  });

  for (const role of ["stranger", "agent"] as Role[]) {
    it(`refuses the ${role} with NotAuthorized(caller)`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.revokeAgent([s.agentId], { account: s.wallets[role].account }),
          s.account.abi,
          "NotAuthorized",
          [s.addr[role]],
        ),
      );
    });
  }
});

describe("setGuardian", function () {
  for (const way of WAYS) {
    it(`sets and removes the guardian through ${way}`, async function () {
      const s = await networkHelpers.loadFixture(world);
      let receipt = await ownerOk(s, way, call(s, "setGuardian", [s.addr.guardian]));
      expectEvents(receipt, s.account.abi, "GuardianSet", s.accountAddress, [{ guardian: s.addr.guardian }]);
      expect((await s.account.read.guardian()).toLowerCase()).to.equal(s.addr.guardian.toLowerCase());

      receipt = await ownerOk(s, way, call(s, "setGuardian", [zeroAddress]));
      expectEvents(receipt, s.account.abi, "GuardianSet", s.accountAddress, [{ guardian: zeroAddress }]);
      expect(await s.account.read.guardian()).to.equal(zeroAddress);
      // the former guardian has no power left
      const former = await as(s, "guardian");
      await expectUnchanged(s, async () => {
        await expectRevert(former.write.pauseAgents(), s.account.abi, "NotAuthorized", [s.addr.guardian]);
        await expectRevert(former.write.revokeAgent([s.agentId]), s.account.abi, "NotAuthorized", [s.addr.guardian]);
      });
    });
  }

  it("hands the guardian's powers to a new guardian and takes them from the old one", async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.account.write.setGuardian([s.addr.guardian]);
    await s.account.write.setGuardian([s.addr.stranger]);
    const former = await as(s, "guardian");
    await expectUnchanged(s, () =>
      expectRevert(former.write.pauseAgents(), s.account.abi, "NotAuthorized", [s.addr.guardian]),
    );
    await (await as(s, "stranger")).write.pauseAgents();
    expect(await s.account.read.agentsPaused()).to.equal(true);
  });

  describe("the guardian may pause and revoke, and nothing else", function () {
    it("pauses, logging the guardian as by", async function () {
      const s = await networkHelpers.loadFixture(world);
      await s.account.write.setGuardian([s.addr.guardian]);
      const hash = await (await as(s, "guardian")).write.pauseAgents();
      expectEvents(
        await s.publicClient.waitForTransactionReceipt({ hash }),
        s.account.abi,
        "AgentsPausedSet",
        s.accountAddress,
        [{ paused: true, by: s.addr.guardian }],
      );
      expect(await s.account.read.agentsPaused()).to.equal(true);
    });

    const forbidden: [string, (s: AdminWorld) => Hex][] = [
      ["grantAgent", (s) => call(s, "grantAgent", [ID2, s.addr.agent2, secondPolicy(s)])],
      ["updatePolicy", (s) => call(s, "updatePolicy", [s.agentId, updatedPolicy(s)])],
      ["rotateAgentKey", (s) => call(s, "rotateAgentKey", [s.agentId, s.addr.newKey])],
      ["unpauseAgents", (s) => call(s, "unpauseAgents", [])],
      ["setGuardian", (s) => call(s, "setGuardian", [s.addr.stranger])],
      ["setAgentPaymaster", (s) => call(s, "setAgentPaymaster", [s.addr.bundler, true])],
      ["execute", (s) => executeCallData(s, [s.transfer(s.addr.guardian, USDC(1))])],
      ["upgradeToAndCall", (s) => call(s, "upgradeToAndCall", [s.implementation.address, "0x"])],
    ];
    for (const [name, data] of forbidden) {
      it(`refuses the guardian's ${name} with NotAuthorized(guardian)`, async function () {
        const s = await networkHelpers.loadFixture(world);
        await s.account.write.setGuardian([s.addr.guardian]);
        if (name === "unpauseAgents") await s.account.write.pauseAgents();
        await expectUnchanged(s, () =>
          expectRevert(send(s, "guardian", s.accountAddress, data(s)), s.account.abi, "NotAuthorized", [
            s.addr.guardian,
          ]),
        );
      });
    }

    it("refuses a UserOperation signed by the guardian (AA24): only the owner signs owner ops", async function () {
      const s = await networkHelpers.loadFixture(world);
      await s.account.write.setGuardian([s.addr.guardian]);
      const op = await s.ownerOp(call(s, "pauseAgents", []), { signer: ROLES.guardian });
      await expectUnchanged(s, () => expectOpRejected(s, op, "AA24 signature error"));
    });
  });

  for (const role of ["stranger", "agent"] as Role[]) {
    it(`refuses the ${role} with NotAuthorized(caller)`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.setGuardian([s.addr[role]], { account: s.wallets[role].account }),
          s.account.abi,
          "NotAuthorized",
          [s.addr[role]],
        ),
      );
    });
  }
});

describe("pauseAgents and unpauseAgents", function () {
  for (const way of WAYS) {
    it(`pauses and unpauses every agent through ${way}, keeping the counters`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await pay(s, s.addr.merchantA, USDC(10));

      let receipt = await ownerOk(s, way, call(s, "pauseAgents", []));
      expectEvents(receipt, s.account.abi, "AgentsPausedSet", s.accountAddress, [{ paused: true, by: s.addr.owner }]);
      expect(await s.account.read.agentsPaused()).to.equal(true);
      await expectUnchanged(s, async () => {
        await expectRevert(pay(s, s.addr.merchantA, USDC(1)), s.account.abi, "AgentsPaused", []);
        await expectOpRejected(
          s,
          await s.agentOp([s.transfer(s.addr.merchantA, USDC(1))]),
          "AA23 reverted",
          accountError(s, "AgentsPaused"),
        );
      });

      receipt = await ownerOk(s, way, call(s, "unpauseAgents", []));
      expectEvents(receipt, s.account.abi, "AgentsPausedSet", s.accountAddress, [{ paused: false, by: s.addr.owner }]);
      expect(await s.account.read.agentsPaused()).to.equal(false);
      same(await s.account.read.spent([s.agentId, s.usdc.address]), [USDC(10), USDC(10)]);
      await pay(s, s.addr.merchantA, USDC(5));
      same(await s.account.read.spent([s.agentId, s.usdc.address]), [USDC(15), USDC(15)]);
    });
  }

  it("lets the owner act while agents are paused", async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.account.write.pauseAgents();
    await s.account.write.grantAgent([ID2, s.addr.agent2, secondPolicy(s)]);
    await s.account.write.updatePolicy([s.agentId, updatedPolicy(s)]);
    await s.account.write.rotateAgentKey([s.agentId, s.addr.newKey]);
    await s.account.write.setGuardian([s.addr.guardian]);
    await s.account.write.setAgentPaymaster([s.addr.bundler, true]);
    await s.account.write.revokeAgent([ID2]);
    await send(s, "owner", s.accountAddress, executeCallData(s, [s.transfer(s.addr.stranger, USDC(7))]));
    await ownerOk(s, "an owner UserOperation", executeCallData(s, [s.transfer(s.addr.stranger, USDC(3))]));
    expect(await s.usdc.read.balanceOf([s.addr.stranger])).to.equal(USDC(10));
    expect(await s.account.read.agentOf([s.addr.newKey])).to.equal(s.agentId);
    expect((await s.account.read.getAgent([ID2]))[1]).to.equal(true);
    expect(await s.account.read.agentsPaused()).to.equal(true);
  });

  it("lets the guardian pause but not unpause", async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.account.write.setGuardian([s.addr.guardian]);
    const guardian = await as(s, "guardian");
    await guardian.write.pauseAgents();
    await expectUnchanged(s, () =>
      expectRevert(guardian.write.unpauseAgents(), s.account.abi, "NotAuthorized", [s.addr.guardian]),
    );
    expect(await s.account.read.agentsPaused()).to.equal(true);
  });

  for (const role of ["stranger", "agent"] as Role[]) {
    it(`refuses the ${role}'s pause and unpause with NotAuthorized(caller)`, async function () {
      const s = await networkHelpers.loadFixture(world);
      const w = await as(s, role);
      await expectUnchanged(s, () =>
        expectRevert(w.write.pauseAgents(), s.account.abi, "NotAuthorized", [s.addr[role]]),
      );
      await s.account.write.pauseAgents();
      await expectUnchanged(s, () =>
        expectRevert(w.write.unpauseAgents(), s.account.abi, "NotAuthorized", [s.addr[role]]),
      );
    });
  }
});

describe("setAgentPaymaster", function () {
  for (const way of WAYS) {
    it(`allows and disallows a paymaster for agents through ${way}`, async function () {
      const s = await networkHelpers.loadFixture(world);
      const paymaster = s.addr.bundler;
      let receipt = await ownerOk(s, way, call(s, "setAgentPaymaster", [paymaster, true]));
      expectEvents(receipt, s.account.abi, "AgentPaymasterSet", s.accountAddress, [{ paymaster, allowed: true }]);
      expect(await s.account.read.isAgentPaymaster([paymaster])).to.equal(true);
      expect(await s.account.read.isAgentPaymaster([s.addr.stranger])).to.equal(false);

      receipt = await ownerOk(s, way, call(s, "setAgentPaymaster", [paymaster, false]));
      expectEvents(receipt, s.account.abi, "AgentPaymasterSet", s.accountAddress, [{ paymaster, allowed: false }]);
      expect(await s.account.read.isAgentPaymaster([paymaster])).to.equal(false);
    });
  }

  it("refuses the zero address", async function () {
    const s = await networkHelpers.loadFixture(world);
    for (const allowed of [true, false]) {
      await expectUnchanged(s, () =>
        expectRevert(s.account.write.setAgentPaymaster([zeroAddress, allowed]), s.account.abi, "InvalidPolicy", [
          "paymaster may not be the zero address",
        ]),
      );
    }
  });
});

describe("only the owner", function () {
  /** Every owner function, with arguments that the owner could use successfully. */
  const OWNER_CALLS: [string, (s: AdminWorld) => Hex][] = [
    ["grantAgent", (s) => call(s, "grantAgent", [ID2, s.addr.agent2, secondPolicy(s)])],
    ["updatePolicy", (s) => call(s, "updatePolicy", [s.agentId, updatedPolicy(s)])],
    ["rotateAgentKey", (s) => call(s, "rotateAgentKey", [s.agentId, s.addr.newKey])],
    ["revokeAgent", (s) => call(s, "revokeAgent", [s.agentId])],
    ["setGuardian", (s) => call(s, "setGuardian", [s.addr.stranger])],
    ["setAgentPaymaster", (s) => call(s, "setAgentPaymaster", [s.addr.bundler, true])],
    ["pauseAgents", (s) => call(s, "pauseAgents", [])],
    ["unpauseAgents", (s) => call(s, "unpauseAgents", [])],
    ["execute", (s) => executeCallData(s, [s.transfer(s.addr.stranger, USDC(1))])],
    ["upgradeToAndCall", (s) => call(s, "upgradeToAndCall", [s.implementation.address, "0x"])],
  ];
  for (const role of ["stranger", "agent"] as Role[]) {
    for (const [name, data] of OWNER_CALLS) {
      it(`refuses ${name} from the ${role === "agent" ? "agent key" : role} with NotAuthorized(caller)`, async function () {
        const s = await networkHelpers.loadFixture(world);
        if (name === "unpauseAgents") await s.account.write.pauseAgents();
        await expectUnchanged(s, () =>
          expectRevert(send(s, role, s.accountAddress, data(s)), s.account.abi, "NotAuthorized", [s.addr[role]]),
        );
      });
    }
  }

  it("reports AgentNotFound for a never-granted id, and getAgent too", async function () {
    const s = await networkHelpers.loadFixture(world);
    await s.account.write.setGuardian([s.addr.guardian]);
    await expectUnchanged(s, async () => {
      await expectRevert(s.account.read.getAgent([NEVER]), s.account.abi, "AgentNotFound", [NEVER]);
      await expectRevert(s.account.write.updatePolicy([NEVER, updatedPolicy(s)]), s.account.abi, "AgentNotFound", [
        NEVER,
      ]);
      await expectRevert(s.account.write.rotateAgentKey([NEVER, s.addr.newKey]), s.account.abi, "AgentNotFound", [
        NEVER,
      ]);
      await expectRevert(s.account.write.revokeAgent([NEVER]), s.account.abi, "AgentNotFound", [NEVER]);
      await expectRevert((await as(s, "guardian")).write.revokeAgent([NEVER]), s.account.abi, "AgentNotFound", [NEVER]);
    });
  });
});

describe("agents cannot reach owner functions (THREATS class 3)", function () {
  const SELF_CALLS: [string, (s: AdminWorld) => Hex][] = [
    ["grantAgent", (s) => call(s, "grantAgent", [ID2, s.addr.agent2, secondPolicy(s)])],
    ["updatePolicy", (s) => call(s, "updatePolicy", [s.agentId, updatedPolicy(s)])],
    ["rotateAgentKey", (s) => call(s, "rotateAgentKey", [s.agentId, s.addr.agent2])],
    ["revokeAgent", (s) => call(s, "revokeAgent", [s.agentId])],
    ["setGuardian", (s) => call(s, "setGuardian", [s.addr.agent])],
    ["setAgentPaymaster", (s) => call(s, "setAgentPaymaster", [s.addr.agent, true])],
    ["pauseAgents", (s) => call(s, "pauseAgents", [])],
    ["unpauseAgents", (s) => call(s, "unpauseAgents", [])],
    ["execute", (s) => executeCallData(s, [s.transfer(s.addr.agent, USDC(1_000))])],
    ["upgradeToAndCall", (s) => call(s, "upgradeToAndCall", [s.implementation.address, "0x"])],
  ];
  for (const [name, data] of SELF_CALLS) {
    it(`refuses ${name} in an agent batch with CallNotAllowed, directly and as a UserOperation`, async function () {
      const s = await networkHelpers.loadFixture(world);
      const callData = data(s);
      const selector = callData.slice(0, 10) as Hex;
      const calls: Execution[] = [{ target: s.accountAddress, value: 0n, callData }];
      await expectUnchanged(s, async () => {
        await expectRevert(s.asAgent.write.executeAsAgent([s.agentId, calls]), s.account.abi, "CallNotAllowed", [
          s.agentId,
          s.accountAddress,
          selector,
        ]);
        await expectOpRejected(
          s,
          await s.agentOp(calls),
          "AA23 reverted",
          accountError(s, "CallNotAllowed", [s.agentId, s.accountAddress, selector]),
        );
      });
    });

    it(`refuses a UserOperation whose callData is ${name} signed by the agent key (AA24)`, async function () {
      const s = await networkHelpers.loadFixture(world);
      const op = await s.ownerOp(data(s), { signer: ROLES.agent });
      await expectUnchanged(s, () => expectOpRejected(s, op, "AA24 signature error"));
    });
  }

  it("refuses an agent's signed op whose outer selector was swapped for an owner function (AA24)", async function () {
    const s = await networkHelpers.loadFixture(world);
    const op = await s.agentOp([s.transfer(s.addr.merchantA, USDC(1))]);
    const grantSelector = call(s, "grantAgent", [ID2, s.addr.agent2, secondPolicy(s)]).slice(0, 10);
    const swapped = { ...op, callData: (grantSelector + op.callData.slice(10)) as Hex };
    await expectUnchanged(s, () => expectOpRejected(s, swapped, "AA24 signature error"));
  });
});

describe("while an agent batch runs", function () {
  async function reentryWorld() {
    const s = await world();
    const reenterer = await s.viem.deployContract("AdminMockReenterer");
    await s.account.write.grantAgent([ID2, s.addr.agent2, secondPolicy(s, { merchants: [reenterer.address] })]);
    const grant = {
      agentId: agentIdFor(3),
      key: s.addr.newKey,
      policy: secondPolicy(s),
      nonce: 0n,
      deadline: 2n ** 40n,
    };
    const grantSig = await signGrant(s, grant);
    return { ...s, reenterer, grant, grantSig, asAgent2: await as(s, "agent2") };
  }
  type R = Awaited<ReturnType<typeof reentryWorld>>;

  const poke = (s: R, data: Hex): Execution => ({
    target: s.reenterer.address,
    value: 0n,
    callData: encodeFunctionData({ abi: s.reenterer.abi, functionName: "poke", args: [s.accountAddress, data] }),
  });

  const REENTRY: [string, (s: R) => Hex][] = [
    ["grantAgent", (s) => call(s, "grantAgent", [agentIdFor(3), s.addr.newKey, secondPolicy(s)])],
    [
      "grantAgentBySig with a valid owner signature",
      (s) => call(s, "grantAgentBySig", [s.grant.agentId, s.grant.key, s.grant.policy, s.grant.deadline, s.grantSig]),
    ],
    ["updatePolicy", (s) => call(s, "updatePolicy", [ID2, secondPolicy(s)])],
    ["rotateAgentKey", (s) => call(s, "rotateAgentKey", [ID2, s.addr.newKey])],
    ["revokeAgent", (s) => call(s, "revokeAgent", [ID2])],
    ["setGuardian", (s) => call(s, "setGuardian", [s.reenterer.address])],
    ["setAgentPaymaster", (s) => call(s, "setAgentPaymaster", [s.reenterer.address, true])],
    ["pauseAgents", (s) => call(s, "pauseAgents", [])],
    ["unpauseAgents", (s) => call(s, "unpauseAgents", [])],
    ["execute", (s) => executeCallData(s, [s.transfer(s.reenterer.address, USDC(1))])],
    ["upgradeToAndCall", (s) => call(s, "upgradeToAndCall", [s.implementation.address, "0x"])],
    ["executeAsAgent", (s) => call(s, "executeAsAgent", [ID2, [s.transfer(s.addr.merchantB, USDC(1))]])],
  ];
  for (const [name, data] of REENTRY) {
    it(`refuses ${name} from inside the batch with AgentReentrancy`, async function () {
      const s = await networkHelpers.loadFixture(reentryWorld);
      await expectUnchanged(s, () =>
        expectRevert(s.asAgent2.write.executeAsAgent([ID2, [poke(s, data(s))]]), s.account.abi, "AgentReentrancy", []),
      );
    });
  }

  it("refuses the reentry on the UserOperation path too: mined as failed, nothing granted", async function () {
    const s = await networkHelpers.loadFixture(reentryWorld);
    const data = REENTRY[1][1](s);
    const op = await s.agentOp([poke(s, data)], { agentId: ID2, signer: ROLES.agent2 });
    const outcome = opOutcome(await s.handleOps([op]), s.accountAddress);
    expect(outcome.success).to.equal(false);
    expectError(outcome.revertData, s.account.abi, "AgentReentrancy", []);
    await expectRevert(s.account.read.getAgent([agentIdFor(3)]), s.account.abi, "AgentNotFound", [agentIdFor(3)]);
    expect(await s.account.read.grantNonce()).to.equal(0n);
    // outside a batch the same signature is good
    await send(s, "stranger", s.accountAddress, data);
    expect(await s.account.read.agentOf([s.addr.newKey])).to.equal(agentIdFor(3));
  });
});

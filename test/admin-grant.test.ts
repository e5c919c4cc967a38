// grantAgent (SPEC sections 2, 4, 5, 6): what a grant records and logs, every InvalidPolicy reason, ids and keys that can
// never be registered twice, who may grant, and the order of the checks. Every refusal leaves the account unchanged.
import { expect } from "chai";
import { network } from "hardhat";
import { type Address, type Hex, maxUint256, zeroAddress } from "viem";

import {
  MERCHANT_C,
  WAYS,
  adminWorld,
  call,
  expectEvents,
  expectRevert,
  expectUnchanged,
  ownerOk,
  ownerRefused,
  same,
  secondPolicy,
} from "./helpers/admin.js";
import {
  ENTRY_POINT_ADDRESS,
  PERMIT2,
  type AgentPolicy,
  USDC,
  UNLIMITED,
  agentIdFor,
  zeroHash,
} from "./helpers/stopline.js";

const conn = await network.create();
const { networkHelpers } = conn;
const world = () => adminWorld(conn);

const MAX_CAP = 2n ** 128n - 2n;
const ID2 = agentIdFor(2);

describe("grantAgent", function () {
  for (const way of WAYS) {
    it(`grants a new agent through ${way}, logs the whole policy and shows it in every view`, async function () {
      const s = await networkHelpers.loadFixture(world);
      const p = secondPolicy(s);
      const receipt = await ownerOk(s, way, call(s, "grantAgent", [ID2, s.addr.agent2, p]));

      expectEvents(receipt, s.account.abi, "AgentGranted", s.accountAddress, [
        { agentId: ID2, key: s.addr.agent2, mandate: p.mandate, policy: p },
      ]);
      const [key, revoked, stored] = await s.account.read.getAgent([ID2]);
      same([key, revoked], [s.addr.agent2, false]);
      same(stored, p);
      expect(await s.account.read.agentOf([s.addr.agent2])).to.equal(ID2);
      expect(await s.account.read.isMerchant([ID2, s.addr.merchantB])).to.equal(true);
      expect(await s.account.read.isMerchant([ID2, MERCHANT_C])).to.equal(true);
      expect(await s.account.read.isMerchant([ID2, s.addr.merchantA])).to.equal(false);
      same(await s.account.read.remaining([ID2, s.usdc.address]), [USDC(10), USDC(50), USDC(200), s.periodEnd]);
      same(await s.account.read.remaining([ID2, zeroAddress]), [10n ** 15n, 10n ** 16n, 10n ** 17n, s.periodEnd]);
      same(await s.account.read.remaining([ID2, s.addr.stranger]), [0n, 0n, 0n, 0n]);
      same(await s.account.read.spent([ID2, s.usdc.address]), [0n, 0n]);
      same(await s.account.read.agentUsage([ID2]), [0n, p.gasBudget, 0n, s.periodEnd]);
      // the first agent is untouched
      expect(await s.account.read.agentOf([s.addr.agent])).to.equal(s.agentId);

      // and the new key can pay at once, within its own policy
      const asAgent2 = await s.viem.getContractAt("AgentAccount", s.accountAddress, {
        client: { wallet: s.wallets.agent2 },
      });
      await asAgent2.write.executeAsAgent([ID2, [s.transfer(s.addr.merchantB, USDC(10))]]);
      same(await s.account.read.remaining([ID2, s.usdc.address]), [USDC(10), USDC(40), USDC(190), s.periodEnd]);
    });

    it(`refuses through ${way} to grant an id that exists, and changes nothing`, async function () {
      const s = await networkHelpers.loadFixture(world);
      await expectUnchanged(s, () =>
        ownerRefused(s, way, call(s, "grantAgent", [s.agentId, s.addr.agent2, secondPolicy(s)]), "AgentAlreadyExists", [
          s.agentId,
        ]),
      );
    });
  }

  it("accepts caps and a gas budget of 2^128-2 and stores them exactly", async function () {
    const s = await networkHelpers.loadFixture(world);
    const p = secondPolicy(s, {
      gasBudget: MAX_CAP,
      limits: [{ token: s.usdc.address, perPayment: MAX_CAP, perPeriod: MAX_CAP, lifetime: MAX_CAP }],
    });
    await s.account.write.grantAgent([ID2, s.addr.agent2, p]);
    same((await s.account.read.getAgent([ID2]))[2], p);
    same(await s.account.read.remaining([ID2, s.usdc.address]), [MAX_CAP, MAX_CAP, MAX_CAP, s.periodEnd]);
    same(await s.account.read.agentUsage([ID2]), [0n, MAX_CAP, 0n, s.periodEnd]);
  });

  it("accepts type(uint256).max as unlimited for every cap and the gas budget, and reports it as unlimited", async function () {
    const s = await networkHelpers.loadFixture(world);
    const p = secondPolicy(s, {
      gasBudget: UNLIMITED,
      limits: [
        { token: s.usdc.address, perPayment: USDC(5), perPeriod: UNLIMITED, lifetime: UNLIMITED },
        { token: zeroAddress, perPayment: UNLIMITED, perPeriod: UNLIMITED, lifetime: UNLIMITED },
      ],
    });
    await s.account.write.grantAgent([ID2, s.addr.agent2, p]);
    same((await s.account.read.getAgent([ID2]))[2], p);
    same(await s.account.read.remaining([ID2, s.usdc.address]), [USDC(5), maxUint256, maxUint256, s.periodEnd]);
    same(await s.account.read.remaining([ID2, zeroAddress]), [maxUint256, maxUint256, maxUint256, s.periodEnd]);
    same(await s.account.read.agentUsage([ID2]), [0n, maxUint256, 0n, s.periodEnd]);
  });

  describe("refuses an invalid policy with its exact reason, and changes nothing", function () {
    type Case = { title: string; reason: string; make: (s: Awaited<ReturnType<typeof world>>) => AgentPolicy };
    const CAP = "cap above 2^128-2 (use type(uint256).max for unlimited)";
    const usdcLimit = (s: Awaited<ReturnType<typeof world>>, perPayment: bigint, perPeriod: bigint, lifetime: bigint) =>
      secondPolicy(s, { limits: [{ token: s.usdc.address, perPayment, perPeriod, lifetime }] });
    const cases: Case[] = [
      {
        title: "a validity window that ends where it starts",
        reason: "validUntil must be after validAfter",
        make: (s) => secondPolicy(s, { validAfter: 2_000_000_000, validUntil: 2_000_000_000 }),
      },
      {
        title: "a validity window that ends before it starts",
        reason: "validUntil must be after validAfter",
        make: (s) => secondPolicy(s, { validAfter: 2_000_000_001, validUntil: 2_000_000_000 }),
      },
      {
        title: "a zero period",
        reason: "period must be greater than 0",
        make: (s) => secondPolicy(s, { period: 0 }),
      },
      {
        title: "active hours that allow no hour",
        reason: "activeHours must allow at least one hour",
        make: (s) => secondPolicy(s, { activeHours: 0n }),
      },
      {
        title: "a per-payment cap of 2^128-1",
        reason: CAP,
        make: (s) => usdcLimit(s, MAX_CAP + 1n, UNLIMITED, UNLIMITED),
      },
      {
        title: "a period cap of 2^128-1",
        reason: CAP,
        make: (s) => usdcLimit(s, 1n, MAX_CAP + 1n, UNLIMITED),
      },
      {
        title: "a lifetime cap of 2^128-1",
        reason: CAP,
        make: (s) => usdcLimit(s, 1n, 1n, MAX_CAP + 1n),
      },
      {
        title: "a lifetime cap of 2^255",
        reason: CAP,
        make: (s) => usdcLimit(s, 1n, 1n, 2n ** 255n),
      },
      {
        title: "a lifetime cap of type(uint256).max - 1",
        reason: CAP,
        make: (s) => usdcLimit(s, 1n, 1n, maxUint256 - 1n),
      },
      {
        title: "a gas budget of 2^128-1",
        reason: CAP,
        make: (s) => secondPolicy(s, { gasBudget: MAX_CAP + 1n }),
      },
      {
        title: "a gas budget of 2^128",
        reason: CAP,
        make: (s) => secondPolicy(s, { gasBudget: MAX_CAP + 2n }),
      },
      {
        title: "the account itself as a token",
        reason: "token may not be the account, the EntryPoint or Permit2",
        make: (s) =>
          secondPolicy(s, { limits: [{ token: s.accountAddress, perPayment: 1n, perPeriod: 1n, lifetime: 1n }] }),
      },
      {
        title: "the EntryPoint as a token",
        reason: "token may not be the account, the EntryPoint or Permit2",
        make: (s) =>
          secondPolicy(s, { limits: [{ token: ENTRY_POINT_ADDRESS, perPayment: 1n, perPeriod: 1n, lifetime: 1n }] }),
      },
      {
        title: "Permit2 as a token",
        reason: "token may not be the account, the EntryPoint or Permit2",
        make: (s) => secondPolicy(s, { limits: [{ token: PERMIT2, perPayment: 1n, perPeriod: 1n, lifetime: 1n }] }),
      },
      {
        title: "a token listed twice",
        reason: "token listed twice",
        make: (s) =>
          secondPolicy(s, {
            limits: [
              { token: s.usdc.address, perPayment: 1n, perPeriod: 1n, lifetime: 1n },
              { token: zeroAddress, perPayment: 1n, perPeriod: 1n, lifetime: 1n },
              { token: s.usdc.address, perPayment: 2n, perPeriod: 2n, lifetime: 2n },
            ],
          }),
      },
      {
        title: "ETH listed twice",
        reason: "token listed twice",
        make: (s) =>
          secondPolicy(s, {
            limits: [
              { token: zeroAddress, perPayment: 1n, perPeriod: 1n, lifetime: 1n },
              { token: zeroAddress, perPayment: 1n, perPeriod: 1n, lifetime: 1n },
            ],
          }),
      },
      {
        title: "a per-payment cap above the period cap",
        reason: "perPayment must not exceed perPeriod",
        make: (s) => usdcLimit(s, USDC(26), USDC(25), USDC(100)),
      },
      {
        title: "an unlimited per-payment cap under a finite period cap",
        reason: "perPayment must not exceed perPeriod",
        make: (s) => usdcLimit(s, UNLIMITED, USDC(25), UNLIMITED),
      },
      {
        title: "a period cap above the lifetime cap",
        reason: "perPeriod must not exceed lifetime",
        make: (s) => usdcLimit(s, USDC(25), USDC(101), USDC(100)),
      },
      {
        title: "an unlimited period cap under a finite lifetime cap",
        reason: "perPeriod must not exceed lifetime",
        make: (s) => usdcLimit(s, USDC(25), UNLIMITED, USDC(100)),
      },
      {
        title: "the zero address as a merchant",
        reason: "merchant may not be the zero address",
        make: (s) => secondPolicy(s, { merchants: [s.addr.merchantB, zeroAddress] }),
      },
      {
        title: "the account itself as a merchant",
        reason: "merchant may not be the account, the EntryPoint or Permit2",
        make: (s) => secondPolicy(s, { merchants: [s.accountAddress] }),
      },
      {
        title: "the EntryPoint as a merchant",
        reason: "merchant may not be the account, the EntryPoint or Permit2",
        make: (s) => secondPolicy(s, { merchants: [s.addr.merchantB, ENTRY_POINT_ADDRESS] }),
      },
      {
        title: "Permit2 as a merchant",
        reason: "merchant may not be the account, the EntryPoint or Permit2",
        make: (s) => secondPolicy(s, { merchants: [PERMIT2] }),
      },
      {
        title: "a listed token as a merchant",
        reason: "merchant may not be a listed token",
        make: (s) => secondPolicy(s, { merchants: [s.addr.merchantB, s.usdc.address] }),
      },
      {
        title: "a merchant listed twice",
        reason: "merchant listed twice",
        make: (s) => secondPolicy(s, { merchants: [s.addr.merchantB, MERCHANT_C, s.addr.merchantB] }),
      },
    ];
    for (const c of cases) {
      it(`refuses ${c.title}`, async function () {
        const s = await networkHelpers.loadFixture(world);
        await expectUnchanged(s, () =>
          expectRevert(s.account.write.grantAgent([ID2, s.addr.agent2, c.make(s)]), s.account.abi, "InvalidPolicy", [
            c.reason,
          ]),
        );
        // nothing was reserved: the same id and key can still be granted
        await s.account.write.grantAgent([ID2, s.addr.agent2, secondPolicy(s)]);
        expect(await s.account.read.agentOf([s.addr.agent2])).to.equal(ID2);
      });
    }

    it("refuses an agentId whose low 192 bits (its nonce key) are zero", async function () {
      const s = await networkHelpers.loadFixture(world);
      const reason = "agentId must have non-zero low 192 bits (they are its nonce key)";
      for (const id of [zeroHash, agentIdFor(0, 5n), agentIdFor(0, 2n ** 63n)]) {
        await expectUnchanged(s, () =>
          expectRevert(
            s.account.write.grantAgent([id, s.addr.agent2, secondPolicy(s)]),
            s.account.abi,
            "InvalidPolicy",
            [reason],
          ),
        );
      }
    });
  });

  describe("ids are never reused", function () {
    it("refuses an id that exists, naming it", async function () {
      const s = await networkHelpers.loadFixture(world);
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.grantAgent([s.agentId, s.addr.agent2, secondPolicy(s)]),
          s.account.abi,
          "AgentAlreadyExists",
          [s.agentId],
        ),
      );
    });

    it("refuses a revoked id, even with a fresh key", async function () {
      const s = await networkHelpers.loadFixture(world);
      await s.account.write.revokeAgent([s.agentId]);
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.grantAgent([s.agentId, s.addr.agent2, secondPolicy(s)]),
          s.account.abi,
          "AgentAlreadyExists",
          [s.agentId],
        ),
      );
    });

    it("refuses a new id that shares its low 192 bits (nonce key) with an earlier agent, naming the new id", async function () {
      const s = await networkHelpers.loadFixture(world);
      const twin = agentIdFor(1, 7n);
      expect(twin).to.not.equal(s.agentId);
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.grantAgent([twin, s.addr.agent2, secondPolicy(s)]),
          s.account.abi,
          "AgentAlreadyExists",
          [twin],
        ),
      );
      // also once the earlier agent is revoked
      await s.account.write.revokeAgent([s.agentId]);
      const other = agentIdFor(1, 2n ** 63n);
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.grantAgent([other, s.addr.agent2, secondPolicy(s)]),
          s.account.abi,
          "AgentAlreadyExists",
          [other],
        ),
      );
      // an id with the same high bits but another nonce key is a new agent
      await s.account.write.grantAgent([agentIdFor(2, 7n), s.addr.agent2, secondPolicy(s)]);
      expect(await s.account.read.agentOf([s.addr.agent2])).to.equal(agentIdFor(2, 7n));
    });
  });

  describe("keys", function () {
    for (const [title, keyOf] of [
      ["the zero address", () => zeroAddress],
      ["the owner", (s) => s.addr.owner],
      ["the account itself", (s) => s.accountAddress],
    ] as [string, (s: Awaited<ReturnType<typeof world>>) => Address][]) {
      it(`refuses ${title} as a key with InvalidAgentKey`, async function () {
        const s = await networkHelpers.loadFixture(world);
        const key = keyOf(s);
        await expectUnchanged(s, () =>
          expectRevert(s.account.write.grantAgent([ID2, key, secondPolicy(s)]), s.account.abi, "InvalidAgentKey", [
            key,
          ]),
        );
      });
    }

    it("refuses the current key of another agent with AgentKeyInUse", async function () {
      const s = await networkHelpers.loadFixture(world);
      await expectUnchanged(s, () =>
        expectRevert(s.account.write.grantAgent([ID2, s.addr.agent, secondPolicy(s)]), s.account.abi, "AgentKeyInUse", [
          s.addr.agent,
        ]),
      );
    });

    it("refuses a key that was rotated away: a retired key stays dead", async function () {
      const s = await networkHelpers.loadFixture(world);
      await s.account.write.rotateAgentKey([s.agentId, s.addr.newKey]);
      expect(await s.account.read.agentOf([s.addr.agent])).to.equal(zeroHash);
      await expectUnchanged(s, () =>
        expectRevert(s.account.write.grantAgent([ID2, s.addr.agent, secondPolicy(s)]), s.account.abi, "AgentKeyInUse", [
          s.addr.agent,
        ]),
      );
    });

    it("refuses the key of a revoked agent", async function () {
      const s = await networkHelpers.loadFixture(world);
      await s.account.write.revokeAgent([s.agentId]);
      expect(await s.account.read.agentOf([s.addr.agent])).to.equal(zeroHash);
      await expectUnchanged(s, () =>
        expectRevert(s.account.write.grantAgent([ID2, s.addr.agent, secondPolicy(s)]), s.account.abi, "AgentKeyInUse", [
          s.addr.agent,
        ]),
      );
    });
  });

  describe("who may grant", function () {
    for (const role of ["stranger", "agent", "guardian"] as const) {
      it(`refuses the ${role === "agent" ? "agent key" : role} with NotAuthorized(caller)`, async function () {
        const s = await networkHelpers.loadFixture(world);
        await s.account.write.setGuardian([s.addr.guardian]);
        await expectUnchanged(s, () =>
          expectRevert(
            s.account.write.grantAgent([ID2, s.addr.agent2, secondPolicy(s)], { account: s.wallets[role].account }),
            s.account.abi,
            "NotAuthorized",
            [s.addr[role]],
          ),
        );
      });
    }
  });

  describe("the order of the checks", function () {
    const invalid = (s: Awaited<ReturnType<typeof world>>) => secondPolicy(s, { period: 0 });

    it("judges the caller before anything else", async function () {
      const s = await networkHelpers.loadFixture(world);
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.grantAgent([s.agentId, zeroAddress, invalid(s)], { account: s.wallets.stranger.account }),
          s.account.abi,
          "NotAuthorized",
          [s.addr.stranger],
        ),
      );
    });

    it("judges the id (nonce key, then existence) before the key, and the key before the policy", async function () {
      const s = await networkHelpers.loadFixture(world);
      const cases: [Hex, Address, string, unknown[]][] = [
        [
          agentIdFor(0, 1n),
          s.addr.agent,
          "InvalidPolicy",
          ["agentId must have non-zero low 192 bits (they are its nonce key)"],
        ],
        [s.agentId, zeroAddress, "AgentAlreadyExists", [s.agentId]],
        [ID2, zeroAddress, "InvalidAgentKey", [zeroAddress]],
        [ID2, s.addr.agent, "AgentKeyInUse", [s.addr.agent]],
        [ID2, s.addr.agent2, "InvalidPolicy", ["period must be greater than 0"]],
      ];
      for (const [id, key, name, args] of cases) {
        await expectUnchanged(s, () =>
          expectRevert(s.account.write.grantAgent([id, key, invalid(s)]), s.account.abi, name, args),
        );
      }
    });
  });
});

// UUPS upgrades and the admin module (SPEC section 4; THREATS class 13): only the owner upgrades, by any of its three
// ways; an upgrade to a new AgentAccount deployment keeps every agent, key, counter, the guardian, the pause flag, the
// allowed paymasters and the grant nonce, and agents keep paying; the AgentAdmin contract refuses direct calls.
import { expect } from "chai";
import { network } from "hardhat";
import { type Hex, getAddress } from "viem";

import {
  IMPLEMENTATION_SLOT,
  WAYS,
  adminWorld,
  bundleRefused,
  call,
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
  snapshot,
} from "./helpers/admin.js";
import { ENTRY_POINT_ABI, ENTRY_POINT_ADDRESS, ROLES, USDC, agentIdFor, maxCost } from "./helpers/stopline.js";

const conn = await network.create();
const { networkHelpers } = conn;

const ID2 = agentIdFor(2);
const ID3 = agentIdFor(3);

/**
 * A lived-in account: the fixture agent has paid directly and through a UserOperation (gas charged), agent 2 was granted
 * by signature (grant nonce 1) and rotated onto newKey, agent 3 was revoked, a guardian and a paymaster are set, agents
 * are paused; and a second AgentAccount implementation is deployed.
 */
async function upgradeWorld() {
  const s = await adminWorld(conn);
  await s.asAgent.write.executeAsAgent([s.agentId, [s.transfer(s.addr.merchantA, USDC(20))]]);
  const op = await s.agentOp([s.transfer(s.addr.merchantB, USDC(10))]);
  expect(opOutcome(await s.handleOps([op]), s.accountAddress).success).to.equal(true);
  const gasCharged = maxCost(op);

  const grant = { agentId: ID2, key: s.addr.agent2, policy: secondPolicy(s), nonce: 0n, deadline: 2n ** 40n };
  await s.account.write.grantAgentBySig([ID2, s.addr.agent2, grant.policy, grant.deadline, await signGrant(s, grant)], {
    account: s.wallets.stranger.account,
  });
  await s.account.write.rotateAgentKey([ID2, s.addr.newKey]);
  await s.account.write.grantAgent([ID3, s.addr.stranger, secondPolicy(s)]);
  await s.account.write.revokeAgent([ID3]);
  await s.account.write.setGuardian([s.addr.guardian]);
  await s.account.write.setAgentPaymaster([s.addr.bundler, true]);
  await s.account.write.pauseAgents();

  const newImplementation = await s.viem.deployContract("AgentAccount", [ENTRY_POINT_ADDRESS]);
  return { ...s, gasCharged, newImplementation };
}
type U = Awaited<ReturnType<typeof upgradeWorld>>;

const upgradeData = (s: U, data: Hex = "0x") => call(s, "upgradeToAndCall", [s.newImplementation.address, data]);

/** Everything the lived-in account holds, checked value by value (not only "unchanged"). */
async function expectLivedInState(s: U) {
  const a = s.account.read;
  same(await a.spent([s.agentId, s.usdc.address]), [USDC(30), USDC(30)]);
  same(await a.remaining([s.agentId, s.usdc.address]), [USDC(25), USDC(70), USDC(970), s.periodEnd]);
  same(await a.agentUsage([s.agentId]), [s.gasCharged, 10n ** 17n - s.gasCharged, 0n, s.periodEnd]);
  same(await a.getAgent([s.agentId]), [s.addr.agent, false, s.agentPolicy]);
  same(await a.getAgent([ID2]), [s.addr.newKey, false, secondPolicy(s)]);
  same(await a.getAgent([ID3]), ["0x0000000000000000000000000000000000000000", true, secondPolicy(s)]);
  expect(await a.agentOf([s.addr.agent])).to.equal(s.agentId);
  expect(await a.agentOf([s.addr.newKey])).to.equal(ID2);
  expect(await a.agentOf([s.addr.agent2])).to.equal("0x" + "00".repeat(32));
  expect(await a.grantNonce()).to.equal(1n);
  expect(getAddress(await a.guardian())).to.equal(getAddress(s.addr.guardian));
  expect(await a.agentsPaused()).to.equal(true);
  expect(await a.isAgentPaymaster([s.addr.bundler])).to.equal(true);
  expect(getAddress(await a.owner())).to.equal(getAddress(s.addr.owner));
}

describe("upgradeToAndCall", function () {
  for (const way of WAYS) {
    it(`upgrades through ${way} to a new implementation and keeps every agent, key, counter and setting`, async function () {
      const s = await networkHelpers.loadFixture(upgradeWorld);
      await expectLivedInState(s);
      const before = (await snapshot(s)) as Record<string, unknown>;

      const receipt = await ownerOk(s, way, upgradeData(s));
      expectEvents(receipt, s.account.abi, "Upgraded", s.accountAddress, [
        { implementation: s.newImplementation.address },
      ]);
      const slot = await s.publicClient.getStorageAt({ address: s.accountAddress, slot: IMPLEMENTATION_SLOT });
      expect(BigInt(slot as Hex)).to.equal(BigInt(s.newImplementation.address));
      expect(await s.account.read.ADMIN()).to.equal(await s.newImplementation.read.ADMIN());
      expect(await s.account.read.ADMIN()).to.not.equal(await s.implementation.read.ADMIN());

      const after = (await snapshot(s)) as Record<string, unknown>;
      same({ ...after, implementation: undefined }, { ...before, implementation: undefined });
      await expectLivedInState(s);

      // agents pay again once unpaused, on the same counters, directly and through UserOperations
      await s.account.write.unpauseAgents();
      await s.asAgent.write.executeAsAgent([s.agentId, [s.transfer(s.addr.merchantA, USDC(25))]]);
      const op = await s.agentOp([s.transfer(s.addr.merchantB, USDC(5))]);
      expect(opOutcome(await s.handleOps([op]), s.accountAddress).success).to.equal(true);
      same(await s.account.read.spent([s.agentId, s.usdc.address]), [USDC(60), USDC(60)]);
      same(await s.account.read.agentUsage([s.agentId]), [
        s.gasCharged + maxCost(op),
        10n ** 17n - s.gasCharged - maxCost(op),
        0n,
        s.periodEnd,
      ]);
      const asNewKey = await s.viem.getContractAt("AgentAccount", s.accountAddress, {
        client: { wallet: s.wallets.newKey },
      });
      await asNewKey.write.executeAsAgent([ID2, [s.transfer(s.addr.merchantB, USDC(10))]]);
      same(await s.account.read.spent([ID2, s.usdc.address]), [USDC(10), USDC(10)]);

      // retired keys, revoked ids and used grant nonces stay so
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.grantAgent([agentIdFor(4), s.addr.agent2, secondPolicy(s)]),
          s.account.abi,
          "AgentKeyInUse",
          [s.addr.agent2],
        ),
      );
      await expectUnchanged(s, () =>
        expectRevert(
          s.account.write.grantAgent([ID3, s.addr.stranger, secondPolicy(s)]),
          s.account.abi,
          "AgentAlreadyExists",
          [ID3],
        ),
      );
      const grant = {
        agentId: agentIdFor(4),
        key: s.addr.merchantA,
        policy: secondPolicy(s),
        nonce: 1n,
        deadline: 2n ** 40n,
      };
      await s.account.write.grantAgentBySig(
        [grant.agentId, grant.key, grant.policy, grant.deadline, await signGrant(s, grant)],
        { account: s.wallets.stranger.account },
      );
      expect(await s.account.read.grantNonce()).to.equal(2n);
      // the guardian keeps its powers
      const asGuardian = await s.viem.getContractAt("AgentAccount", s.accountAddress, {
        client: { wallet: s.wallets.guardian },
      });
      await asGuardian.write.revokeAgent([ID2]);
      expect((await s.account.read.getAgent([ID2]))[1]).to.equal(true);
    });
  }

  for (const role of ["stranger", "guardian", "agent", "newKey"] as const) {
    it(`refuses an upgrade by the ${role === "newKey" ? "rotated-in agent key" : role} with NotAuthorized(caller)`, async function () {
      const s = await networkHelpers.loadFixture(upgradeWorld);
      await expectUnchanged(s, () =>
        expectRevert(send(s, role, s.accountAddress, upgradeData(s)), s.account.abi, "NotAuthorized", [s.addr[role]]),
      );
      await expectLivedInState(s);
    });
  }

  it("refuses an upgrade to a contract that is not a UUPS implementation", async function () {
    const s = await networkHelpers.loadFixture(upgradeWorld);
    await expectUnchanged(s, () =>
      expectRevert(
        s.account.write.upgradeToAndCall([s.usdc.address, "0x"]),
        s.account.abi,
        "ERC1967InvalidImplementation",
        [s.usdc.address],
      ),
    );
  });

  for (const way of WAYS) {
    it(`refuses through ${way} an upgrade to a contract that is not a UUPS implementation`, async function () {
      const s = await networkHelpers.loadFixture(upgradeWorld);
      await expectUnchanged(s, () =>
        ownerRefused(s, way, call(s, "upgradeToAndCall", [s.usdc.address, "0x"]), "ERC1967InvalidImplementation", [
          s.usdc.address,
        ]),
      );
    });
  }

  it("runs the call of upgradeToAndCall as the owner, in the upgraded account", async function () {
    const s = await networkHelpers.loadFixture(upgradeWorld);
    const hash = await s.account.write.upgradeToAndCall([
      s.newImplementation.address,
      call(s, "setGuardian", [s.addr.stranger]),
    ]);
    const receipt = await s.publicClient.waitForTransactionReceipt({ hash });
    expectEvents(receipt, s.account.abi, "GuardianSet", s.accountAddress, [{ guardian: s.addr.stranger }]);
    expect(getAddress(await s.account.read.guardian())).to.equal(getAddress(s.addr.stranger));
  });
});

describe("the AgentAdmin module", function () {
  const adminOf = async (s: U, implementation: "implementation" | "newImplementation") =>
    s.viem.getContractAt("AgentAdmin", await s[implementation].read.ADMIN());

  for (const implementation of ["implementation", "newImplementation"] as const) {
    it(`refuses every direct call with NotAuthorized(caller) (${implementation === "implementation" ? "current" : "new"} implementation's module)`, async function () {
      const s = await networkHelpers.loadFixture(upgradeWorld);
      const admin = await adminOf(s, implementation);
      const grant = {
        agentId: agentIdFor(5),
        key: s.addr.merchantA,
        policy: secondPolicy(s),
        nonce: 0n,
        deadline: 2n ** 40n,
      };
      const sig = await signGrant(s, grant, { domain: { verifyingContract: admin.address } });
      const attempts: [string, (role: "owner" | "guardian" | "stranger") => Promise<unknown>][] = [
        [
          "grantAgent",
          (r) =>
            admin.write.grantAgent([agentIdFor(5), s.addr.merchantA, secondPolicy(s)], {
              account: s.wallets[r].account,
            }),
        ],
        [
          "grantAgentBySig",
          (r) =>
            admin.write.grantAgentBySig([grant.agentId, grant.key, grant.policy, grant.deadline, sig], {
              account: s.wallets[r].account,
            }),
        ],
        [
          "updatePolicy",
          (r) => admin.write.updatePolicy([s.agentId, secondPolicy(s)], { account: s.wallets[r].account }),
        ],
        [
          "rotateAgentKey",
          (r) => admin.write.rotateAgentKey([s.agentId, s.addr.merchantA], { account: s.wallets[r].account }),
        ],
        ["revokeAgent", (r) => admin.write.revokeAgent([s.agentId], { account: s.wallets[r].account })],
        ["setGuardian", (r) => admin.write.setGuardian([s.addr.stranger], { account: s.wallets[r].account })],
        [
          "setAgentPaymaster",
          (r) => admin.write.setAgentPaymaster([s.addr.stranger, true], { account: s.wallets[r].account }),
        ],
        ["pauseAgents", (r) => admin.write.pauseAgents({ account: s.wallets[r].account })],
        ["unpauseAgents", (r) => admin.write.unpauseAgents({ account: s.wallets[r].account })],
        ["openLane", (r) => admin.write.openLane([s.agentId, s.usdc.address], { account: s.wallets[r].account })],
        [
          "openLaneForPayment",
          (r) =>
            admin.write.openLaneForPayment([s.agentId, s.usdc.address, 2n ** 40n], { account: s.wallets[r].account }),
        ],
      ];
      await expectUnchanged(s, async () => {
        for (const role of ["owner", "guardian", "stranger"] as const) {
          for (const [name, attempt] of attempts) {
            await expectRevert(attempt(role), admin.abi, "NotAuthorized", [s.addr[role]]).catch((e) => {
              throw new Error(`${name} by ${role} directly on AgentAdmin: ${(e as Error).message}`);
            });
          }
        }
      });
    });
  }

  it("keeps the signer roles apart: an upgrade through an op signed by an agent key is refused (AA24)", async function () {
    const s = await networkHelpers.loadFixture(upgradeWorld);
    const op = await s.ownerOp(upgradeData(s), { signer: ROLES.agent });
    await expectUnchanged(s, async () =>
      expectError(await bundleRefused(s, [op]), ENTRY_POINT_ABI, "FailedOp", [0n, "AA24 signature error"]),
    );
  });
});

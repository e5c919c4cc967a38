// AgentAccountFactory and the implementation (SPEC section 4; THREATS class 13): counterfactual addresses, idempotent
// creation, owners that a front-runner cannot change, the owner's first UserOperation deploying the account through
// initCode, and an implementation that has no owner and cannot be initialised or upgraded.
import { expect } from "chai";
import { network } from "hardhat";
import {
  type Abi,
  type Address,
  type Hex,
  concat,
  encodeFunctionData,
  parseEventLogs,
  toFunctionSelector,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import {
  ERC1271_INVALID,
  IMPLEMENTATION_SLOT,
  adminWorld,
  bundleRefused,
  call,
  executeCallData,
  expectError,
  expectEvents,
  expectRevert,
  opOutcome,
  revertDataOf,
  same,
  send,
} from "./helpers/admin.js";
import { ENTRY_POINT_ABI, ROLES, agentIdFor, hdKey, userOp } from "./helpers/stopline.js";

const conn = await network.create();
const { networkHelpers } = conn;
const world = () => adminWorld(conn);
type W = Awaited<ReturnType<typeof world>>;

const ownerOf = async (s: W, account: Address) => (await s.viem.getContractAt("AgentAccount", account)).read.owner();

describe("AgentAccountFactory", function () {
  it("creates the account at the address getAddress predicts, and logs AccountCreated(account, owner, salt)", async function () {
    const s = await networkHelpers.loadFixture(world);
    const owner = s.addr.newKey;
    const predicted = await s.factory.read.getAddress([owner, 42n]);
    expect(await s.publicClient.getCode({ address: predicted })).to.equal(undefined);

    const { result } = await s.factory.simulate.createAccount([owner, 42n]);
    expect(result).to.equal(predicted);
    const hash = await s.factory.write.createAccount([owner, 42n]);
    const receipt = await s.publicClient.waitForTransactionReceipt({ hash });
    expectEvents(receipt, s.factory.abi, "AccountCreated", s.factory.address, [
      { account: predicted, owner, salt: 42n },
    ]);
    expect(await s.publicClient.getCode({ address: predicted })).to.not.equal(undefined);
    expect((await ownerOf(s, predicted)).toLowerCase()).to.equal(owner.toLowerCase());
    const slot = await s.publicClient.getStorageAt({ address: predicted, slot: IMPLEMENTATION_SLOT });
    expect(BigInt(slot as Hex)).to.equal(BigInt(s.implementation.address));
    // the fixture's own account is where getAddress(owner, 0) says
    expect(await s.factory.read.getAddress([s.addr.owner, 0n])).to.equal(s.accountAddress);
  });

  it("is idempotent: a second call returns the same account and logs nothing", async function () {
    const s = await networkHelpers.loadFixture(world);
    const predicted = await s.factory.read.getAddress([s.addr.owner, 0n]);
    const code = await s.publicClient.getCode({ address: predicted });
    for (const from of ["owner", "stranger"] as const) {
      const { result } = await s.factory.simulate.createAccount([s.addr.owner, 0n], {
        account: s.wallets[from].account.address,
      });
      expect(result).to.equal(predicted);
      const hash = await s.factory.write.createAccount([s.addr.owner, 0n], { account: s.wallets[from].account });
      const receipt = await s.publicClient.waitForTransactionReceipt({ hash });
      expect(receipt.status).to.equal("success");
      expect(receipt.logs).to.have.length(0);
    }
    expect(await s.publicClient.getCode({ address: predicted })).to.equal(code);
    // and the existing account kept its agent
    expect(await s.account.read.agentOf([s.addr.agent])).to.equal(s.agentId);
  });

  it("gives different addresses to different owners and salts", async function () {
    const s = await networkHelpers.loadFixture(world);
    const pairs: [Address, bigint][] = [
      [s.addr.owner, 0n],
      [s.addr.owner, 1n],
      [s.addr.owner, 2n ** 255n],
      [s.addr.stranger, 0n],
      [s.addr.stranger, 1n],
      [s.addr.guardian, 0n],
    ];
    const addresses = await Promise.all(pairs.map((p) => s.factory.read.getAddress(p)));
    expect(new Set(addresses.map((a) => a.toLowerCase())).size).to.equal(pairs.length);
    for (const [i, [owner, salt]] of pairs.entries()) {
      await s.factory.write.createAccount([owner, salt]);
      expect((await ownerOf(s, addresses[i])).toLowerCase()).to.equal(owner.toLowerCase());
    }
  });

  it("lets a front-runner create the account only for the owner the address belongs to", async function () {
    const s = await networkHelpers.loadFixture(world);
    const victim = s.addr.guardian;
    const predicted = await s.factory.read.getAddress([victim, 7n]);
    await s.factory.write.createAccount([victim, 7n], { account: s.wallets.stranger.account });
    expect((await ownerOf(s, predicted)).toLowerCase()).to.equal(victim.toLowerCase());

    const asStranger = await s.viem.getContractAt("AgentAccount", predicted, {
      client: { wallet: s.wallets.stranger },
    });
    await expectRevert(
      asStranger.write.grantAgent([agentIdFor(1), s.addr.stranger, s.agentPolicy]),
      s.account.abi,
      "NotAuthorized",
      [s.addr.stranger],
    );
    await expectRevert(
      asStranger.write.upgradeToAndCall([s.implementation.address, "0x"]),
      s.account.abi,
      "NotAuthorized",
      [s.addr.stranger],
    );
    // the real owner controls it
    const asVictim = await s.viem.getContractAt("AgentAccount", predicted, { client: { wallet: s.wallets.guardian } });
    await asVictim.write.setGuardian([s.addr.owner]);
    expect((await asVictim.read.guardian()).toLowerCase()).to.equal(s.addr.owner.toLowerCase());
  });

  it("refuses the zero owner with InvalidOwner()", async function () {
    const s = await networkHelpers.loadFixture(world);
    for (const salt of [0n, 1n]) {
      await expectRevert(s.factory.write.createAccount([zeroAddress, salt]), s.factory.abi, "InvalidOwner", []);
      const predicted = await s.factory.read.getAddress([zeroAddress, salt]);
      expect(await s.publicClient.getCode({ address: predicted })).to.equal(undefined);
    }
  });

  describe("the owner's first UserOperation", function () {
    async function firstOp(s: W, signer: (hash: Hex) => Promise<Hex>, owner: Address) {
      const sender = await s.factory.read.getAddress([owner, 5n]);
      await s.wallets.deployer.sendTransaction({ to: sender, value: 10n ** 18n });
      const initCode = concat([
        s.factory.address,
        encodeFunctionData({ abi: s.factory.abi, functionName: "createAccount", args: [owner, 5n] }),
      ]);
      const callData = encodeFunctionData({
        abi: s.account.abi,
        functionName: "grantAgent",
        args: [agentIdFor(1), s.addr.agent, s.agentPolicy],
      });
      const op = userOp({ sender, nonce: 0n, initCode, callData, verificationGasLimit: 1_000_000n });
      const hash = (await s.entryPoint.read.getUserOpHash([op])) as Hex;
      return { sender, op: { ...op, signature: await signer(hash) }, hash };
    }

    it("deploys the account through initCode and runs an owner call in the same op", async function () {
      const s = await networkHelpers.loadFixture(world);
      const owner = privateKeyToAccount(generatePrivateKey());
      const { sender, op, hash } = await firstOp(s, (h) => owner.sign({ hash: h }), owner.address);

      const receipt = await s.handleOps([op]);
      expect(opOutcome(receipt, sender).success).to.equal(true);
      const deployed = parseEventLogs({ abi: ENTRY_POINT_ABI, logs: receipt.logs, eventName: "AccountDeployed" });
      same(
        deployed.map((l) => l.args),
        [{ userOpHash: hash, sender, factory: s.factory.address, paymaster: zeroAddress }],
      );
      expectEvents(receipt, s.factory.abi, "AccountCreated", s.factory.address, [
        { account: sender, owner: owner.address, salt: 5n },
      ]);
      expectEvents(receipt, s.account.abi, "AgentGranted", sender, [
        { agentId: agentIdFor(1), key: s.addr.agent, mandate: s.agentPolicy.mandate, policy: s.agentPolicy },
      ]);
      const account = await s.viem.getContractAt("AgentAccount", sender);
      expect((await account.read.owner()).toLowerCase()).to.equal(owner.address.toLowerCase());
      same(await account.read.getAgent([agentIdFor(1)]), [s.addr.agent, false, s.agentPolicy]);
    });

    it("deploys nothing when the first op is not signed by the owner (AA24)", async function () {
      const s = await networkHelpers.loadFixture(world);
      const owner = privateKeyToAccount(generatePrivateKey());
      const { sender, op } = await firstOp(s, (h) => hdKey(ROLES.stranger).sign({ hash: h }), owner.address);
      expectError(await bundleRefused(s, [op]), ENTRY_POINT_ABI, "FailedOp", [0n, "AA24 signature error"]);
      expect(await s.publicClient.getCode({ address: sender })).to.equal(undefined);
    });
  });
});

describe("the implementation", function () {
  it("has no owner", async function () {
    const s = await networkHelpers.loadFixture(world);
    expect(await s.implementation.read.owner()).to.equal(zeroAddress);
  });

  it("has no initializer to call", async function () {
    const s = await networkHelpers.loadFixture(world);
    const names = (s.implementation.abi as Abi).flatMap((x) => (x.type === "function" ? [x.name] : []));
    expect(names.filter((n) => /initiali[sz]e/i.test(n))).to.deep.equal([]);
    for (const signature of ["initialize(address)", "initialize()", "initialize(address,uint256)"]) {
      let reverted = false;
      try {
        await send(
          s,
          "stranger",
          s.implementation.address,
          concat([toFunctionSelector(signature), ("0x" + "00".repeat(64)) as Hex]),
        );
      } catch (error) {
        reverted = true;
        expect(revertDataOf(error) ?? "0x").to.equal("0x");
      }
      expect(reverted, signature).to.equal(true);
    }
  });

  const OWNER_CALLS: [string, (s: W) => Hex][] = [
    ["grantAgent", (s) => call(s, "grantAgent", [agentIdFor(1), s.addr.agent2, s.agentPolicy])],
    ["setGuardian", (s) => call(s, "setGuardian", [s.addr.stranger])],
    ["pauseAgents", (s) => call(s, "pauseAgents", [])],
    ["setAgentPaymaster", (s) => call(s, "setAgentPaymaster", [s.addr.stranger, true])],
    ["execute", (s) => executeCallData(s, [{ target: s.usdc.address, value: 0n, callData: "0x" }])],
  ];
  for (const [name, data] of OWNER_CALLS) {
    it(`refuses ${name} on it with NotAuthorized(caller), from its deployer and an account owner too`, async function () {
      const s = await networkHelpers.loadFixture(world);
      for (const role of ["deployer", "owner", "stranger"] as const) {
        await expectRevert(send(s, role, s.implementation.address, data(s)), s.account.abi, "NotAuthorized", [
          s.addr[role],
        ]);
      }
      expect(await s.implementation.read.guardian()).to.equal(zeroAddress);
      expect(await s.implementation.read.agentsPaused()).to.equal(false);
    });
  }

  it("cannot be upgraded itself (UUPS only through a proxy)", async function () {
    const s = await networkHelpers.loadFixture(world);
    await expectRevert(
      s.implementation.write.upgradeToAndCall([s.implementation.address, "0x"], { account: s.wallets.owner.account }),
      s.account.abi,
      "UUPSUnauthorizedCallContext",
      [],
    );
  });

  it("validates no signature, not even the owner's", async function () {
    const s = await networkHelpers.loadFixture(world);
    const hash = (await s.entryPoint.read.getUserOpHash([
      userOp({ sender: s.implementation.address, nonce: 0n, callData: "0x" }),
    ])) as Hex;
    for (const role of [ROLES.owner, ROLES.deployer]) {
      expect(await s.implementation.read.isValidSignature([hash, await hdKey(role).sign({ hash })])).to.equal(
        ERC1271_INVALID,
      );
    }
    // and the EntryPoint cannot run an op for it: nobody can sign one
    const op = userOp({ sender: s.implementation.address, nonce: 0n, callData: call(s, "pauseAgents", []) });
    const opHash = (await s.entryPoint.read.getUserOpHash([op])) as Hex;
    await s.wallets.deployer.sendTransaction({ to: s.implementation.address, value: 10n ** 17n });
    const signed = { ...op, signature: await hdKey(ROLES.owner).sign({ hash: opHash }) };
    expectError(await bundleRefused(s, [signed]), ENTRY_POINT_ABI, "FailedOp", [0n, "AA24 signature error"]);
    expect(await s.implementation.read.agentsPaused()).to.equal(false);
  });
});

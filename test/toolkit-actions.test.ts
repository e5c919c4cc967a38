// Every owner / integrator action against the in-process network: accounts, grants (direct and by signature),
// updates, rotation, revocation, pause, guardian, paymaster, status and preflight, plain and through the decorator.
import { expect } from "chai";
import type { NetworkConnection } from "hardhat/types/network";
import { type Address, type Hex, getAddress, parseEther, parseEventLogs, zeroAddress } from "viem";

import {
  AgentKeyInUseError,
  AgentNotFoundError,
  GrantExpiredError,
  InvalidGrantSignatureError,
  InvalidPolicyInputError,
  NotAuthorizedError,
  UNLIMITED,
  agentAccountAbi,
  agentIdFromNonceKey,
  buildPolicy,
  checkAgentCalls,
  createAgentAccount,
  decodeGuardrailViolation,
  getAgentAccountAddress,
  getAgentStatus,
  grantAgent,
  isAgentId,
  nonceKeyOf,
  pauseAgents,
  randomAgentId,
  revokeAgent,
  rotateAgentKey,
  setAgentPaymaster,
  setGuardian,
  signAgentGrant,
  stoplineActions,
  submitAgentGrant,
  unpauseAgents,
  updateAgentPolicy,
} from "../src/index.js";
import {
  AGENTS_START,
  IDS,
  MIDNIGHT,
  T,
  type ToolkitWorld,
  createConnection,
  toolkitWorld,
} from "./helpers/toolkit.js";
import { ROLES, USDC, agentIdFor, policy, rejection } from "./helpers/stopline.js";

describe("toolkit: owner and integrator actions", function () {
  let conn: NetworkConnection;
  let w: ToolkitWorld;
  before(async function () {
    conn = await createConnection();
  });
  async function world() {
    return toolkitWorld(conn);
  }
  beforeEach(async function () {
    w = await conn.networkHelpers.loadFixture(world);
  });

  const owner = () => w.wallets[ROLES.owner];
  const wait = (hash: Hex) => w.publicClient.waitForTransactionReceipt({ hash });
  const simplePolicy = () =>
    policy({
      limits: [{ token: w.usdc.address, perPayment: USDC(10), perPeriod: USDC(50), lifetime: USDC(500) }],
      merchants: [w.addr.merchantA],
    });
  const pay = (amount: number) => [w.transfer(w.addr.merchantA, USDC(amount))];

  describe("accounts", function () {
    it("predicts an account's address, creates it there, and creating it again changes nothing", async function () {
      const newOwner = w.addr.stranger;
      const predicted = await getAgentAccountAddress(w.publicClient, { factory: w.factory.address, owner: newOwner });
      expect(await w.publicClient.getCode({ address: predicted })).to.equal(undefined);
      expect(
        await getAgentAccountAddress(w.publicClient, { factory: w.factory.address, owner: newOwner, salt: 1n }),
      ).to.not.equal(predicted);

      const { address, hash } = await createAgentAccount(w.wallets[ROLES.deployer], {
        factory: w.factory.address,
        owner: newOwner,
      });
      expect(address).to.equal(predicted);
      const receipt = await wait(hash);
      const [created] = parseEventLogs({ abi: w.factory.abi, logs: receipt.logs, eventName: "AccountCreated" });
      expect(created.args).to.deep.equal({ account: predicted, owner: getAddress(newOwner), salt: 0n });
      const account = await w.viem.getContractAt("AgentAccount", predicted);
      expect(await account.read.owner()).to.equal(getAddress(newOwner));

      const again = await createAgentAccount(w.wallets[ROLES.deployer], {
        factory: w.factory.address,
        owner: newOwner,
      });
      expect(again.address).to.equal(predicted);
      const receipt2 = await wait(again.hash);
      expect(parseEventLogs({ abi: w.factory.abi, logs: receipt2.logs, eventName: "AccountCreated" })).to.have.length(
        0,
      );
    });
  });

  describe("agent ids", function () {
    it("makes ids whose low 192 bits are the nonce key", function () {
      expect(agentIdFromNonceKey(1n)).to.equal(agentIdFor(1));
      expect(agentIdFromNonceKey(7n, 3n)).to.equal(agentIdFor(7, 3n));
      expect(nonceKeyOf(agentIdFor(7, 3n))).to.equal(7n);
      const id = randomAgentId();
      expect(isAgentId(id)).to.equal(true);
      expect(isAgentId(agentIdFor(0, 5n))).to.equal(false);
      expect(() => agentIdFromNonceKey(0n)).to.throw(RangeError);
    });
  });

  describe("grantAgent", function () {
    it("grants an agent that can then pay within its policy", async function () {
      const agentId = agentIdFor(30);
      const key = w.wallets[18].account.address;
      const receipt = await wait(
        await grantAgent(owner(), { address: w.accountAddress, agentId, key, policy: simplePolicy() }),
      );
      const [granted] = parseEventLogs({ abi: agentAccountAbi, logs: receipt.logs, eventName: "AgentGranted" });
      expect(granted.args.agentId).to.equal(agentId);
      expect(granted.args.key).to.equal(getAddress(key));
      const agent = await w.as(18);
      await agent.write.executeAsAgent([agentId, pay(10)]);
      expect(await w.account.read.remaining([agentId, w.usdc.address])).to.deep.equal([
        USDC(10),
        USDC(40),
        USDC(490),
        MIDNIGHT,
      ]);
    });

    it("refuses a bad agent id, key or policy before sending anything", async function () {
      const nonce = await w.publicClient.getTransactionCount({ address: w.addr.owner });
      const base = { address: w.accountAddress, key: w.wallets[18].account.address, policy: simplePolicy() };
      const e1 = await rejection(grantAgent(owner(), { ...base, agentId: agentIdFor(0, 9n) }), InvalidPolicyInputError);
      expect(e1.shortMessage).to.equal(
        `agentId "${agentIdFor(0, 9n)}" is not a valid agent id: it must be 32 bytes of hex whose low 192 bits (its nonce key) are not all zero.`,
      );
      const e2 = await rejection(
        grantAgent(owner(), { ...base, agentId: agentIdFor(31), key: "0x1234" }),
        InvalidPolicyInputError,
      );
      expect(e2.shortMessage).to.equal(`key "0x1234" is not an address (or its checksum is wrong).`);
      const e3 = await rejection(
        grantAgent(owner(), {
          ...base,
          agentId: agentIdFor(31),
          policy: { ...simplePolicy(), merchants: [w.accountAddress] },
        }),
        InvalidPolicyInputError,
      );
      expect(e3.shortMessage).to.equal(
        "merchants[0] 0x03BD…858e is the account itself. A merchant may not be the account, the EntryPoint or Permit2.",
      );
      expect(await w.publicClient.getTransactionCount({ address: w.addr.owner })).to.equal(nonce);
    });

    it("throws the contract's refusals as their guardrail error classes", async function () {
      const e = await rejection(
        grantAgent(owner(), {
          address: w.accountAddress,
          agentId: agentIdFor(31),
          key: w.addr.agent,
          policy: simplePolicy(),
        }),
        AgentKeyInUseError,
      );
      expect(e.shortMessage).to.equal(
        "Key 0x90F7…b906 is already registered or was retired (a key serves one agent, once); use a fresh key.",
      );
      expect(e.violation).to.deep.include({ name: "AgentKeyInUse", key: getAddress(w.addr.agent) });
      expect((e.cause as Error).name).to.equal("ContractFunctionExecutionError");
      const stranger = w.wallets[ROLES.stranger];
      await rejection(
        grantAgent(stranger, {
          address: w.accountAddress,
          agentId: agentIdFor(31),
          key: w.wallets[18].account.address,
          policy: simplePolicy(),
        }),
        NotAuthorizedError,
      );
    });
  });

  describe("signAgentGrant and submitAgentGrant", function () {
    it("lets the owner sign a grant that the agent submits and pays for", async function () {
      const agentId = agentIdFor(32);
      const key = w.wallets[18].account.address;
      const grant = await signAgentGrant(owner(), {
        address: w.accountAddress,
        agentId,
        key,
        policy: simplePolicy(),
        deadline: new Date(Number(T + 3600n) * 1000),
      });
      expect([grant.nonce, grant.deadline, grant.chainId]).to.deep.equal([
        0n,
        T + 3600n,
        await w.publicClient.getChainId(),
      ]);
      const agentWallet = w.wallets[18];
      const ownerNonce = await w.publicClient.getTransactionCount({ address: w.addr.owner });
      const receipt = await wait(await submitAgentGrant(agentWallet, { grant }));
      expect(receipt.from).to.equal(agentWallet.account.address);
      expect(await w.publicClient.getTransactionCount({ address: w.addr.owner })).to.equal(ownerNonce);
      expect(await w.account.read.grantNonce()).to.equal(1n);
      expect(await w.account.read.agentOf([key])).to.equal(agentId);

      // the same signature cannot be used twice
      const again = await rejection(
        submitAgentGrant(agentWallet, { grant: { ...grant, agentId: agentIdFor(33) } }),
        InvalidGrantSignatureError,
      );
      expect(again.violation.name).to.equal("InvalidGrantSignature");
    });

    it("refuses an expired grant and one the owner did not sign", async function () {
      const base = {
        address: w.accountAddress,
        agentId: agentIdFor(34),
        key: w.wallets[18].account.address,
        policy: simplePolicy(),
      };
      const expired = await signAgentGrant(owner(), { ...base, deadline: T - 10n });
      const e = await rejection(submitAgentGrant(w.wallets[18], { grant: expired }), GrantExpiredError);
      expect(e.violation).to.deep.include({ name: "GrantExpired", deadline: T - 10n });
      const forged = await signAgentGrant(w.wallets[ROLES.stranger], { ...base, deadline: T + 3600n });
      await rejection(submitAgentGrant(w.wallets[18], { grant: forged }), InvalidGrantSignatureError);
    });
  });

  describe("updateAgentPolicy", function () {
    it("replaces the policy and keeps what was spent", async function () {
      const raised = {
        ...w.agentPolicy,
        limits: [{ token: w.usdc.address, perPayment: USDC(50), perPeriod: USDC(200), lifetime: USDC(2000) }],
      };
      await wait(await updateAgentPolicy(owner(), { address: w.accountAddress, agentId: w.agentId, policy: raised }));
      // 80 spent today and in the lifetime stay charged
      expect(await w.account.read.remaining([w.agentId, w.usdc.address])).to.deep.equal([
        USDC(50),
        USDC(120),
        USDC(1920),
        MIDNIGHT,
      ]);
      await rejection(
        updateAgentPolicy(owner(), { address: w.accountAddress, agentId: agentIdFor(88), policy: raised }),
        AgentNotFoundError,
      );
      const e = await rejection(
        updateAgentPolicy(owner(), { address: w.accountAddress, agentId: w.agentId, policy: { ...raised, period: 0 } }),
        InvalidPolicyInputError,
      );
      expect(e.shortMessage).to.equal("period must be greater than 0 seconds.");
    });
  });

  describe("rotateAgentKey", function () {
    it("moves the agent to a new key at once and retires the old one", async function () {
      await wait(
        await rotateAgentKey(owner(), { address: w.accountAddress, agentId: w.agentId, newKey: w.addr.newKey }),
      );
      const oldKey = await w.as(ROLES.agent);
      let refused: unknown;
      try {
        await oldKey.write.executeAsAgent([w.agentId, pay(1)]);
      } catch (e) {
        refused = e;
      }
      expect(decodeGuardrailViolation(refused)).to.deep.include({
        name: "AgentUnknown",
        key: getAddress(w.addr.agent),
      });
      const newKey = await w.as(ROLES.newKey);
      await newKey.write.executeAsAgent([w.agentId, pay(1)]);
      // counters kept: 80 + 1 spent
      expect((await w.account.read.remaining([w.agentId, w.usdc.address]))[1]).to.equal(USDC(19));
      await rejection(
        rotateAgentKey(owner(), { address: w.accountAddress, agentId: w.agentId, newKey: w.addr.agent }),
        AgentKeyInUseError,
      );
      const bad = await rejection(
        rotateAgentKey(owner(), { address: w.accountAddress, agentId: w.agentId, newKey: "0x1" }),
        InvalidPolicyInputError,
      );
      expect(bad.shortMessage).to.equal(`newKey "0x1" is not an address (or its checksum is wrong).`);
    });
  });

  describe("guardian, pause, revoke, paymaster", function () {
    it("lets the guardian pause and revoke but not unpause, and the owner remove the guardian", async function () {
      const guardian = w.wallets[ROLES.guardian];
      await wait(await setGuardian(owner(), { address: w.accountAddress, guardian: w.addr.guardian }));
      expect(await w.account.read.guardian()).to.equal(getAddress(w.addr.guardian));

      await wait(await pauseAgents(guardian, { address: w.accountAddress }));
      expect(await w.account.read.agentsPaused()).to.equal(true);
      const e = await rejection(unpauseAgents(guardian, { address: w.accountAddress }), NotAuthorizedError);
      expect(e.violation).to.deep.include({ name: "NotAuthorized", caller: getAddress(w.addr.guardian) });
      await wait(await unpauseAgents(owner(), { address: w.accountAddress }));
      expect(await w.account.read.agentsPaused()).to.equal(false);

      const receipt = await wait(await revokeAgent(guardian, { address: w.accountAddress, agentId: IDS.calls }));
      const [revoked] = parseEventLogs({ abi: agentAccountAbi, logs: receipt.logs, eventName: "AgentRevoked" });
      expect(revoked.args).to.deep.equal({ agentId: IDS.calls, by: getAddress(w.addr.guardian) });

      const bad = await rejection(
        setGuardian(owner(), { address: w.accountAddress, guardian: "0x1" }),
        InvalidPolicyInputError,
      );
      expect(bad.shortMessage).to.equal(`guardian "0x1" is not an address (or its checksum is wrong).`);
      await wait(await setGuardian(owner(), { address: w.accountAddress, guardian: null }));
      expect(await w.account.read.guardian()).to.equal(zeroAddress);
      await rejection(pauseAgents(guardian, { address: w.accountAddress }), NotAuthorizedError);
    });

    it("allows and forbids a paymaster for agents", async function () {
      await wait(
        await setAgentPaymaster(owner(), { address: w.accountAddress, paymaster: w.addr.stranger, allowed: true }),
      );
      expect(await w.account.read.isAgentPaymaster([w.addr.stranger])).to.equal(true);
      await wait(
        await setAgentPaymaster(owner(), { address: w.accountAddress, paymaster: w.addr.stranger, allowed: false }),
      );
      expect(await w.account.read.isAgentPaymaster([w.addr.stranger])).to.equal(false);
      const e = await rejection(
        setAgentPaymaster(owner(), { address: w.accountAddress, paymaster: zeroAddress, allowed: true }),
        InvalidPolicyInputError,
      );
      expect(e.shortMessage).to.equal(`paymaster "${zeroAddress}" must be a non-zero address (with a valid checksum).`);
    });
  });

  describe("getAgentStatus", function () {
    it("reports caps, spending and what is left in token units and formatted, the gas budget, and that the agent may act", async function () {
      const s = await getAgentStatus(w.publicClient, { address: w.accountAddress, agentId: w.agentId, now: T });
      expect(s).to.deep.include({
        agentId: w.agentId,
        key: getAddress(w.addr.agent),
        revoked: false,
        paused: false,
        now: T,
        validAfter: 0n,
        validUntil: undefined,
        periodResetsAt: MIDNIGHT,
        mayActNow: true,
        blockedBy: undefined,
        nextMayActAt: T,
      });
      const usdc = (n: bigint) => ({ amount: n, formatted: `${Number(n) / 1e6}.00 USDC`, unlimited: false });
      expect(s.tokens).to.deep.equal([
        {
          token: getAddress(w.usdc.address),
          symbol: "USDC",
          decimals: 6,
          perPayment: usdc(USDC(25)),
          perPeriod: usdc(USDC(100)),
          lifetime: usdc(USDC(1000)),
          spentInPeriod: usdc(USDC(80)),
          spentInLifetime: usdc(USDC(80)),
          remainingInPeriod: usdc(USDC(20)),
          remainingInLifetime: usdc(USDC(920)),
          periodResetsAt: MIDNIGHT,
        },
      ]);
      expect(s.gas).to.deep.equal({
        budget: { amount: parseEther("0.1"), formatted: "0.10 ETH", unlimited: false },
        charged: { amount: 0n, formatted: "0.00 ETH", unlimited: false },
        remaining: { amount: parseEther("0.1"), formatted: "0.10 ETH", unlimited: false },
      });
      expect(s.calls).to.deep.equal({ limit: undefined, inPeriod: 0n, remaining: undefined });
    });

    it("says why an agent may not act now and when it next may", async function () {
      const status = (agentId: Hex) => getAgentStatus(w.publicClient, { address: w.accountAddress, agentId, now: T });
      const pick = async (agentId: Hex) => {
        const s = await status(agentId);
        return [s.mayActNow, s.blockedBy, s.nextMayActAt];
      };
      expect(await pick(IDS.hours)).to.deep.equal([
        false,
        "OutsideActiveHours",
        BigInt(Date.parse("2026-11-30T09:00:00Z") / 1000),
      ]);
      expect(await pick(IDS.early)).to.deep.equal([false, "AgentNotYetValid", AGENTS_START]);
      expect(await pick(IDS.late)).to.deep.equal([false, "AgentExpired", undefined]);
      const calls = await status(IDS.calls);
      expect(calls.calls).to.deep.equal({ limit: 1, inPeriod: 0n, remaining: 1n });
      await w.account.write.pauseAgents();
      expect(await pick(w.agentId)).to.deep.equal([false, "AgentsPaused", undefined]);
      await w.account.write.unpauseAgents();
      await w.account.write.revokeAgent([w.agentId]);
      const revoked = await status(w.agentId);
      expect([revoked.mayActNow, revoked.blockedBy, revoked.key, revoked.revoked]).to.deep.equal([
        false,
        "AgentIsRevoked",
        undefined,
        true,
      ]);
      await rejection(status(agentIdFor(99)), AgentNotFoundError);
    });

    it("shows ETH limits in ETH and unlimited caps as unlimited, with the chain's time by default", async function () {
      const agentId = agentIdFor(35);
      const p = await buildPolicy(w.publicClient, {
        limits: [{ token: "ETH", perPayment: "0.05", perPeriod: "unlimited", lifetime: "unlimited" }],
        merchants: [w.addr.merchantA],
        period: "1w",
        gasBudget: "unlimited",
      });
      await grantAgent(owner(), { address: w.accountAddress, agentId, key: w.wallets[18].account.address, policy: p });
      const s = await getAgentStatus(w.publicClient, { address: w.accountAddress, agentId });
      expect(s.now).to.equal((await w.publicClient.getBlock()).timestamp);
      expect(s.tokens[0]).to.deep.include({
        token: zeroAddress,
        symbol: "ETH",
        decimals: 18,
        perPayment: { amount: parseEther("0.05"), formatted: "0.05 ETH", unlimited: false },
        perPeriod: { amount: UNLIMITED, formatted: "unlimited", unlimited: true },
        remainingInLifetime: { amount: UNLIMITED, formatted: "unlimited", unlimited: true },
      });
      expect(s.gas.budget.formatted).to.equal("unlimited");
    });
  });

  describe("checkAgentCalls", function () {
    it("returns undefined for a batch that would pass and the explained violation for one that would not", async function () {
      const check = (agentId: Hex, calls: ReturnType<typeof pay>) =>
        checkAgentCalls(w.publicClient, { address: w.accountAddress, agentId, calls, now: T });
      expect(await check(w.agentId, pay(20))).to.equal(undefined);
      const over = await check(w.agentId, pay(21));
      expect(over).to.deep.include({ name: "PeriodCapExceeded", amount: USDC(21), remaining: USDC(20) });
      expect(over!.message).to.equal(
        "Payment of 21.00 USDC to 0x9965…A4dc would exceed the daily cap: 20.00 of 100.00 USDC left, resets in 3 h 12 min (2026-11-28 00:00 UTC).",
      );
      expect((await check(w.agentId, pay(26)))!.message).to.equal(
        "Payment of 26.00 USDC to 0x9965…A4dc is over the per-payment cap of 25.00 USDC.",
      );
      expect((await check(IDS.hours, pay(1)))!.message).to.equal(
        "The agent may not act during Fri 20:00-21:00 UTC, outside its active hours; it may act next at 2026-11-30 09:00 UTC (in 2 d 12 h).",
      );
      expect((await check(agentIdFor(99), pay(1)))!.message).to.equal(
        "Agent 0x0000…0063 was never granted on this account.",
      );
    });
  });

  describe("stoplineActions decorator", function () {
    it("binds the actions to a client and an account address", async function () {
      const ownerClient = owner().extend(stoplineActions({ address: w.accountAddress }));
      const agentId = agentIdFor(36);
      const p = await ownerClient.buildPolicy({
        limits: [{ token: w.usdc.address, perPayment: "5", perPeriod: "10", lifetime: "100" }],
        merchants: [w.addr.merchantB],
        period: "12h",
      });
      await wait(await ownerClient.grantAgent({ agentId, key: w.wallets[18].account.address, policy: p }));
      const status = await ownerClient.getAgentStatus({ agentId, now: T });
      expect(status.tokens[0].perPeriod.formatted).to.equal("10.00 USDC");
      expect(await ownerClient.checkAgentCalls({ agentId, calls: [w.transfer(w.addr.merchantB, USDC(5))] })).to.equal(
        undefined,
      );
      await wait(await ownerClient.pauseAgents());
      expect(await w.account.read.agentsPaused()).to.equal(true);
      await wait(await ownerClient.unpauseAgents());
      await wait(await ownerClient.revokeAgent({ agentId }));
      expect((await ownerClient.getAgentStatus({ agentId })).revoked).to.equal(true);

      const unbound = owner().extend(stoplineActions());
      const e = await rejection(unbound.pauseAgents(), InvalidPolicyInputError);
      expect(e.shortMessage).to.equal(
        "address (the Stopline account) is missing. Pass it, or give it once to stoplineActions({ address }).",
      );
      const at: Address = (await unbound.getAgentAccountAddress({
        factory: w.factory.address,
        owner: w.addr.owner,
      })) as Address;
      expect(at).to.equal(getAddress(w.accountAddress));
    });
  });
});

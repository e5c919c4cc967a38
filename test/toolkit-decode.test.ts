// decodeGuardrailViolation / explainGuardrailViolation / decodeUserOperationReceipt on the errors the contracts really
// produce (direct calls, UserOperations refused in validation and at execution, owner functions), on bundler JSON-RPC
// error shapes served by a fake Alto over HTTP, and on everything else (Error, Panic, nested causes, garbage).
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { expect } from "chai";
import type { NetworkConnection } from "hardhat/types/network";
import {
  type Hex,
  encodeAbiParameters,
  encodeErrorResult,
  encodeFunctionData,
  getAddress,
  isAddress,
  http,
  keccak256,
  parseEventLogs,
  toHex,
  zeroAddress,
} from "viem";
import { createBundlerClient } from "viem/account-abstraction";

import {
  type GuardrailViolation,
  AgentsPausedError,
  GuardrailViolationError,
  PeriodCapExceededError,
  UserOperationRejectedError,
  agentAccountAbi,
  decodeGuardrailViolation,
  decodeUserOperationReceipt,
  entryPointV08Abi,
  explainGuardrailViolation,
  getAgentGrantTypedData,
  toGuardrailError,
} from "../src/index.js";
import {
  AGENTS_START,
  IDS,
  KEYS,
  LATE_END,
  MIDNIGHT,
  NO_CODE_TOKEN,
  REENTRANT,
  T,
  type ToolkitWorld,
  createConnection,
  toolkitWorld,
} from "./helpers/toolkit.js";
import { ROLES, USDC, agentIdFor, hdKey, nonceFor, policy, rejection } from "./helpers/stopline.js";

const MERCHANT_A = "0x9965…A4dc";
const STRANGER = "0x14dC…9955";
const AGENT_KEY = "0x90F7…b906";
const USDC_SHORT = "0xCf7E…0Fc9";

/** Asserts the violation's name, fields and exact message. */
function expectViolation(v: GuardrailViolation | undefined, fields: Partial<GuardrailViolation>, message: string) {
  expect(v, "decoded").to.not.equal(undefined);
  // addresses come back checksummed; the test wallets' addresses are lowercase
  const want = Object.fromEntries(
    Object.entries(fields).map(([k, x]) => [k, typeof x === "string" && isAddress(x) ? getAddress(x) : x]),
  );
  expect(v).to.deep.include(want);
  expect(v!.message).to.equal(message);
}

describe("toolkit: decodeGuardrailViolation", function () {
  let conn: NetworkConnection;
  let w: ToolkitWorld;
  let tokens: Record<string, { symbol: string; decimals: number }>;

  before(async function () {
    conn = await createConnection();
  });
  async function world() {
    return toolkitWorld(conn);
  }
  beforeEach(async function () {
    w = await conn.networkHelpers.loadFixture(world);
    tokens = { [w.usdc.address]: { symbol: "USDC", decimals: 6 } };
  });

  const pay = (to: keyof ToolkitWorld["addr"], amount: number) => w.transfer(w.addr[to], USDC(amount));
  const opts = () => ({ now: T, tokens });

  describe("direct calls (executeAsAgent sent by the key)", function () {
    it("explains a payment over the daily cap with what is left and when it resets", async function () {
      const e = await rejection(w.asAgent.write.executeAsAgent([w.agentId, [pay("merchantA", 25)]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        {
          name: "PeriodCapExceeded",
          agentId: w.agentId,
          token: w.usdc.address,
          amount: USDC(25),
          remaining: USDC(20),
          resetsAt: MIDNIGHT,
          merchant: w.addr.merchantA,
        },
        `Payment of 25.00 USDC to ${MERCHANT_A} would exceed the period cap: 20.00 USDC left, resets in 3 h 12 min (2026-11-28 00:00 UTC).`,
      );
      const explained = await explainGuardrailViolation(w.publicClient, e, { address: w.accountAddress, now: T });
      expect(explained!.message).to.equal(
        `Payment of 25.00 USDC to ${MERCHANT_A} would exceed the daily cap: 20.00 of 100.00 USDC left, resets in 3 h 12 min (2026-11-28 00:00 UTC).`,
      );
    });

    it("explains a payment over the per-payment cap", async function () {
      const e = await rejection(w.asAgent.write.executeAsAgent([w.agentId, [pay("merchantA", 30)]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "PerPaymentCapExceeded", token: w.usdc.address, amount: USDC(30), limit: USDC(25) },
        `Payment of 30.00 USDC to ${MERCHANT_A} is over the per-payment cap of 25.00 USDC.`,
      );
    });

    it("calls an approval an approval", async function () {
      const e = await rejection(w.asAgent.write.executeAsAgent([w.agentId, [w.approve(w.addr.merchantB, USDC(26))]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "PerPaymentCapExceeded", amount: USDC(26), merchant: w.addr.merchantB },
        "Approval of 26.00 USDC for 0x976E…0aa9 is over the per-payment cap of 25.00 USDC.",
      );
    });

    it("explains a payment past the lifetime cap", async function () {
      const agent = await w.as(KEYS.lifetime);
      const e = await rejection(agent.write.executeAsAgent([IDS.lifetime, [pay("merchantA", 10)]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "LifetimeCapExceeded", agentId: IDS.lifetime, amount: USDC(10), remaining: 0n },
        `Payment of 10.00 USDC to ${MERCHANT_A} would exceed the lifetime cap: 0.00 USDC left, and it never resets.`,
      );
      const explained = await explainGuardrailViolation(w.publicClient, e, { address: w.accountAddress, now: T });
      expect(explained!.message).to.equal(
        `Payment of 10.00 USDC to ${MERCHANT_A} would exceed the lifetime cap: 0.00 of 50.00 USDC left, and it never resets.`,
      );
    });

    it("explains a payment to an address that is not a merchant", async function () {
      const e = await rejection(w.asAgent.write.executeAsAgent([w.agentId, [pay("stranger", 1)]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "MerchantNotAllowed", agentId: w.agentId, merchant: w.addr.stranger },
        `${STRANGER} is not one of the agent's merchants, so the agent may not pay it.`,
      );
      const labelled = decodeGuardrailViolation(e, { ...opts(), labels: { [w.addr.stranger]: "Mallory" } });
      expect(labelled!.message).to.equal(
        `Mallory (${STRANGER}) is not one of the agent's merchants, so the agent may not pay it.`,
      );
    });

    it("explains a transfer on a token that is not in the policy", async function () {
      const call = { ...pay("merchantA", 1), target: w.addr.stranger };
      const e = await rejection(w.asAgent.write.executeAsAgent([w.agentId, [call]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "TokenNotAllowed", token: w.addr.stranger },
        `The agent may not pay with token ${STRANGER}: it is not one of the tokens in its policy.`,
      );
    });

    it("names the refused function of a call that is not allowed", async function () {
      const call = {
        target: w.usdc.address,
        value: 0n,
        callData: encodeFunctionData({
          abi: w.usdc.abi,
          functionName: "transferFrom",
          args: [w.addr.owner, w.addr.merchantA, 1n],
        }),
      };
      const e = await rejection(w.asAgent.write.executeAsAgent([w.agentId, [call]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "CallNotAllowed", target: w.usdc.address, selector: "0x23b872dd" },
        `The agent may not call transferFrom (0x23b872dd) on USDC (${USDC_SHORT}).`,
      );
      const plain = await rejection(
        w.asAgent.write.executeAsAgent([w.agentId, [{ target: w.addr.stranger, value: 0n, callData: "0x" }]]),
      );
      expectViolation(
        decodeGuardrailViolation(plain, opts()),
        { name: "CallNotAllowed", target: w.addr.stranger, selector: "0x00000000" },
        `The agent may not call ${STRANGER}: it is not one of its merchants.`,
      );
    });

    it("explains an empty batch", async function () {
      const e = await rejection(w.asAgent.write.executeAsAgent([w.agentId, []]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "CallNotAllowed", target: zeroAddress, selector: "0x00000000" },
        "An empty batch is not allowed: give the agent at least one call.",
      );
    });

    it("explains a key that is not the agent's", async function () {
      const stranger = await w.as(ROLES.stranger);
      const e = await rejection(stranger.write.executeAsAgent([w.agentId, [pay("merchantA", 1)]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "AgentUnknown", key: w.addr.stranger },
        `Key ${STRANGER} is not the agent's current key (it was never granted, was rotated away, or the agent was revoked).`,
      );
    });

    it("explains paused agents and a revoked agent", async function () {
      await w.account.write.pauseAgents();
      const paused = await rejection(w.asAgent.write.executeAsAgent([w.agentId, [pay("merchantA", 1)]]));
      expectViolation(
        decodeGuardrailViolation(paused, opts()),
        { name: "AgentsPaused" },
        "All agents of this account are paused; the owner must unpause them before any agent can act.",
      );
      await w.account.write.unpauseAgents();
      await w.account.write.revokeAgent([w.agentId]);
      const revoked = await rejection(w.asAgent.write.executeAsAgent([w.agentId, [pay("merchantA", 1)]]));
      expectViolation(
        decodeGuardrailViolation(revoked, opts()),
        { name: "AgentIsRevoked", agentId: w.agentId },
        "Agent 0x0000…0001 was revoked and can never act again.",
      );
    });

    it("explains an agent that is not valid yet, and one that expired", async function () {
      const early = await w.as(KEYS.early);
      const e1 = await rejection(early.write.executeAsAgent([IDS.early, [pay("merchantA", 1)]]));
      expectViolation(
        decodeGuardrailViolation(e1, opts()),
        { name: "AgentNotYetValid", agentId: IDS.early, validAfter: AGENTS_START },
        "Agent 0x0000…0004 may act only from 2026-12-01 00:00 UTC (in 3 d 3 h).",
      );
      const late = await w.as(KEYS.late);
      const e2 = await rejection(late.write.executeAsAgent([IDS.late, [pay("merchantA", 1)]]));
      expectViolation(
        decodeGuardrailViolation(e2, opts()),
        { name: "AgentExpired", agentId: IDS.late, validUntil: LATE_END },
        "Agent 0x0000…0005's permission expired at 2026-11-27 13:00 UTC (7 h 48 min ago).",
      );
    });

    it("explains a call outside the active hours and, with the policy, when the agent may act next", async function () {
      const agent = await w.as(KEYS.hours);
      const e = await rejection(agent.write.executeAsAgent([IDS.hours, [pay("merchantA", 1)]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "OutsideActiveHours", agentId: IDS.hours, hourOfWeek: 116 },
        "The agent may not act during Fri 20:00-21:00 UTC, outside its active hours.",
      );
      expectViolation(
        await explainGuardrailViolation(w.publicClient, e, { address: w.accountAddress, now: T }),
        { nextAllowedAt: BigInt(Date.parse("2026-11-30T09:00:00Z") / 1000) },
        "The agent may not act during Fri 20:00-21:00 UTC, outside its active hours; it may act next at 2026-11-30 09:00 UTC (in 2 d 12 h).",
      );
    });

    it("explains the call limit", async function () {
      const agent = await w.as(KEYS.calls);
      const e = await rejection(agent.write.executeAsAgent([IDS.calls, [pay("merchantA", 1), pay("merchantB", 1)]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "CallLimitExceeded", limit: 1n, resetsAt: MIDNIGHT },
        "The batch would exceed the call limit per period of 1 call, resets in 3 h 12 min (2026-11-28 00:00 UTC).",
      );
      const explained = await explainGuardrailViolation(w.publicClient, e, { address: w.accountAddress, now: T });
      expect(explained!.message).to.equal(
        "The batch would exceed the daily call limit of 1 call, resets in 3 h 12 min (2026-11-28 00:00 UTC).",
      );
    });

    it("explains a token call that fails", async function () {
      const agent = await w.as(KEYS.noCode);
      const call = { ...pay("merchantA", 1), target: NO_CODE_TOKEN };
      const e = await rejection(agent.write.executeAsAgent([IDS.noCode, [call]]));
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "TokenCallFailed", agentId: IDS.noCode, token: NO_CODE_TOKEN },
        "The call to token 0x0000…dEaD failed (it returned false or has no code), so nothing was paid.",
      );
    });

    it("explains a merchant that calls back into the account", async function () {
      const agent = await w.as(KEYS.reentry);
      const e = await rejection(
        agent.write.executeAsAgent([IDS.reentry, [{ target: REENTRANT, value: 0n, callData: "0x" }]]),
      );
      expectViolation(
        decodeGuardrailViolation(e, opts()),
        { name: "AgentReentrancy" },
        "The account refused a call back into it while an agent batch was running.",
      );
    });

    it("decodes simulate (CallExecutionError) and gas estimation (EstimateGasExecutionError) failures too", async function () {
      const data = encodeFunctionData({
        abi: agentAccountAbi,
        functionName: "executeAsAgent",
        args: [w.agentId, [pay("merchantA", 30)]],
      });
      const call = await rejection(w.publicClient.call({ account: w.addr.agent, to: w.accountAddress, data }));
      expect((call as Error).name).to.equal("CallExecutionError");
      const estimate = await rejection(
        w.publicClient.estimateGas({ account: w.addr.agent, to: w.accountAddress, data }),
      );
      expect((estimate as Error).name).to.equal("EstimateGasExecutionError");
      for (const e of [call, estimate]) {
        expectViolation(
          decodeGuardrailViolation(e, opts()),
          { name: "PerPaymentCapExceeded", amount: USDC(30) },
          "Payment of 30.00 USDC is over the per-payment cap of 25.00 USDC.",
        );
      }
      const simulated = await rejection(
        w.publicClient.simulateContract({
          account: w.addr.agent,
          address: w.accountAddress,
          abi: agentAccountAbi,
          functionName: "executeAsAgent",
          args: [w.agentId, [pay("merchantA", 30)]],
        }),
      );
      expect(decodeGuardrailViolation(simulated, opts())!.message).to.equal(
        `Payment of 30.00 USDC to ${MERCHANT_A} is over the per-payment cap of 25.00 USDC.`,
      );
    });
  });

  describe("UserOperations refused in validation (handleOps reverts)", function () {
    const refuse = async (p: Promise<unknown>, fields: Partial<GuardrailViolation>, message: string) => {
      const e = await rejection(p);
      expectViolation(decodeGuardrailViolation(e, opts()), fields, message);
      return e;
    };

    it("unwraps FailedOpWithRevert (AA23) into the account's error, with the op's merchant", async function () {
      await refuse(
        w.handleOps([await w.agentOp([pay("merchantA", 30)])]),
        { name: "PerPaymentCapExceeded", aaCode: "AA23", opIndex: 0n, merchant: w.addr.merchantA },
        `Payment of 30.00 USDC to ${MERCHANT_A} is over the per-payment cap of 25.00 USDC.`,
      );
      await refuse(
        w.handleOps([await w.agentOp([pay("stranger", 1)])]),
        { name: "MerchantNotAllowed", aaCode: "AA23" },
        `${STRANGER} is not one of the agent's merchants, so the agent may not pay it.`,
      );
      await refuse(
        w.handleOps([await w.agentOp([{ ...pay("merchantA", 1), target: w.addr.stranger }])]),
        { name: "TokenNotAllowed", aaCode: "AA23" },
        `The agent may not pay with token ${STRANGER}: it is not one of the tokens in its policy.`,
      );
      await refuse(
        w.handleOps([await w.agentOp([])]),
        { name: "CallNotAllowed", aaCode: "AA23" },
        "An empty batch is not allowed: give the agent at least one call.",
      );
    });

    it("explains the UserOperation-only checks: nonce key, paymaster, gas budget", async function () {
      await refuse(
        w.handleOps([await w.agentOp([pay("merchantA", 1)], { nonce: nonceFor(5n) })]),
        { name: "WrongNonceKey", aaCode: "AA23", nonceKey: 5n },
        "The UserOperation uses nonce key 0x5, but the agent must use its own nonce key 0x1 (the low 192 bits of its agentId).",
      );
      const paymasterAndData = `${w.addr.stranger}${"00".repeat(32)}` as Hex;
      await refuse(
        w.handleOps([await w.agentOp([pay("merchantA", 1)], { fields: { paymasterAndData } })]),
        { name: "PaymasterNotAllowed", aaCode: "AA23", paymaster: w.addr.stranger },
        `Paymaster ${STRANGER} is not allowed for agents; the owner can allow it with setAgentPaymaster.`,
      );
      const e = await refuse(
        w.handleOps([await w.agentOp([pay("merchantA", 1)], { agentId: IDS.gas, signer: KEYS.gas })]),
        { name: "GasBudgetExceeded", aaCode: "AA23", required: 2_120_000_000_000_000n, remaining: 1000n },
        "The UserOperation may cost up to 0.00212 ETH in gas, but the agent has only 0.000000000000001 ETH of its gas budget left.",
      );
      const explained = await explainGuardrailViolation(w.publicClient, e, { address: w.accountAddress, now: T });
      expect(explained!.message).to.equal(
        "The UserOperation may cost up to 0.00212 ETH in gas, but the agent has only 0.000000000000001 ETH of its 0.000000000000001 ETH gas budget left.",
      );
    });

    it("explains paused and revoked agents in validation", async function () {
      await w.account.write.pauseAgents();
      await refuse(
        w.handleOps([await w.agentOp([pay("merchantA", 1)])]),
        { name: "AgentsPaused", aaCode: "AA23" },
        "All agents of this account are paused; the owner must unpause them before any agent can act.",
      );
      await w.account.write.unpauseAgents();
      await w.account.write.revokeAgent([w.agentId]);
      await refuse(
        w.handleOps([await w.agentOp([pay("merchantA", 1)])]),
        { name: "AgentIsRevoked", aaCode: "AA23", agentId: w.agentId },
        "Agent 0x0000…0001 was revoked and can never act again.",
      );
    });

    it("explains AA22 as the agent's validity window, with the window when it can read the policy", async function () {
      const e = await refuse(
        w.handleOps([await w.agentOp([pay("merchantA", 1)], { agentId: IDS.early, signer: KEYS.early })]),
        { name: "UserOperationRejected", aaCode: "AA22", agentId: IDS.early, reason: "AA22 expired or not due" },
        "The EntryPoint rejected the UserOperation (AA22): it is outside the agent's validity window.",
      );
      const explained = await explainGuardrailViolation(w.publicClient, e, { address: w.accountAddress, now: T });
      expect(explained!.message).to.equal(
        "The EntryPoint rejected the UserOperation (AA22): it is outside the agent's validity window (valid from 2026-12-01 00:00 UTC).",
      );
      const late = await rejection(
        w.handleOps([await w.agentOp([pay("merchantA", 1)], { agentId: IDS.late, signer: KEYS.late })]),
      );
      expect(
        (await explainGuardrailViolation(w.publicClient, late, { address: w.accountAddress, now: T }))!.message,
      ).to.equal(
        "The EntryPoint rejected the UserOperation (AA22): it is outside the agent's validity window (valid until 2026-11-27 13:00 UTC).",
      );
    });

    it("explains AA24: a key that is not the agent's, or an agent that was never granted", async function () {
      await refuse(
        w.handleOps([await w.agentOp([pay("merchantA", 1)], { signer: ROLES.stranger })]),
        { name: "UserOperationRejected", aaCode: "AA24", agentId: w.agentId },
        "The EntryPoint rejected the UserOperation (AA24): it is not signed by a current agent key.",
      );
      await refuse(
        w.handleOps([await w.agentOp([pay("merchantA", 1)], { agentId: agentIdFor(99) })]),
        { name: "UserOperationRejected", aaCode: "AA24", agentId: agentIdFor(99) },
        "The EntryPoint rejected the UserOperation (AA24): it is not signed by a current agent key.",
      );
    });

    it("explains a UserOperation whose executeAsAgent callData is malformed", async function () {
      const op = await w.agentOp([]);
      const callData = `${w.agentCallData(w.agentId, []).slice(0, 10)}${"00".repeat(40)}` as Hex;
      const malformed = await w.sign({ ...op, callData }, ROLES.agent);
      await refuse(
        w.handleOps([malformed]),
        { name: "MalformedAgentCallData", aaCode: "AA23" },
        "The UserOperation's callData calls executeAsAgent but its arguments are not a valid ABI encoding.",
      );
    });

    it("explains an EntryPoint require message (AA93) as an EntryPoint refusal", async function () {
      await refuse(
        w.handleOps([await w.agentOp([pay("merchantA", 1)], { fields: { paymasterAndData: "0x1234" } })]),
        { name: "UserOperationRejected", aaCode: "AA93", reason: "AA93 invalid paymasterAndData" },
        "The EntryPoint rejected the UserOperation (AA93): its paymasterAndData is malformed.",
      );
    });
  });

  describe("UserOperations refused at execution (UserOperationRevertReason in the receipt)", function () {
    const refusedAtExecution = async (receipt: Parameters<typeof decodeUserOperationReceipt>[0]) => {
      expect(receipt).to.have.property("status", "success");
      return decodeUserOperationReceipt(receipt, opts());
    };

    it("explains a payment over the period cap, and names the merchant when it can read the bundle", async function () {
      const receipt = await w.handleOps([await w.agentOp([pay("merchantA", 25)])]);
      const v = await refusedAtExecution(receipt);
      expectViolation(
        v,
        { name: "PeriodCapExceeded", amount: USDC(25), remaining: USDC(20), resetsAt: MIDNIGHT },
        "Payment of 25.00 USDC would exceed the period cap: 20.00 USDC left, resets in 3 h 12 min (2026-11-28 00:00 UTC).",
      );
      expect(v!.userOpHash).to.match(/^0x[0-9a-f]{64}$/);
      const explained = await explainGuardrailViolation(w.publicClient, receipt, { address: w.accountAddress, now: T });
      expectViolation(
        explained,
        { name: "PeriodCapExceeded", merchant: w.addr.merchantA },
        `Payment of 25.00 USDC to ${MERCHANT_A} would exceed the daily cap: 20.00 of 100.00 USDC left, resets in 3 h 12 min (2026-11-28 00:00 UTC).`,
      );
      // the receipt passed to decodeGuardrailViolation gives the same
      expect(decodeGuardrailViolation(receipt, opts())!.message).to.equal(v!.message);
    });

    it("explains the lifetime cap, the active hours, the call limit and a failing token at execution", async function () {
      const cases: [Hex, number, ReturnType<typeof pay>[], string][] = [
        [IDS.lifetime, KEYS.lifetime, [pay("merchantA", 10)], "LifetimeCapExceeded"],
        [IDS.hours, KEYS.hours, [pay("merchantA", 1)], "OutsideActiveHours"],
        [IDS.calls, KEYS.calls, [pay("merchantA", 1), pay("merchantB", 1)], "CallLimitExceeded"],
        [IDS.noCode, KEYS.noCode, [{ ...pay("merchantA", 1), target: NO_CODE_TOKEN }], "TokenCallFailed"],
      ];
      const messages = [];
      for (const [agentId, signer, calls, name] of cases) {
        const v = await refusedAtExecution(await w.handleOps([await w.agentOp(calls, { agentId, signer })]));
        expect(v!.name).to.equal(name);
        messages.push(v!.message);
      }
      expect(messages).to.deep.equal([
        `Payment of 10.00 USDC would exceed the lifetime cap: 0.00 USDC left, and it never resets.`,
        "The agent may not act during Fri 20:00-21:00 UTC, outside its active hours.",
        "The batch would exceed the call limit per period of 1 call, resets in 3 h 12 min (2026-11-28 00:00 UTC).",
        "The call to token 0x0000…dEaD failed (it returned false or has no code), so nothing was paid.",
      ]);
    });

    it("explains a rotation earlier in the same bundle", async function () {
      const rotate = encodeFunctionData({
        abi: agentAccountAbi,
        functionName: "rotateAgentKey",
        args: [w.agentId, w.addr.newKey],
      });
      const op = await w.agentOp([pay("merchantA", 1)]);
      const r1 = await w.handleOps([await w.ownerOp(rotate), op]);
      expectViolation(
        await refusedAtExecution(r1),
        { name: "AgentUnknown", key: w.addr.agent },
        `Key ${AGENT_KEY} is not the agent's current key (it was never granted, was rotated away, or the agent was revoked).`,
      );
    });

    it("explains a revocation and a pause earlier in the same bundle", async function () {
      const revoke = encodeFunctionData({ abi: agentAccountAbi, functionName: "revokeAgent", args: [IDS.calls] });
      const pause = encodeFunctionData({ abi: agentAccountAbi, functionName: "pauseAgents" });
      const ownerNonce = (await w.entryPoint.read.getNonce([w.accountAddress, 0n])) as bigint;
      const ops = [
        await w.ownerOp(revoke, { nonce: ownerNonce }),
        await w.agentOp([pay("merchantA", 1)], { agentId: IDS.calls, signer: KEYS.calls }),
        await w.ownerOp(pause, { nonce: ownerNonce + 1n }),
        await w.agentOp([pay("merchantA", 1)]),
      ];
      const receipt = await w.handleOps(ops);
      const logs = parseEventLogs({
        abi: entryPointV08Abi,
        logs: receipt.logs,
        eventName: "UserOperationRevertReason",
      });
      expect(logs).to.have.length(2);
      const [revoked, paused] = logs.map((l) =>
        decodeUserOperationReceipt(receipt, { ...opts(), userOpHash: l.args.userOpHash }),
      );
      expectViolation(
        revoked,
        { name: "AgentIsRevoked", agentId: IDS.calls },
        "Agent 0x0000…0003 was revoked and can never act again.",
      );
      expectViolation(
        paused,
        { name: "AgentsPaused" },
        "All agents of this account are paused; the owner must unpause them before any agent can act.",
      );
    });

    it("reads a bundler's UserOperation receipt (its own logs, the transaction receipt, or its reason)", async function () {
      const receipt = await w.handleOps([await w.agentOp([pay("merchantA", 25)])]);
      const [event] = parseEventLogs({
        abi: entryPointV08Abi,
        logs: receipt.logs,
        eventName: "UserOperationRevertReason",
      });
      const { userOpHash, revertReason } = event.args;
      const message =
        "Payment of 25.00 USDC would exceed the period cap: 20.00 USDC left, resets in 3 h 12 min (2026-11-28 00:00 UTC).";
      const shapes = [
        { userOpHash, success: false, logs: [event], receipt },
        { userOpHash, success: false, logs: [], receipt },
        { userOpHash, success: false, logs: [], reason: revertReason, receipt: { logs: [] } },
      ];
      for (const shape of shapes) {
        expectViolation(decodeUserOperationReceipt(shape, opts()), { name: "PeriodCapExceeded", userOpHash }, message);
      }
      // an op of another hash in the same receipt is not this one
      expect(decodeUserOperationReceipt(receipt, { ...opts(), userOpHash: keccak256("0x01") })).to.equal(undefined);
    });

    it("returns undefined for a receipt where every op succeeded", async function () {
      const receipt = await w.handleOps([await w.agentOp([pay("merchantA", 5)])]);
      expect(decodeUserOperationReceipt(receipt, opts())).to.equal(undefined);
      expect(decodeGuardrailViolation(receipt, opts())).to.equal(undefined);
    });

    it("explains a merchant that calls back into the account at execution", async function () {
      const receipt = await w.handleOps([
        await w.agentOp([{ target: REENTRANT, value: 0n, callData: "0x" }], {
          agentId: IDS.reentry,
          signer: KEYS.reentry,
        }),
      ]);
      expectViolation(
        await refusedAtExecution(receipt),
        { name: "AgentReentrancy" },
        "The account refused a call back into it while an agent batch was running.",
      );
    });
  });

  describe("owner and grant errors", function () {
    it("explains every refusal of the owner functions", async function () {
      const stranger = await w.as(ROLES.stranger);
      const base = policy({ limits: [], merchants: [] });
      const cases: [() => Promise<unknown>, Partial<GuardrailViolation>, string][] = [
        [
          () => w.account.write.grantAgent([agentIdFor(50), w.addr.agent2, { ...base, period: 0 }]),
          { name: "InvalidPolicy", reason: "period must be greater than 0" },
          "The policy was refused: period must be greater than 0.",
        ],
        [
          () => w.account.write.grantAgent([w.agentId, w.addr.agent2, base]),
          { name: "AgentAlreadyExists", agentId: w.agentId },
          "Agent 0x0000…0001 already exists, was revoked, or shares its nonce key (low 192 bits) with an agent granted before; choose another agentId.",
        ],
        [
          () => w.account.write.revokeAgent([agentIdFor(77)]),
          { name: "AgentNotFound", agentId: agentIdFor(77) },
          "Agent 0x0000…004d was never granted on this account.",
        ],
        [
          () => w.account.write.grantAgent([agentIdFor(50), w.addr.owner, base]),
          { name: "InvalidAgentKey", key: w.addr.owner },
          "0x7099…79C8 cannot be an agent key: it is the zero address, the owner or the account itself.",
        ],
        [
          () => w.account.write.grantAgent([agentIdFor(50), w.addr.agent, base]),
          { name: "AgentKeyInUse", key: w.addr.agent },
          `Key ${AGENT_KEY} is already registered or was retired (a key serves one agent, once); use a fresh key.`,
        ],
        [
          () => stranger.write.pauseAgents(),
          { name: "NotAuthorized", caller: w.addr.stranger },
          `${STRANGER} may not call this function (only the owner may, or the guardian to pause agents and revoke an agent).`,
        ],
      ];
      for (const [p, fields, message] of cases)
        expectViolation(decodeGuardrailViolation(await rejection(p()), opts()), fields, message);
    });

    it("explains an expired grant and a grant not signed by the owner", async function () {
      const p = policy({ limits: [], merchants: [] });
      const chainId = await w.publicClient.getChainId();
      const typed = (deadline: bigint) =>
        getAgentGrantTypedData({
          address: w.accountAddress,
          chainId,
          agentId: agentIdFor(60),
          key: w.addr.agent2,
          policy: p,
          nonce: 0n,
          deadline,
        });
      const past = T - 60n;
      const expired = await rejection(
        w.account.write.grantAgentBySig([
          agentIdFor(60),
          w.addr.agent2,
          p,
          past,
          await hdKey(ROLES.owner).signTypedData(typed(past)),
        ]),
      );
      expectViolation(
        decodeGuardrailViolation(expired, opts()),
        { name: "GrantExpired", deadline: past },
        "The signed grant expired at 2026-11-27 20:47 UTC (1 min ago); ask the owner to sign a new one.",
      );
      const later = T + 3600n;
      const forged = await rejection(
        w.account.write.grantAgentBySig([
          agentIdFor(60),
          w.addr.agent2,
          p,
          later,
          await hdKey(ROLES.stranger).signTypedData(typed(later)),
        ]),
      );
      expectViolation(
        decodeGuardrailViolation(forged, opts()),
        { name: "InvalidGrantSignature" },
        "The grant is not signed by the owner, or its signature was already used; ask the owner to sign it again with the current grant nonce.",
      );
    });
  });

  describe("bundler JSON-RPC errors (Alto shapes: no data, the revert in the message)", function () {
    let server: Server;
    let url: string;
    let reply: { code: number; message: string };

    before(async function () {
      server = createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
          const { id } = JSON.parse(body) as { id: number };
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ jsonrpc: "2.0", id, error: reply }));
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(function () {
      server.close();
    });

    const err = (name: string, args: readonly unknown[]) =>
      encodeErrorResult({ abi: agentAccountAbi, errorName: name as never, args: args as never });

    /** What viem's bundler client throws for `reply`, from a real estimateUserOperationGas / sendUserOperation call. */
    async function bundlerError(method: "estimate" | "send"): Promise<unknown> {
      const bundler = createBundlerClient({ transport: http(url), chain: undefined });
      const op = {
        sender: w.accountAddress,
        nonce: nonceFor(1n),
        callData: w.agentCallData(w.agentId, [pay("merchantA", 30)]),
        callGasLimit: 500_000n,
        verificationGasLimit: 500_000n,
        preVerificationGas: 60_000n,
        maxFeePerGas: 2_000_000_000n,
        maxPriorityFeePerGas: 1_000_000_000n,
        signature: "0x" as Hex,
        entryPointAddress: w.entryPoint.address,
      };
      return method === "estimate"
        ? rejection(bundler.estimateUserOperationGas(op as never))
        : rejection(bundler.sendUserOperation(op as never));
    }

    it("decodes -32500 'AA23 reverted 0x<error>' from the message", async function () {
      reply = {
        code: -32500,
        message: `UserOperation reverted with reason: AA23 reverted ${err("PerPaymentCapExceeded", [w.agentId, w.usdc.address, USDC(30), USDC(25)])}`,
      };
      for (const m of ["send", "estimate"] as const) {
        const e = await bundlerError(m);
        expect((e as Error).name).to.equal("UserOperationExecutionError");
        expectViolation(
          decodeGuardrailViolation(e, opts()),
          { name: "PerPaymentCapExceeded", aaCode: "AA23", merchant: w.addr.merchantA },
          `Payment of 30.00 USDC to ${MERCHANT_A} is over the per-payment cap of 25.00 USDC.`,
        );
      }
    });

    it("decodes -32521 'reverted during simulation with reason: 0x<error>'", async function () {
      reply = {
        code: -32521,
        message: `UserOperation reverted during simulation with reason: ${err("PeriodCapExceeded", [w.agentId, w.usdc.address, USDC(30), USDC(20), MIDNIGHT])}`,
      };
      expectViolation(
        decodeGuardrailViolation(await bundlerError("estimate"), opts()),
        { name: "PeriodCapExceeded", remaining: USDC(20), resetsAt: MIDNIGHT },
        `Payment of 30.00 USDC to ${MERCHANT_A} would exceed the period cap: 20.00 USDC left, resets in 3 h 12 min (2026-11-28 00:00 UTC).`,
      );
    });

    it("explains AA codes without data, and ERC-7562 refusals (-32502)", async function () {
      reply = { code: -32500, message: "UserOperation reverted with reason: AA24 signature error" };
      expectViolation(
        decodeGuardrailViolation(await bundlerError("send"), opts()),
        { name: "UserOperationRejected", aaCode: "AA24", agentId: w.agentId },
        "The EntryPoint rejected the UserOperation (AA24): it is not signed by a current agent key.",
      );
      reply = { code: -32500, message: "UserOperation reverted with reason: AA21 didn't pay prefund" };
      expectViolation(
        decodeGuardrailViolation(await bundlerError("send"), opts()),
        { name: "UserOperationRejected", aaCode: "AA21" },
        "The EntryPoint rejected the UserOperation (AA21): the account's EntryPoint deposit cannot cover the op's maximum gas cost; the owner must top it up.",
      );
      reply = { code: -32502, message: "account uses banned opcode: TIMESTAMP" };
      expectViolation(
        decodeGuardrailViolation(await bundlerError("send"), opts()),
        { name: "BundlerRejected", rpcCode: -32502 },
        "The bundler refused the UserOperation: its validation breaks the ERC-7562 rules (a banned opcode or storage access).",
      );
    });

    it("decodes the raw JSON-RPC error object and the bare message too", async function () {
      const message = `UserOperation reverted with reason: AA23 reverted ${err("AgentsPaused", [])}`;
      expect(decodeGuardrailViolation({ code: -32500, message }, opts())).to.deep.include({
        name: "AgentsPaused",
        aaCode: "AA23",
      });
      expect(decodeGuardrailViolation(message, opts())).to.deep.include({ name: "AgentsPaused", aaCode: "AA23" });
    });
  });

  describe("other shapes", function () {
    it("decodes Error(string) and Panic(uint256), raw or nested in causes", async function () {
      const error = encodeErrorResult({
        abi: [{ type: "error", name: "Error", inputs: [{ type: "string", name: "message" }] }],
        errorName: "Error",
        args: ["insufficient funds"],
      });
      expectViolation(
        decodeGuardrailViolation(error),
        { name: "Error", reason: "insufficient funds" },
        "The call reverted: insufficient funds.",
      );
      const empty = encodeErrorResult({
        abi: [{ type: "error", name: "Error", inputs: [{ type: "string", name: "message" }] }],
        errorName: "Error",
        args: [""],
      });
      expect(decodeGuardrailViolation(empty)!.message).to.equal("The call reverted without a reason.");
      const panic = `0x4e487b71${encodeAbiParameters([{ type: "uint256" }], [0x11n]).slice(2)}` as Hex;
      expectViolation(
        decodeGuardrailViolation(new Error("outer", { cause: new Error("middle", { cause: { data: panic } }) })),
        { name: "Panic", panicCode: 0x11n },
        "The call failed with a panic: an arithmetic operation overflowed or underflowed (code 0x11).",
      );
    });

    it("finds a guardrail error nested deep in causes", async function () {
      const real = await rejection(w.asAgent.write.executeAsAgent([w.agentId, [pay("merchantA", 30)]]));
      const wrapped = new Error("payment failed", { cause: new Error("agent step failed", { cause: real }) });
      expect(decodeGuardrailViolation(wrapped, opts())).to.deep.include({
        name: "PerPaymentCapExceeded",
        amount: USDC(30),
      });
    });

    it("decodes other known errors by name (an ERC-20's own error)", async function () {
      const data = encodeErrorResult({
        abi: w.usdc.abi,
        errorName: "ERC20InsufficientBalance",
        args: [w.accountAddress, 5n, 30n],
      });
      const v = decodeGuardrailViolation(data);
      expect(v).to.deep.include({ name: "ERC20InsufficientBalance", args: [w.accountAddress, 5n, 30n] });
      expect(v!.message).to.equal("The call reverted with ERC20InsufficientBalance(0x03BD…858e, 5, 30).");
    });

    it("gives undefined for anything it cannot decode, and never throws", async function () {
      const circular: Record<string, unknown> = { message: "loop" };
      circular.cause = circular;
      const hostile = {
        get cause(): unknown {
          throw new Error("no");
        },
      };
      const unknownSelector = "0xdeadbeef";
      for (const x of [
        undefined,
        null,
        42,
        "",
        "hello",
        "0x",
        "0x1234",
        unknownSelector,
        {},
        [],
        new Error("boom"),
        circular,
        hostile,
        { logs: "nope" },
        { logs: [{ address: zeroAddress, topics: [keccak256(toHex("nope"))], data: "0x" }] },
        Symbol("s"),
      ]) {
        expect(decodeGuardrailViolation(x)).to.equal(undefined);
      }
      expect(
        await explainGuardrailViolation(w.publicClient, new Error("boom"), { address: w.accountAddress }),
      ).to.equal(undefined);
    });
  });

  describe("guardrail error classes", function () {
    it("builds the class of each violation, with the sentence as shortMessage", async function () {
      const e = await rejection(w.asAgent.write.executeAsAgent([w.agentId, [pay("merchantA", 25)]]));
      const v = decodeGuardrailViolation(e, opts())!;
      const err = toGuardrailError(v, { cause: e as Error });
      expect(err).to.be.instanceOf(PeriodCapExceededError);
      expect(err).to.be.instanceOf(GuardrailViolationError);
      expect(err.name).to.equal("PeriodCapExceededError");
      expect(err.shortMessage).to.equal(v.message);
      expect(err.violation).to.equal(v);
      expect(err.cause).to.equal(e);
      expect(toGuardrailError({ name: "AgentsPaused", message: "m" })).to.be.instanceOf(AgentsPausedError);
      expect(toGuardrailError({ name: "UserOperationRejected", aaCode: "AA22", message: "m" })).to.be.instanceOf(
        UserOperationRejectedError,
      );
      // the error decodes back to its own violation
      expect(decodeGuardrailViolation(err)).to.equal(v);
      expect(decodeGuardrailViolation(new Error("wrapped", { cause: err }), opts())).to.deep.equal(v);
      const other = toGuardrailError({ name: "Error", reason: "x", message: "m" });
      expect(other.constructor).to.equal(GuardrailViolationError);
    });
  });
});

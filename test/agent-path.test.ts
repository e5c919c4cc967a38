// The agent path (SPEC sections 3, 5, 6): every agent-side refusal, on the direct path and as a UserOperation through
// the real EntryPoint, with its exact error, and nothing moved or counted; then the order in which rules win.
import { expect } from "chai";
import { network } from "hardhat";
import {
  type Hex,
  concat,
  encodeFunctionData,
  getAddress,
  padHex,
  parseEther,
  parseGwei,
  toFunctionSelector,
} from "viem";

import {
  DAY,
  ETH,
  EXTRA_KEY_A,
  HOUR,
  NO_CODE_TOKEN,
  SEL,
  WEEK,
  type Attempt,
  type RefusalCase,
  type World,
  BATCH_MODE,
  deployAgentWorld,
  encodeErr,
  encodeExecutions,
  err,
  expectError,
  hourOfWeek,
  hoursMask,
  onBothPaths,
  paymasterData,
  pays,
  readState,
  refusesOnBothPaths,
  sendBundle,
} from "./agent-shared.js";
import { ENTRY_POINT_ADDRESS, PERMIT2, ROLES, USDC, agentIdFor, maxCost, nonceFor } from "./helpers/stopline.js";

const conn = await network.create();
async function agentWorld() {
  return deployAgentWorld(conn);
}
const load = () => conn.networkHelpers.loadFixture(agentWorld);
const refuses = (title: string, c: RefusalCase) => refusesOnBothPaths(title, load, c);

const usdcTransfer = (w: World, to: Hex, amount: bigint) => w.erc20(w.usdc.address, "transfer", to, amount);
const payDirect = (w: World, calls: Attempt["calls"], at?: bigint) => pays(w, "direct", { calls, at });
const update = (w: World, overrides: Partial<World["policy1"]>) =>
  w.account.write.updatePolicy([w.agentId, { ...w.policy1, ...overrides }]);
const withUsdcLimit = (w: World, perPayment: bigint, perPeriod: bigint, lifetime: bigint) =>
  w.policy1.limits.map((l) => (l.token === w.usdc.address ? { ...l, perPayment, perPeriod, lifetime } : l));
const GWEI_10K = parseGwei("10000");

describe("agent path: SPEC section 6 refusals on both paths", function () {
  describe("AgentsPaused", function () {
    refuses("refuses every agent action while the owner has paused agents", {
      setup: async (w) => void (await w.account.write.pauseAgents()),
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(10))] }),
      direct: () => err("AgentsPaused"),
      userOp: { validation: () => err("AgentsPaused") },
    });
    refuses("refuses every agent action while the guardian has paused agents", {
      setup: async (w) => {
        await w.account.write.setGuardian([w.addr.guardian]);
        await w.account.write.pauseAgents({ account: w.wallets.guardian.account });
      },
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(10))] }),
      direct: () => err("AgentsPaused"),
      userOp: { validation: () => err("AgentsPaused") },
    });
  });

  describe("AgentIsRevoked", function () {
    refuses("refuses a revoked agent's own key", {
      setup: async (w) => void (await w.account.write.revokeAgent([w.agentId])),
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(10))] }),
      direct: (w) => err("AgentIsRevoked", w.agentId),
      userOp: { validation: (w) => err("AgentIsRevoked", w.agentId) },
    });
    refuses("refuses a revoked agent whoever calls or signs", {
      setup: async (w) => void (await w.account.write.revokeAgent([w.agentId])),
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(10))], signer: ROLES.stranger }),
      direct: (w) => err("AgentIsRevoked", w.agentId),
      userOp: { validation: (w) => err("AgentIsRevoked", w.agentId) },
    });
  });

  describe("AgentUnknown", function () {
    refuses("refuses a key that is not the agent's (a stranger)", {
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(10))], signer: ROLES.stranger }),
      direct: (w) => err("AgentUnknown", w.addr.stranger),
      userOp: { entryPoint: "AA24 signature error" },
      view: "empty",
    });
    refuses("refuses another agent's key acting for this agent", {
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(10))], signer: ROLES.agent2 }),
      direct: (w) => err("AgentUnknown", w.addr.agent2),
      userOp: { entryPoint: "AA24 signature error" },
      view: "empty",
    });
    refuses("refuses a key rotated away", {
      setup: async (w) => void (await w.account.write.rotateAgentKey([w.agentId, w.addr.newKey])),
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(10))] }),
      direct: (w) => err("AgentUnknown", w.addr.agent),
      userOp: { entryPoint: "AA24 signature error" },
      view: "empty",
    });
    refuses("refuses an agent id that was never granted", {
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(10))], agentId: agentIdFor(77) }),
      direct: (w) => err("AgentUnknown", w.addr.agent),
      userOp: { entryPoint: "AA24 signature error" },
      view: () => err("AgentNotFound", agentIdFor(77)),
    });
  });

  describe("CallNotAllowed", function () {
    const cases: [string, (w: World) => Attempt["calls"], (w: World) => ReturnType<typeof err>][] = [
      [
        "a call to the account itself (revokeAgent)",
        (w) => [
          w.call(
            w.accountAddress,
            encodeFunctionData({ abi: w.account.abi, functionName: "revokeAgent", args: [w.agentId2] }),
          ),
        ],
        (w) => err("CallNotAllowed", w.agentId, w.accountAddress, toFunctionSelector("revokeAgent(bytes32)")),
      ],
      [
        "a call to the account itself that only carries ETH",
        (w) => [w.eth(w.accountAddress, 1n)],
        (w) => err("CallNotAllowed", w.agentId, w.accountAddress, SEL.none),
      ],
      [
        "the account's execute (owner batch) from inside an agent batch",
        (w) => [
          w.call(
            w.accountAddress,
            encodeFunctionData({
              abi: w.account.abi,
              functionName: "execute",
              args: [BATCH_MODE, encodeExecutions([usdcTransfer(w, w.addr.stranger, USDC(500))])],
            }),
          ),
        ],
        (w) => err("CallNotAllowed", w.agentId, w.accountAddress, toFunctionSelector("execute(bytes32,bytes)")),
      ],
      [
        "the account's upgradeToAndCall",
        (w) => [
          w.call(
            w.accountAddress,
            encodeFunctionData({
              abi: w.account.abi,
              functionName: "upgradeToAndCall",
              args: [w.usdc.address, "0x"],
            }),
          ),
        ],
        (w) =>
          err("CallNotAllowed", w.agentId, w.accountAddress, toFunctionSelector("upgradeToAndCall(address,bytes)")),
      ],
      [
        "the EntryPoint's withdrawTo",
        (w) => [
          w.call(
            ENTRY_POINT_ADDRESS,
            encodeFunctionData({ abi: w.entryPoint.abi, functionName: "withdrawTo", args: [w.addr.stranger, 1n] }),
          ),
        ],
        (w) => err("CallNotAllowed", w.agentId, ENTRY_POINT_ADDRESS, toFunctionSelector("withdrawTo(address,uint256)")),
      ],
      [
        "the EntryPoint's depositTo carrying ETH",
        (w) => [
          w.call(
            ENTRY_POINT_ADDRESS,
            encodeFunctionData({ abi: w.entryPoint.abi, functionName: "depositTo", args: [w.addr.stranger] }),
            parseEther("0.001"),
          ),
        ],
        (w) => err("CallNotAllowed", w.agentId, ENTRY_POINT_ADDRESS, toFunctionSelector("depositTo(address)")),
      ],
      [
        "Permit2 with approve-shaped calldata",
        (w) => [w.erc20(PERMIT2, "approve", w.addr.merchantA, USDC(1))],
        (w) => err("CallNotAllowed", w.agentId, PERMIT2, SEL.approve),
      ],
      ["address(0) carrying ETH", (w) => [w.eth(ETH, 1n)], (w) => err("CallNotAllowed", w.agentId, ETH, SEL.none)],
      [
        "address(0) with transfer-shaped calldata",
        (w) => [w.erc20(ETH, "transfer", w.addr.merchantA, 1n)],
        (w) => err("CallNotAllowed", w.agentId, ETH, SEL.transfer),
      ],
      [
        "transferFrom on a listed token",
        (w) => [
          w.call(
            w.usdc.address,
            encodeFunctionData({
              abi: w.usdc.abi,
              functionName: "transferFrom",
              args: [w.accountAddress, w.addr.merchantA, USDC(1)],
            }),
          ),
        ],
        (w) => err("CallNotAllowed", w.agentId, w.usdc.address, SEL.transferFrom),
      ],
      [
        "permit on a listed token",
        (w) => [
          w.call(
            w.usdc.address,
            encodeFunctionData({
              abi: w.usdc.abi,
              functionName: "permit",
              args: [w.accountAddress, w.addr.merchantA, USDC(1), 2n ** 40n, 27, padHex("0x01"), padHex("0x02")],
            }),
          ),
        ],
        (w) =>
          err(
            "CallNotAllowed",
            w.agentId,
            w.usdc.address,
            toFunctionSelector("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"),
          ),
      ],
      [
        "increaseAllowance on a listed token (68 bytes, another selector)",
        (w) => [
          w.call(
            w.usdc.address,
            concat([
              toFunctionSelector("increaseAllowance(address,uint256)"),
              padHex(w.addr.merchantA),
              padHex("0x01"),
            ]),
          ),
        ],
        (w) =>
          err("CallNotAllowed", w.agentId, w.usdc.address, toFunctionSelector("increaseAllowance(address,uint256)")),
      ],
      [
        "a transfer with one trailing byte (69 bytes)",
        (w) => [w.call(w.usdc.address, concat([usdcTransfer(w, w.addr.merchantA, USDC(1)).callData, "0x00"]))],
        (w) => err("CallNotAllowed", w.agentId, w.usdc.address, SEL.transfer),
      ],
      [
        "an approve with a trailing word (100 bytes)",
        (w) => [
          w.call(
            w.usdc.address,
            concat([w.erc20(w.usdc.address, "approve", w.addr.merchantA, USDC(1)).callData, padHex("0x01")]),
          ),
        ],
        (w) => err("CallNotAllowed", w.agentId, w.usdc.address, SEL.approve),
      ],
      [
        "a transfer cut to 67 bytes",
        (w) => [
          w.call(w.usdc.address, usdcTransfer(w, w.addr.merchantA, USDC(1)).callData.slice(0, 2 + 67 * 2) as Hex),
        ],
        (w) => err("CallNotAllowed", w.agentId, w.usdc.address, SEL.transfer),
      ],
      [
        "a transfer whose recipient word has dirty upper bits",
        (w) => [
          w.call(
            w.usdc.address,
            concat([SEL.transfer, `0x000000000000000000000001${w.addr.merchantA.slice(2)}`, padHex("0x01")]),
          ),
        ],
        (w) => err("CallNotAllowed", w.agentId, w.usdc.address, SEL.transfer),
      ],
      [
        "empty calldata to a listed token",
        (w) => [w.call(w.usdc.address, "0x")],
        (w) => err("CallNotAllowed", w.agentId, w.usdc.address, SEL.none),
      ],
      [
        "1-byte calldata to a listed token (selector right-padded)",
        (w) => [w.call(w.usdc.address, "0xa9")],
        (w) => err("CallNotAllowed", w.agentId, w.usdc.address, "0xa9000000"),
      ],
      [
        "3-byte calldata to a listed token (selector right-padded)",
        (w) => [w.call(w.usdc.address, "0xa9059c")],
        (w) => err("CallNotAllowed", w.agentId, w.usdc.address, "0xa9059c00"),
      ],
      [
        "2-byte calldata to a non-merchant (selector right-padded)",
        (w) => [w.call(w.addr.stranger, "0x095e")],
        (w) => err("CallNotAllowed", w.agentId, w.addr.stranger, "0x095e0000"),
      ],
      [
        "a zero-value call with calldata to a non-merchant contract",
        (w) => [w.call(w.weth.address, encodeFunctionData({ abi: w.weth.abi, functionName: "deposit" }))],
        (w) => err("CallNotAllowed", w.agentId, w.weth.address, toFunctionSelector("deposit()")),
      ],
      [
        "a zero-value call with no calldata to a non-merchant",
        (w) => [w.call(w.addr.stranger, "0x")],
        (w) => err("CallNotAllowed", w.agentId, w.addr.stranger, SEL.none),
      ],
      ["an empty batch", () => [], (w) => err("CallNotAllowed", w.agentId, ETH, SEL.none)],
      [
        "a bad call hidden after a good payment",
        (w) => [
          usdcTransfer(w, w.addr.merchantA, USDC(10)),
          w.call(
            w.usdc.address,
            encodeFunctionData({
              abi: w.usdc.abi,
              functionName: "transferFrom",
              args: [w.accountAddress, w.addr.stranger, USDC(10)],
            }),
          ),
        ],
        (w) => err("CallNotAllowed", w.agentId, w.usdc.address, SEL.transferFrom),
      ],
    ];
    for (const [what, calls, e] of cases) {
      refuses(`refuses ${what} with CallNotAllowed`, {
        attempt: (w) => ({ calls: calls(w) }),
        direct: e,
        userOp: { validation: e },
      });
    }
  });

  describe("TokenNotAllowed", function () {
    refuses("refuses a transfer-shaped call to an unlisted token", {
      attempt: (w) => ({ calls: [w.erc20(w.other.address, "transfer", w.addr.merchantA, USDC(1))] }),
      direct: (w) => err("TokenNotAllowed", w.agentId, w.other.address),
      userOp: { validation: (w) => err("TokenNotAllowed", w.agentId, w.other.address) },
    });
    refuses("refuses an approve-shaped call to an unlisted token", {
      attempt: (w) => ({ calls: [w.erc20(w.other.address, "approve", w.addr.merchantA, USDC(1))] }),
      direct: (w) => err("TokenNotAllowed", w.agentId, w.other.address),
      userOp: { validation: (w) => err("TokenNotAllowed", w.agentId, w.other.address) },
    });
    refuses("refuses a transfer-shaped call to an address with no code that is not listed", {
      attempt: (w) => ({ calls: [w.erc20(w.addr.stranger, "transfer", w.addr.merchantA, USDC(1))] }),
      direct: (w) => err("TokenNotAllowed", w.agentId, w.addr.stranger),
      userOp: { validation: (w) => err("TokenNotAllowed", w.agentId, w.addr.stranger) },
    });
    refuses("refuses an ETH payment to a merchant when ETH is not in the agent's limits", {
      attempt: (w) => ({ calls: [w.eth(w.addr.merchantA, 1n)], agentId: w.agentId2 }),
      direct: (w) => err("TokenNotAllowed", w.agentId2, ETH),
      userOp: { validation: (w) => err("TokenNotAllowed", w.agentId2, ETH) },
    });
  });

  describe("MerchantNotAllowed", function () {
    refuses("refuses a token transfer to a non-merchant", {
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.stranger, USDC(1))] }),
      direct: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger),
      userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger) },
    });
    refuses("refuses a zero-amount transfer to a non-merchant (no zero-value bypass)", {
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.stranger, 0n)] }),
      direct: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger),
      userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger) },
    });
    refuses("refuses a token approve for a non-merchant spender", {
      attempt: (w) => ({ calls: [w.erc20(w.usdc.address, "approve", w.addr.stranger, USDC(1))] }),
      direct: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger),
      userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger) },
    });
    refuses("refuses ETH sent to a non-merchant", {
      attempt: (w) => ({ calls: [w.eth(w.addr.stranger, 1n)] }),
      direct: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger),
      userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger) },
    });
    refuses("refuses ETH attached to a listed token's transfer to a merchant", {
      attempt: (w) => ({ calls: [{ ...usdcTransfer(w, w.addr.merchantA, USDC(1)), value: 1n }] }),
      direct: (w) => err("MerchantNotAllowed", w.agentId, w.usdc.address),
      userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, w.usdc.address) },
    });
  });

  describe("PerPaymentCapExceeded", function () {
    refuses("refuses a token transfer one unit over the per-payment cap", {
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(25) + 1n)] }),
      direct: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(25) + 1n, USDC(25)),
      userOp: {
        validation: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(25) + 1n, USDC(25)),
      },
    });
    refuses("refuses an approve over the per-payment cap (approving is spending)", {
      attempt: (w) => ({ calls: [w.erc20(w.usdc.address, "approve", w.addr.merchantA, USDC(26))] }),
      direct: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(26), USDC(25)),
      userOp: { validation: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(26), USDC(25)) },
    });
    refuses("refuses an ETH payment one wei over the per-payment cap", {
      attempt: (w) => ({ calls: [w.eth(w.addr.merchantA, parseEther("0.01") + 1n)] }),
      direct: (w) => err("PerPaymentCapExceeded", w.agentId, ETH, parseEther("0.01") + 1n, parseEther("0.01")),
      userOp: {
        validation: (w) => err("PerPaymentCapExceeded", w.agentId, ETH, parseEther("0.01") + 1n, parseEther("0.01")),
      },
    });
    refuses("refuses the second payment of a batch when it alone is over the cap", {
      attempt: (w) => ({
        calls: [usdcTransfer(w, w.addr.merchantA, USDC(25)), usdcTransfer(w, w.addr.merchantB, USDC(30))],
      }),
      direct: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(30), USDC(25)),
      userOp: { validation: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(30), USDC(25)) },
    });
    onBothPaths("pays exactly the per-payment cap in a token and in ETH", async (path) => {
      const w = await load();
      const ethBefore = await w.publicClient.getBalance({ address: w.addr.merchantB });
      await pays(w, path, {
        calls: [usdcTransfer(w, w.addr.merchantA, USDC(25)), w.eth(w.addr.merchantB, parseEther("0.01"))],
      });
      expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(25));
      expect((await w.publicClient.getBalance({ address: w.addr.merchantB })) - ethBefore).to.equal(parseEther("0.01"));
      expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(25), USDC(25)]);
      expect(await w.account.read.spent([w.agentId, ETH])).to.deep.equal([parseEther("0.01"), parseEther("0.01")]);
    });
  });

  describe("AgentPaid", function () {
    onBothPaths("logs every payment of a batch with the agent's running totals", async (path) => {
      const w = await load();
      await pays(w, "direct", { calls: [usdcTransfer(w, w.addr.merchantA, USDC(5))] });
      const from = await w.publicClient.getBlockNumber();
      await pays(w, path, {
        calls: [
          usdcTransfer(w, w.addr.merchantA, USDC(10)),
          w.eth(w.addr.merchantB, 7n),
          w.erc20(w.usdc.address, "approve", w.addr.merchantB, USDC(20)),
        ],
      });
      const logs = await w.account.getEvents.AgentPaid({}, { fromBlock: from + 1n });
      expect(logs.map((l) => l.args)).to.deep.equal([
        {
          agentId: w.agentId,
          token: getAddress(w.usdc.address),
          merchant: getAddress(w.addr.merchantA),
          amount: USDC(10),
          spentInPeriod: USDC(15),
          spentLifetime: USDC(15),
        },
        {
          agentId: w.agentId,
          token: ETH,
          merchant: getAddress(w.addr.merchantB),
          amount: 7n,
          spentInPeriod: 7n,
          spentLifetime: 7n,
        },
        {
          agentId: w.agentId,
          token: getAddress(w.usdc.address),
          merchant: getAddress(w.addr.merchantB),
          amount: USDC(20),
          spentInPeriod: USDC(35),
          spentLifetime: USDC(35),
        },
      ]);
    });
  });

  describe("UserOperation-only rules: WrongNonceKey, PaymasterNotAllowed, GasBudgetExceeded", function () {
    refuses("refuses an agent op on the owner's nonce key 0 with WrongNonceKey", {
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))], nonce: nonceFor(0n) }),
      direct: null,
      userOp: { validation: (w) => err("WrongNonceKey", w.agentId, 0n) },
    });
    refuses("refuses an agent op on another agent's nonce key with WrongNonceKey", {
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))], nonce: nonceFor(2n) }),
      direct: null,
      userOp: { validation: (w) => err("WrongNonceKey", w.agentId, 2n) },
    });
    refuses("refuses an agent op whose paymaster the owner did not allow", {
      attempt: (w) => ({
        calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))],
        fields: { paymasterAndData: paymasterData(w.paymaster.address) },
      }),
      direct: null,
      userOp: { validation: (w) => err("PaymasterNotAllowed", w.agentId, w.paymaster.address) },
    });
    refuses("refuses a paymaster the owner allowed and then disallowed", {
      setup: async (w) => {
        await w.account.write.setAgentPaymaster([w.paymaster.address, true]);
        await w.account.write.setAgentPaymaster([w.paymaster.address, false]);
      },
      attempt: (w) => ({
        calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))],
        fields: { paymasterAndData: paymasterData(w.paymaster.address) },
      }),
      direct: null,
      userOp: { validation: (w) => err("PaymasterNotAllowed", w.agentId, w.paymaster.address) },
    });

    it("lets an allowed paymaster sponsor an agent op: the account charges nothing to the gas budget or its deposit", async function () {
      const w = await load();
      await w.account.write.setAgentPaymaster([w.paymaster.address, true]);
      const before = await readState(w);
      const op = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(10))], {
        fields: { paymasterAndData: paymasterData(w.paymaster.address) },
      });
      const receipt = await w.handleOps([op]);
      const ev = await w.entryPoint.getEvents.UserOperationEvent({}, { blockHash: receipt.blockHash });
      expect(ev).to.have.length(1);
      const args = ev[0].args as { success: boolean; paymaster: Hex; actualGasCost: bigint };
      expect(args.success).to.equal(true);
      expect(getAddress(args.paymaster)).to.equal(getAddress(w.paymaster.address));
      const after = await readState(w);
      expect(after.deposit).to.equal(before.deposit);
      expect(after.paymasterDeposit).to.equal(before.paymasterDeposit - args.actualGasCost);
      expect(after.agents[0].usage).to.deep.equal(before.agents[0].usage);
      expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(10));
      expect(await w.account.read.spent([w.agentId, w.usdc.address])).to.deep.equal([USDC(10), USDC(10)]);
    });

    refuses("refuses the Sodium gas drain (maxFeePerGas of 10,000 gwei, callGasLimit 1) in validation", {
      attempt: (w) => ({
        calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))],
        fields: { maxFeePerGas: GWEI_10K, maxPriorityFeePerGas: GWEI_10K, callGasLimit: 1n },
      }),
      direct: null,
      userOp: {
        validation: (w) => err("GasBudgetExceeded", w.agentId, (500_000n + 1n + 60_000n) * GWEI_10K, parseEther("0.1")),
      },
    });

    it("charges an op's maximum cost to the gas budget and refuses the op that would pass it", async function () {
      const w = await load();
      const probe = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(1))]);
      const cost = maxCost(probe);
      expect(cost).to.equal((500_000n + 500_000n + 60_000n) * 2_000_000_000n);
      // a total of exactly one op's cost
      await update(w, { gasBudget: cost });
      await w.handleOps([probe]);
      expect(await w.account.read.agentUsage([w.agentId])).to.deep.equal([cost, 0n, 0n, w.dayEnd(w.t0)]);
      const next = await w.agentOp([usdcTransfer(w, w.addr.merchantA, USDC(1))]);
      const deposit = await w.deposit();
      const refused = await sendBundle(w, [next]);
      expect(refused.mined).to.equal(false);
      expectError(
        w,
        (refused as { data: Hex | undefined }).data,
        err("FailedOpWithRevert", 0n, "AA23 reverted", encodeErr(w, err("GasBudgetExceeded", w.agentId, cost, 0n))),
      );
      expect(await w.deposit()).to.equal(deposit);
      // raising the total (SPEC: the budget is a total, what was charged still counts)
      await update(w, { gasBudget: 2n * cost });
      await w.handleOps([next]);
      expect(await w.account.read.agentUsage([w.agentId])).to.deep.equal([2n * cost, 0n, 0n, w.dayEnd(w.t0)]);
      expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(2));
    });
  });

  describe("AgentNotYetValid and AgentExpired (inclusive edges)", function () {
    const validAfter = (w: World) => w.t0 + 1_000n;
    const validUntil = (w: World) => w.t0 + 2_000n;
    const setup = async (w: World) =>
      void (await update(w, { validAfter: Number(validAfter(w)), validUntil: Number(validUntil(w)) }));
    refuses("refuses an agent at validAfter - 1", {
      setup,
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))], at: validAfter(w) - 1n }),
      direct: (w) => err("AgentNotYetValid", w.agentId, validAfter(w)),
      userOp: { entryPoint: "AA22 expired or not due" },
    });
    refuses("refuses an agent at validUntil + 1", {
      setup,
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))], at: validUntil(w) + 1n }),
      direct: (w) => err("AgentExpired", w.agentId, validUntil(w)),
      userOp: { entryPoint: "AA22 expired or not due" },
    });
    refuses("refuses an agent a week after validUntil", {
      setup,
      attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))], at: validUntil(w) + WEEK }),
      direct: (w) => err("AgentExpired", w.agentId, validUntil(w)),
      userOp: { entryPoint: "AA22 expired or not due" },
    });
    onBothPaths("lets the agent pay at exactly validAfter and at exactly validUntil", async (path) => {
      const w = await load();
      await setup(w);
      await pays(w, path, { calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))], at: validAfter(w) });
      await pays(w, path, { calls: [usdcTransfer(w, w.addr.merchantA, USDC(2))], at: validUntil(w) });
      expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(3));
    });
  });

  describe("OutsideActiveHours (hour of week, UTC, Monday 00:00 = 0)", function () {
    // Tuesday 22:00 to Wednesday 01:59: hours 46-49, across midnight
    const tuesday = (w: World) => w.monday0 + WEEK + DAY;
    const acrossMidnight = async (w: World) => void (await update(w, { activeHours: hoursMask(46, 47, 48, 49) }));
    // Sunday 22:00 to Monday 01:59: hours 166, 167, 0, 1, across the end of the week
    const nextMonday = (w: World) => w.monday0 + 2n * WEEK;
    const acrossWeekEnd = async (w: World) => void (await update(w, { activeHours: hoursMask(166, 167, 0, 1) }));
    const one = (w: World, at: bigint): Attempt => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))], at });

    it("computes the hour of week as SPEC says", function () {
      expect(hourOfWeek(4n * DAY)).to.equal(0n); // 1970-01-05, a Monday
      expect(hourOfWeek(0n)).to.equal(72n); // 1970-01-01, a Thursday
    });
    refuses("refuses at Tuesday 21:59:59 when the window opens at 22:00 (hour 45)", {
      setup: acrossMidnight,
      attempt: (w) => one(w, tuesday(w) + 22n * HOUR - 1n),
      direct: (w) => err("OutsideActiveHours", w.agentId, 45n),
      userOp: { execution: (w) => err("OutsideActiveHours", w.agentId, 45n) },
    });
    refuses("refuses at Wednesday 02:00:00 when the window closed at 01:59:59 (hour 50)", {
      setup: acrossMidnight,
      attempt: (w) => one(w, tuesday(w) + DAY + 2n * HOUR),
      direct: (w) => err("OutsideActiveHours", w.agentId, 50n),
      userOp: { execution: (w) => err("OutsideActiveHours", w.agentId, 50n) },
    });
    onBothPaths("pays at Tuesday 22:00:00 and at Wednesday 01:59:59 (a window across midnight)", async (path) => {
      const w = await load();
      await acrossMidnight(w);
      await pays(w, path, one(w, tuesday(w) + 22n * HOUR));
      await pays(w, path, one(w, tuesday(w) + DAY + 2n * HOUR - 1n));
      expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(2));
    });
    refuses("refuses at Sunday 21:59:59 when the window opens at 22:00 (hour 165)", {
      setup: acrossWeekEnd,
      attempt: (w) => one(w, nextMonday(w) - 2n * HOUR - 1n),
      direct: (w) => err("OutsideActiveHours", w.agentId, 165n),
      userOp: { execution: (w) => err("OutsideActiveHours", w.agentId, 165n) },
    });
    refuses("refuses at Monday 02:00:00 after a Sunday-to-Monday window (hour 2)", {
      setup: acrossWeekEnd,
      attempt: (w) => one(w, nextMonday(w) + 2n * HOUR),
      direct: (w) => err("OutsideActiveHours", w.agentId, 2n),
      userOp: { execution: (w) => err("OutsideActiveHours", w.agentId, 2n) },
    });
    onBothPaths("pays on Sunday 22:00, Sunday 23:59:59, Monday 00:00 and Monday 01:59:59 (week wrap)", async (path) => {
      const w = await load();
      await acrossWeekEnd(w);
      for (const t of [-2n * HOUR, -1n, 0n, 2n * HOUR - 1n]) await pays(w, path, one(w, nextMonday(w) + t));
      expect(await w.usdc.read.balanceOf([w.addr.merchantA])).to.equal(USDC(4));
    });
  });

  describe("CallLimitExceeded", function () {
    const limit3 = async (w: World) => void (await update(w, { maxCallsPerPeriod: 3 }));
    refuses("counts each call of a batch: refuses a batch of 4 calls under a limit of 3", {
      setup: limit3,
      attempt: (w) => ({ calls: [1n, 2n, 3n, 4n].map((n) => usdcTransfer(w, w.addr.merchantA, n)) }),
      direct: (w, at) => err("CallLimitExceeded", w.agentId, 3n, w.dayEnd(at)),
      userOp: { execution: (w, at) => err("CallLimitExceeded", w.agentId, 3n, w.dayEnd(at)) },
    });
    refuses("counts zero-value merchant calls: refuses a 4th call after a batch of a payment and two pokes", {
      setup: async (w) => {
        await limit3(w);
        await payDirect(w, [usdcTransfer(w, w.addr.merchantA, 1n), w.poke(), w.poke()]);
      },
      attempt: (w) => ({ calls: [w.poke()] }),
      direct: (w, at) => err("CallLimitExceeded", w.agentId, 3n, w.dayEnd(at)),
      userOp: { execution: (w, at) => err("CallLimitExceeded", w.agentId, 3n, w.dayEnd(at)) },
    });
    onBothPaths("allows exactly the limit of calls in a period and counts them", async (path) => {
      const w = await load();
      await limit3(w);
      await pays(w, path, { calls: [usdcTransfer(w, w.addr.merchantA, 1n), w.poke()] });
      await pays(w, path, { calls: [w.poke()] });
      const [, , calls, resetsAt] = await w.account.read.agentUsage([w.agentId]);
      expect([calls, resetsAt]).to.deep.equal([3n, w.dayEnd(w.t0)]);
      expect(await w.reentrant.read.pokes()).to.equal(2n);
    });
  });

  describe("PeriodCapExceeded and LifetimeCapExceeded", function () {
    refuses("adds up payments of one token in a batch and reports the one that broke the period cap", {
      setup: async (w) =>
        void (await payDirect(
          w,
          [1, 2, 3].map(() => usdcTransfer(w, w.addr.merchantA, USDC(25))),
        )),
      attempt: (w) => ({
        calls: [usdcTransfer(w, w.addr.merchantA, USDC(20)), usdcTransfer(w, w.addr.merchantB, USDC(10))],
      }),
      direct: (w, at) => err("PeriodCapExceeded", w.agentId, w.usdc.address, USDC(10), USDC(5), w.dayEnd(at)),
      userOp: {
        execution: (w, at) => err("PeriodCapExceeded", w.agentId, w.usdc.address, USDC(10), USDC(5), w.dayEnd(at)),
      },
    });
    refuses("refuses an ETH payment over what is left of the period cap", {
      setup: async (w) =>
        void (await payDirect(
          w,
          [1, 2, 3, 4].map(() => w.eth(w.addr.merchantA, parseEther("0.01"))),
        )),
      attempt: (w) => ({
        calls: [w.eth(w.addr.merchantA, parseEther("0.005")), w.eth(w.addr.merchantB, parseEther("0.006"))],
      }),
      direct: (w, at) =>
        err("PeriodCapExceeded", w.agentId, ETH, parseEther("0.006"), parseEther("0.005"), w.dayEnd(at)),
      userOp: {
        execution: (w, at) =>
          err("PeriodCapExceeded", w.agentId, ETH, parseEther("0.006"), parseEther("0.005"), w.dayEnd(at)),
      },
    });
    refuses("reports what was left of the lifetime cap just before the payment that broke it", {
      setup: async (w) => {
        await update(w, { limits: withUsdcLimit(w, USDC(25), USDC(100), USDC(100)) });
        await payDirect(
          w,
          [1, 2, 3].map(() => usdcTransfer(w, w.addr.merchantA, USDC(25))),
        );
      },
      attempt: (w) => ({
        calls: [usdcTransfer(w, w.addr.merchantA, USDC(20)), usdcTransfer(w, w.addr.merchantB, USDC(10))],
        at: w.dayEnd(w.t0) + 60n,
      }),
      direct: (w) => err("LifetimeCapExceeded", w.agentId, w.usdc.address, USDC(10), USDC(5)),
      userOp: { execution: (w) => err("LifetimeCapExceeded", w.agentId, w.usdc.address, USDC(10), USDC(5)) },
    });
  });

  describe("TokenCallFailed", function () {
    refuses("fails the batch when a listed token's transfer returns false", {
      attempt: (w) => ({ calls: [w.erc20(w.falseToken.address, "transfer", w.addr.merchantA, 1n)] }),
      direct: (w) => err("TokenCallFailed", w.agentId, w.falseToken.address),
      userOp: { execution: (w) => err("TokenCallFailed", w.agentId, w.falseToken.address) },
      view: "empty",
    });
    refuses("fails the batch when a listed token's approve returns false, undoing an earlier payment", {
      attempt: (w) => ({
        calls: [
          usdcTransfer(w, w.addr.merchantA, USDC(10)),
          w.erc20(w.falseToken.address, "approve", w.addr.merchantA, 1n),
        ],
      }),
      direct: (w) => err("TokenCallFailed", w.agentId, w.falseToken.address),
      userOp: { execution: (w) => err("TokenCallFailed", w.agentId, w.falseToken.address) },
      view: "empty",
    });
    refuses("fails the batch when a listed token address has no code", {
      attempt: (w) => ({ calls: [w.erc20(NO_CODE_TOKEN, "transfer", w.addr.merchantA, 1n)] }),
      direct: (w) => err("TokenCallFailed", w.agentId, NO_CODE_TOKEN),
      userOp: { execution: (w) => err("TokenCallFailed", w.agentId, NO_CODE_TOKEN) },
      view: "empty",
    });
  });

  describe("AgentReentrancy", function () {
    const reentry: [string, (w: World) => Hex][] = [
      [
        "executeAsAgent",
        (w) =>
          encodeFunctionData({
            abi: w.account.abi,
            functionName: "executeAsAgent",
            args: [w.agentId, [usdcTransfer(w, w.addr.merchantA, USDC(1))]],
          }),
      ],
      [
        "another agent's executeAsAgent",
        (w) =>
          encodeFunctionData({
            abi: w.account.abi,
            functionName: "executeAsAgent",
            args: [w.agentId2, [usdcTransfer(w, w.addr.merchantA, USDC(1))]],
          }),
      ],
      [
        "execute",
        (w) =>
          encodeFunctionData({
            abi: w.account.abi,
            functionName: "execute",
            args: [BATCH_MODE, encodeExecutions([usdcTransfer(w, w.reentrant.address, USDC(500))])],
          }),
      ],
      [
        "grantAgent",
        (w) =>
          encodeFunctionData({
            abi: w.account.abi,
            functionName: "grantAgent",
            args: [agentIdFor(9), w.allWallets[EXTRA_KEY_A].account.address, w.policy1],
          }),
      ],
      [
        "updatePolicy",
        (w) => encodeFunctionData({ abi: w.account.abi, functionName: "updatePolicy", args: [w.agentId, w.policy1] }),
      ],
      [
        "rotateAgentKey",
        (w) =>
          encodeFunctionData({
            abi: w.account.abi,
            functionName: "rotateAgentKey",
            args: [w.agentId, w.allWallets[EXTRA_KEY_A].account.address],
          }),
      ],
      [
        "revokeAgent",
        (w) => encodeFunctionData({ abi: w.account.abi, functionName: "revokeAgent", args: [w.agentId2] }),
      ],
      ["pauseAgents", (w) => encodeFunctionData({ abi: w.account.abi, functionName: "pauseAgents" })],
      ["unpauseAgents", (w) => encodeFunctionData({ abi: w.account.abi, functionName: "unpauseAgents" })],
      [
        "setGuardian",
        (w) => encodeFunctionData({ abi: w.account.abi, functionName: "setGuardian", args: [w.reentrant.address] }),
      ],
      [
        "setAgentPaymaster",
        (w) =>
          encodeFunctionData({
            abi: w.account.abi,
            functionName: "setAgentPaymaster",
            args: [w.reentrant.address, true],
          }),
      ],
      [
        "grantAgentBySig (callable by anyone)",
        (w) =>
          encodeFunctionData({
            abi: w.account.abi,
            functionName: "grantAgentBySig",
            args: [agentIdFor(9), w.allWallets[EXTRA_KEY_A].account.address, w.policy1, 2n ** 40n, "0x"],
          }),
      ],
      [
        "upgradeToAndCall",
        (w) =>
          encodeFunctionData({
            abi: w.account.abi,
            functionName: "upgradeToAndCall",
            args: [w.implementation.address, "0x"],
          }),
      ],
    ];
    for (const [fn, payload] of reentry) {
      refuses(`refuses a merchant that re-enters the account's ${fn} during an agent batch`, {
        setup: async (w) => void (await w.reentrant.write.setPayload([w.accountAddress, payload(w)])),
        attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(5)), w.poke()] }),
        direct: () => err("AgentReentrancy"),
        userOp: { execution: () => err("AgentReentrancy") },
        view: "empty",
      });
    }
    refuses("refuses a merchant that re-enters from its ETH receive hook", {
      setup: async (w) => {
        const payload = encodeFunctionData({
          abi: w.account.abi,
          functionName: "executeAsAgent",
          args: [w.agentId, [w.eth(w.reentrant.address, 1n)]],
        });
        await w.reentrant.write.setPayload([w.accountAddress, payload]);
      },
      attempt: (w) => ({ calls: [w.eth(w.reentrant.address, parseEther("0.001"))] }),
      direct: () => err("AgentReentrancy"),
      userOp: { execution: () => err("AgentReentrancy") },
      view: "empty",
    });
    onBothPaths("keeps views callable during a batch, and they already show the payment charged", async (path) => {
      const w = await load();
      const payload = encodeFunctionData({
        abi: w.account.abi,
        functionName: "spent",
        args: [w.agentId, w.usdc.address],
      });
      await w.reentrant.write.setPayload([w.accountAddress, payload]);
      await pays(w, path, { calls: [usdcTransfer(w, w.addr.merchantA, USDC(10)), w.poke()] });
      // counters are charged before any external call (checks-effects-interactions)
      const seen = await w.reentrant.read.lastResult();
      expect(seen).to.equal(concat([padHex(`0x${USDC(10).toString(16)}`), padHex(`0x${USDC(10).toString(16)}`)]));
    });
  });
});

describe("agent path: which error wins (SPEC section 3 order) on both paths", function () {
  const transferFrom = (w: World) =>
    w.call(
      w.usdc.address,
      encodeFunctionData({
        abi: w.usdc.abi,
        functionName: "transferFrom",
        args: [w.accountAddress, w.addr.stranger, USDC(1)],
      }),
    );
  const transferFromErr = (w: World) => err("CallNotAllowed", w.agentId, w.usdc.address, SEL.transferFrom);

  refuses("paused and revoked: AgentsPaused", {
    setup: async (w) => {
      await w.account.write.revokeAgent([w.agentId]);
      await w.account.write.pauseAgents();
    },
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))] }),
    direct: () => err("AgentsPaused"),
    userOp: { validation: () => err("AgentsPaused") },
  });
  refuses("paused and a stranger's key: AgentsPaused", {
    setup: async (w) => void (await w.account.write.pauseAgents()),
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))], signer: ROLES.stranger }),
    direct: () => err("AgentsPaused"),
    userOp: { validation: () => err("AgentsPaused") },
  });
  refuses("revoked and a forbidden call: AgentIsRevoked", {
    setup: async (w) => void (await w.account.write.revokeAgent([w.agentId])),
    attempt: (w) => ({ calls: [transferFrom(w)] }),
    direct: (w) => err("AgentIsRevoked", w.agentId),
    userOp: { validation: (w) => err("AgentIsRevoked", w.agentId) },
  });
  refuses(
    "unknown key and a forbidden call: AgentUnknown on the direct path; CallNotAllowed for the op (signature judged last)",
    {
      attempt: (w) => ({ calls: [transferFrom(w)], signer: ROLES.stranger }),
      direct: (w) => err("AgentUnknown", w.addr.stranger),
      userOp: { validation: transferFromErr },
      view: transferFromErr, // the view skips the key check
    },
  );
  refuses("a forbidden call and the wrong nonce key: CallNotAllowed", {
    attempt: (w) => ({ calls: [transferFrom(w)], nonce: nonceFor(0n) }),
    direct: transferFromErr,
    userOp: { validation: transferFromErr },
  });
  refuses("per-payment cap in the first call and a forbidden second call: batch order, PerPaymentCapExceeded", {
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(26)), transferFrom(w)] }),
    direct: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(26), USDC(25)),
    userOp: { validation: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(26), USDC(25)) },
  });
  refuses("a forbidden first call and a per-payment cap in the second: batch order, CallNotAllowed", {
    attempt: (w) => ({ calls: [transferFrom(w), usdcTransfer(w, w.addr.merchantA, USDC(26))] }),
    direct: transferFromErr,
    userOp: { validation: transferFromErr },
  });
  refuses("a non-merchant first and an unlisted token second: MerchantNotAllowed", {
    attempt: (w) => ({
      calls: [usdcTransfer(w, w.addr.stranger, 1n), w.erc20(w.other.address, "transfer", w.addr.merchantA, 1n)],
    }),
    direct: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger),
    userOp: { validation: (w) => err("MerchantNotAllowed", w.agentId, w.addr.stranger) },
  });
  refuses("wrong nonce key and a paymaster not allowed: WrongNonceKey", {
    attempt: (w) => ({
      calls: [usdcTransfer(w, w.addr.merchantA, 1n)],
      nonce: nonceFor(2n),
      fields: { paymasterAndData: paymasterData(w.paymaster.address) },
    }),
    direct: null,
    userOp: { validation: (w) => err("WrongNonceKey", w.agentId, 2n) },
  });
  refuses("wrong nonce key and a gas cost over budget: WrongNonceKey", {
    attempt: (w) => ({
      calls: [usdcTransfer(w, w.addr.merchantA, 1n)],
      nonce: nonceFor(2n),
      fields: { maxFeePerGas: GWEI_10K, maxPriorityFeePerGas: GWEI_10K },
    }),
    direct: null,
    userOp: { validation: (w) => err("WrongNonceKey", w.agentId, 2n) },
  });
  refuses("a paymaster not allowed and a huge fee: PaymasterNotAllowed", {
    attempt: (w) => ({
      calls: [usdcTransfer(w, w.addr.merchantA, 1n)],
      fields: {
        paymasterAndData: paymasterData(w.paymaster.address),
        maxFeePerGas: GWEI_10K,
        maxPriorityFeePerGas: GWEI_10K,
      },
    }),
    direct: null,
    userOp: { validation: (w) => err("PaymasterNotAllowed", w.agentId, w.paymaster.address) },
  });
  refuses("a bad signature and a gas cost over budget: GasBudgetExceeded (signature judged last)", {
    attempt: (w) => ({
      calls: [usdcTransfer(w, w.addr.merchantA, 1n)],
      signer: ROLES.stranger,
      fields: { maxFeePerGas: GWEI_10K, maxPriorityFeePerGas: GWEI_10K },
    }),
    direct: null,
    userOp: {
      validation: (w) =>
        err("GasBudgetExceeded", w.agentId, (500_000n + 500_000n + 60_000n) * GWEI_10K, parseEther("0.1")),
    },
  });

  const expireSoon = async (w: World) => void (await update(w, { validUntil: Number(w.t0 + 100n) }));
  refuses("per-payment cap and expired: PerPaymentCapExceeded (the op fails in validation, before AA22)", {
    setup: expireSoon,
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(26))], at: w.t0 + 200n }),
    direct: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(26), USDC(25)),
    userOp: { validation: (w) => err("PerPaymentCapExceeded", w.agentId, w.usdc.address, USDC(26), USDC(25)) },
  });
  refuses("gas cost over budget and expired: GasBudgetExceeded for the op, AgentExpired on the direct path", {
    setup: expireSoon,
    attempt: (w) => ({
      calls: [usdcTransfer(w, w.addr.merchantA, 1n)],
      at: w.t0 + 200n,
      fields: { maxFeePerGas: GWEI_10K, maxPriorityFeePerGas: GWEI_10K },
    }),
    direct: (w) => err("AgentExpired", w.agentId, w.t0 + 100n),
    userOp: {
      validation: (w) =>
        err("GasBudgetExceeded", w.agentId, (500_000n + 500_000n + 60_000n) * GWEI_10K, parseEther("0.1")),
    },
  });
  refuses("expired and outside active hours: AgentExpired (AA22 for the op)", {
    setup: async (w) =>
      void (await update(w, { validUntil: Number(w.t0 + 100n), activeHours: hoursMask(Number(hourOfWeek(w.t0))) })),
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, 1n)], at: w.t0 + 2n * HOUR }),
    direct: (w) => err("AgentExpired", w.agentId, w.t0 + 100n),
    userOp: { entryPoint: "AA22 expired or not due" },
  });
  refuses("not yet valid and outside active hours: AgentNotYetValid (AA22 for the op)", {
    setup: async (w) =>
      void (await update(w, {
        validAfter: Number(w.t0 + 3n * HOUR),
        activeHours: hoursMask(Number(hourOfWeek(w.t0 + 3n * HOUR))),
      })),
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, 1n)], at: w.t0 + HOUR }),
    direct: (w) => err("AgentNotYetValid", w.agentId, w.t0 + 3n * HOUR),
    userOp: { entryPoint: "AA22 expired or not due" },
  });
  refuses("outside active hours and over the call limit: OutsideActiveHours", {
    setup: async (w) => {
      await update(w, { maxCallsPerPeriod: 1, activeHours: hoursMask(Number(hourOfWeek(w.t0))) });
      await payDirect(w, [usdcTransfer(w, w.addr.merchantA, 1n)]);
    },
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, 1n)], at: w.t0 + HOUR }),
    direct: (w) => err("OutsideActiveHours", w.agentId, hourOfWeek(w.t0 + HOUR)),
    userOp: { execution: (w) => err("OutsideActiveHours", w.agentId, hourOfWeek(w.t0 + HOUR)) },
  });
  refuses("over the call limit and over the period cap: CallLimitExceeded", {
    setup: async (w) => {
      await update(w, { maxCallsPerPeriod: 4 });
      await payDirect(
        w,
        [1, 2, 3, 4].map(() => usdcTransfer(w, w.addr.merchantA, USDC(25))),
      );
    },
    attempt: (w) => ({ calls: [usdcTransfer(w, w.addr.merchantA, USDC(1))] }),
    direct: (w, at) => err("CallLimitExceeded", w.agentId, 4n, w.dayEnd(at)),
    userOp: { execution: (w, at) => err("CallLimitExceeded", w.agentId, 4n, w.dayEnd(at)) },
  });
  refuses("over the period cap and the lifetime cap in the same payment: PeriodCapExceeded", {
    setup: async (w) => {
      await update(w, { limits: withUsdcLimit(w, USDC(25), USDC(100), USDC(100)) });
      await payDirect(
        w,
        [1, 2, 3].map(() => usdcTransfer(w, w.addr.merchantA, USDC(25))),
      );
    },
    // 75 spent of a 100 period cap and a 100 lifetime: the second payment breaks both at once
    attempt: (w) => ({
      calls: [usdcTransfer(w, w.addr.merchantA, USDC(20)), usdcTransfer(w, w.addr.merchantB, USDC(10))],
    }),
    direct: (w, at) => err("PeriodCapExceeded", w.agentId, w.usdc.address, USDC(10), USDC(5), w.dayEnd(at)),
    userOp: {
      execution: (w, at) => err("PeriodCapExceeded", w.agentId, w.usdc.address, USDC(10), USDC(5), w.dayEnd(at)),
    },
  });

  // Day 2: USDC has 25 left of its lifetime (100) but a fresh period; ETH has used its whole period cap.
  const mixed = async (w: World) => {
    await update(w, { limits: withUsdcLimit(w, USDC(25), USDC(100), USDC(100)) });
    await payDirect(
      w,
      [1, 2, 3].map(() => usdcTransfer(w, w.addr.merchantA, USDC(25))),
    );
    await payDirect(
      w,
      [1, 2, 3, 4, 5].map(() => w.eth(w.addr.merchantA, parseEther("0.01"))),
      w.dayEnd(w.t0) + 10n,
    );
  };
  const usdcOverLifetime = (w: World) => [
    usdcTransfer(w, w.addr.merchantB, USDC(20)),
    usdcTransfer(w, w.addr.merchantB, USDC(10)),
  ];
  refuses("payments in batch order: an ETH period cap before a USDC lifetime cap: PeriodCapExceeded for ETH", {
    setup: mixed,
    attempt: (w) => ({ calls: [w.eth(w.addr.merchantB, 1n), ...usdcOverLifetime(w)], at: w.dayEnd(w.t0) + 100n }),
    direct: (w, at) => err("PeriodCapExceeded", w.agentId, ETH, 1n, 0n, w.dayEnd(at)),
    userOp: { execution: (w, at) => err("PeriodCapExceeded", w.agentId, ETH, 1n, 0n, w.dayEnd(at)) },
  });
  refuses("payments in batch order: a USDC lifetime cap before an ETH period cap: LifetimeCapExceeded for USDC", {
    setup: mixed,
    attempt: (w) => ({ calls: [...usdcOverLifetime(w), w.eth(w.addr.merchantB, 1n)], at: w.dayEnd(w.t0) + 100n }),
    direct: (w) => err("LifetimeCapExceeded", w.agentId, w.usdc.address, USDC(10), USDC(5)),
    userOp: { execution: (w) => err("LifetimeCapExceeded", w.agentId, w.usdc.address, USDC(10), USDC(5)) },
  });
});

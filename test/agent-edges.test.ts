// Agent-path edges that the main suites do not reach: an unlimited gas budget (SPEC section 2: type(uint256).max means
// "no budget"), and `executeAsAgent` calldata whose array offset or length does not fit the calldata, which
// validation refuses with MalformedAgentCallData before reading anything else (SPEC section 5).
import { expect } from "chai";
import { network } from "hardhat";
import { type Hex, concat, maxUint256, numberToHex, padHex, slice } from "viem";

import {
  SELECTOR_EXECUTE_AS_AGENT,
  type World,
  buildOp,
  deployAgentWorld,
  err,
  expectError,
  encodeErr,
  onBothPaths,
  pays,
  readState,
  sendDirect,
  sendUserOp,
} from "./agent-shared.js";
import { USDC, maxCost } from "./helpers/stopline.js";

const conn = await network.create();
async function agentWorld() {
  return deployAgentWorld(conn);
}
const load = () => conn.networkHelpers.loadFixture(agentWorld);
const usdcTransfer = (w: World, amount: bigint) => w.erc20(w.usdc.address, "transfer", w.addr.merchantA, amount);

describe("Agent path edges", function () {
  describe("an unlimited gas budget", function () {
    onBothPaths(
      "pays, and a UserOperation is charged its maximum cost while the budget stays unlimited",
      async (path) => {
        const w = await load();
        await w.account.write.updatePolicy([w.agentId, { ...w.policy1, gasBudget: maxUint256 }]);
        const [, , , periodEnd] = await w.account.read.agentUsage([w.agentId]);
        expect(await w.account.read.agentUsage([w.agentId])).to.deep.equal([0n, maxUint256, 0n, periodEnd]);
        const before = await readState(w);
        const a = { calls: [usdcTransfer(w, USDC(7))] };
        const o = await pays(w, path, a);
        const after = await readState(w);
        expect(after.usdc[1] - before.usdc[1], "merchant A received").to.equal(USDC(7));
        expect(before.usdc[0] - after.usdc[0], "the account paid").to.equal(USDC(7));
        if (path === "direct") {
          // the direct path spends the key's own gas: nothing charged
          expect(after.agents[0].usage[0]).to.equal(0n);
          expect(after.deposit).to.equal(before.deposit);
        } else {
          const cost = maxCost(o!.op);
          expect(o!.gasCharged, "AgentGasCharged").to.deep.equal({ charged: cost, remaining: maxUint256 });
          expect(after.agents[0].usage.slice(0, 2)).to.deep.equal([cost, maxUint256]);
          expect(before.deposit - after.deposit).to.equal(o!.actualGasCost);
        }
      },
    );
  });

  describe("MalformedAgentCallData", function () {
    // executeAsAgent(bytes32 agentId, Execution[] calls): selector, agentId, then the offset of `calls` (from the
    // start of the arguments), then at that offset the array length and one head word per element.
    const word = (n: bigint): Hex => padHex(numberToHex(n), { size: 32 });
    const raw = (w: World, offset: bigint, tail: Hex[]): Hex =>
      concat([SELECTOR_EXECUTE_AS_AGENT, w.agentId, word(offset), ...tail]);
    const cases: Array<{ title: string; callData: (w: World) => Hex }> = [
      // 4 + 32 + 32 bytes: argsLength = 64; an offset past the arguments
      { title: "the array offset points past the calldata", callData: (w) => raw(w, 65n, []) },
      // the offset is inside the arguments but leaves fewer than 32 bytes for the length word
      {
        title: "no room for the array length after the offset",
        callData: (w) => raw(w, 64n, [slice(word(1n), 0, 31)]),
      },
      // a length word claiming two elements with room for one head word
      {
        title: "the array length claims more elements than there are",
        callData: (w) => raw(w, 64n, [word(2n), word(0n)]),
      },
    ];
    for (const c of cases) {
      it(`${c.title}: a UserOperation is refused in validation and nothing moves`, async function () {
        const w = await load();
        const op = await buildOp(w, { calls: [], rawCallData: c.callData(w) });
        const before = await readState(w);
        const r = await sendUserOp(w, { calls: [] }, op);
        expect(r.mined, "handleOps should revert").to.equal(false);
        const inner = encodeErr(w, err("MalformedAgentCallData"));
        expectError(w, (r as { data: Hex | undefined }).data, err("FailedOpWithRevert", 0n, "AA23 reverted", inner));
        expect(await readState(w)).to.deep.equal(before);
      });

      it(`${c.title}: a direct call is refused by the ABI decoder (no revert data) and nothing moves`, async function () {
        const w = await load();
        const before = await readState(w);
        const r = await sendDirect(w, { calls: [], rawCallData: c.callData(w) });
        expect(r.ok, "the direct call should revert").to.equal(false);
        expect((r as { data: Hex | undefined }).data).to.equal("0x");
        expect(await readState(w)).to.deep.equal(before);
      });
    }
  });
});

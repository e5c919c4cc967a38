import { expect } from "chai";
import { network } from "hardhat";

import { deployStopline } from "./helpers/fixture.js";
import { USDC } from "./helpers/stopline.js";

describe("Stopline smoke", function () {
  it("lets an agent pay a merchant directly and through a UserOperation", async function () {
    const conn = await network.create();
    const s = await deployStopline(conn);
    await s.asAgent.write.executeAsAgent([s.agentId, [s.transfer(s.addr.merchantA, USDC(10))]]);
    expect(await s.usdc.read.balanceOf([s.addr.merchantA])).to.equal(USDC(10));

    const op = await s.agentOp([s.transfer(s.addr.merchantB, USDC(20))]);
    await s.handleOps([op]);
    expect(await s.usdc.read.balanceOf([s.addr.merchantB])).to.equal(USDC(20));
    const [perPayment, inPeriod, inLifetime] = await s.account.read.remaining([s.agentId, s.usdc.address]);
    expect([perPayment, inPeriod, inLifetime]).to.deep.equal([USDC(25), USDC(70), USDC(970)]);
  });
});

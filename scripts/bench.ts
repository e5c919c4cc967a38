// Gas benchmark: deploys everything on the in-process network, performs the operations of the table, prints
// it and writes bench/gas.json ({ "<row>": gasUsed }, whole-transaction gas from receipts). Deterministic: the chain's
// clock is moved to fixed instants, and keys, nonces and hashes are fixed, so the same code gives the same numbers.
//
//   npm run bench            writes bench/gas.json
//   npm run bench -- --check compares with the committed bench/gas.json and fails on any difference
import { readFileSync, writeFileSync } from "node:fs";

import { network } from "hardhat";
import { type Address, type Hex, encodeAbiParameters, encodeFunctionData, getAddress, keccak256, toHex } from "viem";

import { deployStopline } from "../test/helpers/fixture.js";
import { signLaneAuthorization, transferWithAuthorizationTypes } from "../src/x402/lane.js";
import { ROLES, USDC, agentIdFor, hdKey, policy } from "../test/helpers/stopline.js";

const OUT = "bench/gas.json";
const BATCH_MODE: Hex = "0x0100000000000000000000000000000000000000000000000000000000000000";
const DAY = 86_400;
// Tuesday 2031-01-07 10:00:00 UTC (a fixed future instant, so the run does not depend on today), then whole days later: payments never straddle a period boundary by accident.
const T0 = Date.UTC(2031, 0, 7, 10, 0, 0) / 1000;

const conn = await network.create();
const { networkHelpers } = conn;
await networkHelpers.time.increaseTo(T0 - 3600);
const s = await deployStopline(conn, { agentPolicy: { validAfter: T0 - 3600 - ((T0 - 3600) % DAY) } });
const rows: Record<string, number> = {};

async function measure(row: string, send: () => Promise<Hex>) {
  const hash = await send();
  const receipt = await s.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${row}: transaction reverted`);
  rows[row] = Number(receipt.gasUsed);
}

/** A UserOperation bundle must succeed op by op, not just as a transaction. */
async function measureOps(row: string, ops: Parameters<typeof s.handleOps>[0]) {
  const receipt = await s.handleOps(ops);
  const failed = receipt.logs.some((l) => l.topics[0] === USEROP_REVERT_TOPIC);
  if (receipt.status !== "success" || failed) throw new Error(`${row}: UserOperation failed`);
  const opEvents = receipt.logs.filter((l) => l.topics[0] === USEROP_EVENT_TOPIC);
  for (const e of opEvents) {
    // UserOperationEvent data: nonce, success, actualGasCost, actualGasUsed
    if (BigInt("0x" + e.data.slice(2 + 64, 2 + 128)) !== 1n) throw new Error(`${row}: op not successful`);
  }
  rows[row] = Number(receipt.gasUsed);
}
const USEROP_EVENT_TOPIC = keccak256(toHex("UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)"));
const USEROP_REVERT_TOPIC = keccak256(toHex("UserOperationRevertReason(bytes32,address,uint256,bytes)"));

const { addr, usdc, account, asAgent, agentId } = s;
// Merchants and the EOA payer already hold the token, as a real merchant would.
await usdc.write.mint([addr.merchantA, USDC(1)]);
await usdc.write.mint([addr.merchantB, USDC(1)]);
await usdc.write.mint([addr.stranger, USDC(1_000)]);

const eoaUsdc = await s.viem.getContractAt("TestUSDC", usdc.address, { client: { wallet: s.wallets.stranger } });
await measure("eoa.erc20Transfer", () => eoaUsdc.write.transfer([addr.merchantA, USDC(5)]));

// The owner's first op pays for its nonce slot; measure the second, as for agents' warm rows.
const ownerTransfer = () =>
  encodeFunctionData({
    abi: account.abi,
    functionName: "execute",
    args: [
      BATCH_MODE,
      encodeAbiParameters(
        [{ type: "tuple[]", components: [{ type: "address" }, { type: "uint256" }, { type: "bytes" }] }],
        [[[usdc.address, 0n, s.transfer(addr.merchantA, USDC(5)).callData]]],
      ),
    ],
  });
// Same gas limits as the agent ops below, so that the rows compare like with like.
const sameLimits = { fields: { callGasLimit: 500_000n } };
await measureOps("owner.userOp.erc20Transfer.firstEver", [await s.ownerOp(ownerTransfer(), sameLimits)]);
await measureOps("owner.userOp.erc20Transfer", [await s.ownerOp(ownerTransfer(), sameLimits)]);

await networkHelpers.time.increaseTo(T0);
await measureOps("agent.userOp.erc20Payment.firstEver", [await s.agentOp([s.transfer(addr.merchantA, USDC(5))])]);
await measureOps("agent.userOp.erc20Payment.warm", [await s.agentOp([s.transfer(addr.merchantA, USDC(5))])]);
await networkHelpers.time.increaseTo(T0 + DAY);
await measureOps("agent.userOp.erc20Payment.first", [await s.agentOp([s.transfer(addr.merchantA, USDC(5))])]);

await networkHelpers.time.increaseTo(T0 + 2 * DAY);
const directPay = () => asAgent.write.executeAsAgent([agentId, [s.transfer(addr.merchantA, USDC(5))]]);
await measure("agent.direct.erc20Payment.first", directPay);
await measure("agent.direct.erc20Payment.warm", directPay);

// Lifecycle rows.
const twoMerchants = [addr.merchantA, addr.merchantB];
const usdcLimit = [{ token: usdc.address, perPayment: USDC(25), perPeriod: USDC(100), lifetime: USDC(1_000) }];
const key = (i: number): Address => getAddress(keccak256(toHex(`bench key ${i}`)).slice(0, 42));
await measure("account.grantAgent", () =>
  account.write.grantAgent([agentIdFor(2), key(2), policy({ limits: usdcLimit, merchants: twoMerchants })]),
);
await measure("account.rotateAgentKey", () => account.write.rotateAgentKey([agentIdFor(2), key(3)]));
await measure("account.revokeAgent", () => account.write.revokeAgent([agentIdFor(2)]));
await measure("factory.createAccount", () => s.factory.write.createAccount([addr.stranger, 7n]));

// Scale rows: the same warm payment by an agent with 100 merchants, and by an agent of an account with 50 agents.
const many = Array.from({ length: 98 }, (_, i) => key(1000 + i));
const agent3 = agentIdFor(3);
await account.write.grantAgent([
  agent3,
  addr.agent2,
  policy({ limits: usdcLimit, merchants: [...many.slice(0, 49), addr.merchantA, ...many.slice(49), addr.merchantB] }),
]);
const a3 = { agentId: agent3, signer: ROLES.agent2 };
await s.handleOps([await s.agentOp([s.transfer(addr.merchantA, USDC(5))], a3)]);
await measureOps("agent.userOp.erc20Payment.warm.merchants100", [
  await s.agentOp([s.transfer(addr.merchantA, USDC(5))], a3),
]);
for (let i = 0; i < 46; i++) {
  await account.write.grantAgent([
    agentIdFor(100 + i),
    key(100 + i),
    policy({ limits: usdcLimit, merchants: twoMerchants }),
  ]);
}
// 50 agents: 1, 2 (revoked), 3, 100..145 and 4 below.
const agent4 = agentIdFor(4);
await account.write.grantAgent([agent4, addr.newKey, policy({ limits: usdcLimit, merchants: twoMerchants })]);
const a4 = { agentId: agent4, signer: ROLES.newKey };
await s.handleOps([await s.agentOp([s.transfer(addr.merchantA, USDC(5))], a4)]);
await measureOps("agent.userOp.erc20Payment.warm.agents50", [
  await s.agentOp([s.transfer(addr.merchantA, USDC(5))], a4),
]);

// x402 lane rows (SPEC section 7): opening a lane, a lane settlement through the token's EIP-3009 `bytes signature`
// overload against an EOA payer's, flat in the lane's size, and an opening that settles the last period's slots.
const [, usdcName, usdcVersion, chainId] = await usdc.read.eip712Domain();
const usdcDomain = { name: usdcName, version: usdcVersion, chainId: Number(chainId), verifyingContract: usdc.address };
const laneLimit = (n: number) => [{ ...usdcLimit[0], laneCount: n, laneMax: USDC(1) }];
const laneAgents = [
  { id: agentIdFor(5), role: ROLES.guardian, n: 3 },
  { id: agentIdFor(6), role: ROLES.merchantB, n: 256 },
];
for (const a of laneAgents) {
  await account.write.grantAgent([
    a.id,
    hdKey(a.role).address,
    policy({ limits: laneLimit(a.n), merchants: [addr.merchantA] }),
  ]);
}
const nowTs = async () => (await s.publicClient.getBlock()).timestamp;
const period = async (id: Hex) => account.read.lanePeriodOf([id, await nowTs()]);
await measure("lane.openLane.first", () => account.write.openLane([laneAgents[0].id, usdc.address]));
// an ordinary payment of a lane token once the lane is open for the period: one more slot read, no reopening
const laneAgentClient = await s.viem.getContractAt("AgentAccount", s.accountAddress, {
  client: { wallet: s.wallets.guardian },
});
const laneDirectPay = () =>
  laneAgentClient.write.executeAsAgent([laneAgents[0].id, [s.transfer(addr.merchantA, USDC(1))]]);
await laneDirectPay();
await measure("agent.direct.erc20Payment.laneOpen.warm", laneDirectPay);
await account.write.openLane([laneAgents[1].id, usdc.address]);
const laneSettle = async (a: (typeof laneAgents)[number], i: bigint) => {
  const p = await period(a.id);
  const t = await nowTs();
  const auth = await signLaneAuthorization(hdKey(a.role), usdcDomain, {
    address: s.accountAddress,
    agentId: a.id,
    token: usdc.address,
    period: p,
    i,
    to: addr.merchantA,
    value: USDC(1),
    validAfter: t - 60n,
    validBefore: p,
  });
  return eoaUsdc.write.transferWithAuthorization([
    s.accountAddress,
    addr.merchantA,
    USDC(1),
    auth.validAfter,
    auth.validBefore,
    auth.nonce,
    auth.signature,
  ]);
};
await measure("lane.settlement.slots3", () => laneSettle(laneAgents[0], 0n));
await measure("lane.settlement.slots256", () => laneSettle(laneAgents[1], 0n));
{
  // an EOA payer's authorization through the same overload (a 65-byte signature), for comparison
  const t = await nowTs();
  const nonce = keccak256(toHex("bench eoa nonce"));
  const message = {
    from: addr.stranger,
    to: addr.merchantA,
    value: USDC(1),
    validAfter: t - 60n,
    validBefore: t + 3600n,
    nonce,
  };
  const signature = await hdKey(ROLES.stranger).signTypedData({
    domain: usdcDomain,
    types: transferWithAuthorizationTypes,
    primaryType: "TransferWithAuthorization",
    message,
  });
  await measure("eoa.transferWithAuthorization", () =>
    eoaUsdc.write.transferWithAuthorization([
      message.from,
      message.to,
      message.value,
      message.validAfter,
      message.validBefore,
      nonce,
      signature,
    ]),
  );
}
await networkHelpers.time.increaseTo(T0 + 3 * DAY);
await measure("lane.openLane.settling3", () => account.write.openLane([laneAgents[0].id, usdc.address]));

// ---------------------------------------------------------------- report
const floor = rows["owner.userOp.erc20Transfer"];
const targets: Record<string, number> = {
  "agent.userOp.erc20Payment.warm": floor + 30_000,
  "agent.userOp.erc20Payment.first": floor + 34_000,
  "agent.userOp.erc20Payment.firstEver": floor + 54_000,
  "agent.direct.erc20Payment.warm": 66_000,
  "factory.createAccount": 110_000,
};
const warm = rows["agent.userOp.erc20Payment.warm"];
console.log("\nStopline gas benchmark (whole-transaction gas)\n");
console.log(`${"row".padEnd(48)}${"gas".padStart(10)}${"vs owner op".padStart(14)}${"target".padStart(10)}`);
for (const [row, gas] of Object.entries(rows)) {
  const over = row.startsWith("agent.userOp") ? `+${gas - floor}` : "";
  const t = targets[row];
  const mark = t === undefined ? "" : gas <= t ? `<=${t} ok` : `>${t} MISS`;
  console.log(`${row.padEnd(48)}${String(gas).padStart(10)}${over.padStart(14)}  ${mark}`);
}
for (const row of ["agent.userOp.erc20Payment.warm.merchants100", "agent.userOp.erc20Payment.warm.agents50"]) {
  const d = ((rows[row] - warm) / warm) * 100;
  console.log(`${row}: ${d >= 0 ? "+" : ""}${d.toFixed(2)}% vs warm (target within 1%)`);
}

const json = JSON.stringify(rows, null, 2) + "\n";
if (process.argv.includes("--check") || process.env.STOPLINE_BENCH_CHECK === "1") {
  const committed = readFileSync(OUT, "utf8");
  if (committed !== json) {
    console.error(`\n${OUT} differs from this run: run \`npm run bench\` and commit the new numbers.`);
    process.exit(1);
  }
  console.log(`\n${OUT} matches.`);
} else {
  writeFileSync(OUT, json);
  console.log(`\nwrote ${OUT}`);
}

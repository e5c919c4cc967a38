// A Stopline world for the toolkit tests: the standard fixture plus one agent per refusal that needs its own policy,
// on a chain whose clock starts at a fixed date so that every message (with its relative times) can be asserted.
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { type Address, type Hex, getAddress, toFunctionSelector } from "viem";

import { deployStopline } from "./fixture.js";
import { type AgentPolicy, type TokenLimitInput, USDC, agentIdFor, policy } from "./stopline.js";

/** The chain starts here (a Friday)... */
export const START = "2026-11-27T12:00:00Z";
/** ...and the fixture leaves it here: Friday 20:48 UTC, 3 h 12 min before the daily periods reset. */
export const T = BigInt(Date.parse("2026-11-27T20:48:00Z") / 1000);
/** The next UTC midnight, when daily periods anchored at 0 reset. */
export const MIDNIGHT = BigInt(Date.parse("2026-11-28T00:00:00Z") / 1000);

/** Wallet indexes of the extra agents' keys (the hardhat node's default accounts). */
export const KEYS = {
  hours: 10,
  calls: 11,
  early: 12,
  late: 13,
  lifetime: 14,
  noCode: 15,
  gas: 16,
  reentry: 17,
} as const;

export const IDS = {
  hours: agentIdFor(2),
  calls: agentIdFor(3),
  early: agentIdFor(4),
  late: agentIdFor(5),
  lifetime: agentIdFor(6),
  noCode: agentIdFor(7),
  gas: agentIdFor(8),
  reentry: agentIdFor(9),
} as const;

/** An address without code, listed as a token by the `noCode` agent. */
export const NO_CODE_TOKEN = getAddress("0x000000000000000000000000000000000000dEaD");
/** Where the reentrant merchant's code lives. */
export const REENTRANT = getAddress("0x00000000000000000000000000000000000Be11e");
export const AGENTS_START = BigInt(Date.parse("2026-12-01T00:00:00Z") / 1000);
export const LATE_END = BigInt(Date.parse("2026-11-27T13:00:00Z") / 1000);

export function createConnection(): Promise<NetworkConnection> {
  return network.create({ override: { initialDate: START } });
}

export async function toolkitWorld(conn: NetworkConnection) {
  const s = await deployStopline(conn);
  const { viem, networkHelpers } = conn;
  const wallets = await viem.getWalletClients();
  const grant = (id: Hex, keyIndex: number, p: Partial<Omit<AgentPolicy, "limits">> & { limits?: TokenLimitInput[] }) =>
    s.account.write.grantAgent([
      id,
      wallets[keyIndex].account.address,
      policy({
        limits: [{ token: s.usdc.address, perPayment: USDC(25), perPeriod: USDC(100), lifetime: USDC(1_000) }],
        merchants: [s.addr.merchantA, s.addr.merchantB],
        ...p,
      }),
    ]);
  await grant(IDS.hours, KEYS.hours, { activeHours: 1n << 9n }); // Monday 09:00-10:00 UTC only
  await grant(IDS.calls, KEYS.calls, { maxCallsPerPeriod: 1 });
  await grant(IDS.early, KEYS.early, { validAfter: Number(AGENTS_START) });
  await grant(IDS.late, KEYS.late, { validUntil: Number(LATE_END) });
  await grant(IDS.lifetime, KEYS.lifetime, {
    period: 3600,
    limits: [{ token: s.usdc.address, perPayment: USDC(25), perPeriod: USDC(50), lifetime: USDC(50) }],
  });
  await grant(IDS.noCode, KEYS.noCode, {
    limits: [{ token: NO_CODE_TOKEN, perPayment: USDC(25), perPeriod: USDC(100), lifetime: USDC(1_000) }],
  });
  await grant(IDS.gas, KEYS.gas, { gasBudget: 1000n });
  await networkHelpers.setCode(REENTRANT, reentrantRuntime(s.accountAddress));
  await grant(IDS.reentry, KEYS.reentry, { merchants: [REENTRANT] });

  const as = (keyIndex: number) =>
    viem.getContractAt("AgentAccount", s.accountAddress, { client: { wallet: wallets[keyIndex] } });

  // the lifetime agent spends its whole lifetime cap in an earlier hour
  const lifetime = await as(KEYS.lifetime);
  await lifetime.write.executeAsAgent([IDS.lifetime, [s.transfer(s.addr.merchantA, USDC(25))]]);
  await lifetime.write.executeAsAgent([IDS.lifetime, [s.transfer(s.addr.merchantA, USDC(25))]]);
  // the main agent spends 80 of its 100 USDC today
  for (const amount of [25, 25, 25, 5]) {
    await s.asAgent.write.executeAsAgent([s.agentId, [s.transfer(s.addr.merchantA, USDC(amount))]]);
  }
  await networkHelpers.time.increaseTo(T);
  return { ...s, wallets, as, grant };
}

export type ToolkitWorld = Awaited<ReturnType<typeof toolkitWorld>>;

/**
 * Runtime code of a merchant that reenters the account: it calls `pauseAgents()` on `account` and reverts with what
 * that call reverted with. Called during an agent batch, the account answers AgentReentrancy.
 */
export function reentrantRuntime(account: Address): Hex {
  const call =
    "63" +
    toFunctionSelector("pauseAgents()").slice(2) +
    "60e01b600052" + // mstore(0, selector << 224)
    "60006000600460006000" + // retSize 0, retOffset 0, argsSize 4, argsOffset 0, value 0
    "73" +
    account.slice(2).toLowerCase() +
    "5af1"; // address, gas, CALL
  const bubble = "3d600060003e3d6000fd"; // returndatacopy(0, 0, size); revert(0, size)
  const jumpdest = (call.length + 6 + bubble.length) / 2; // after PUSH1 dest, JUMPI and the bubble
  return `0x${call}60${jumpdest.toString(16).padStart(2, "0")}57${bubble}5b00`;
}

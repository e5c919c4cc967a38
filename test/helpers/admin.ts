// Helpers for the owner, guardian, factory and upgrade tests (test/admin-*.test.ts): the three ways the owner reaches its
// functions, exact revert and event assertions, and a snapshot of the account's agent state to show that a refusal
// changed nothing.
import { expect } from "chai";
import type { NetworkConnection } from "hardhat/types/network";
import {
  type Abi,
  type Address,
  type Hex,
  type TransactionReceipt,
  decodeErrorResult,
  encodeFunctionData,
  getAddress,
  keccak256,
  parseEventLogs,
  toHex,
  zeroAddress,
} from "viem";

import { type Stopline, deployStopline } from "./fixture.js";
import {
  ANY_HOUR,
  type AgentPolicy,
  ENTRY_POINT_ABI,
  type Execution,
  type PackedUserOperation,
  ROLES,
  USDC,
  agentIdFor,
  hdKey,
  policy,
  userOp,
  type TokenLimitInput,
  BATCH_MODE,
  encodeBatch,
} from "./stopline.js";
export { BATCH_MODE, encodeBatch } from "./stopline.js";

/** ERC-1967 implementation slot. */
export const IMPLEMENTATION_SLOT: Hex = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";
export const ERC1271_MAGIC: Hex = "0x1626ba7e";
export const ERC1271_INVALID: Hex = "0xffffffff";

/** callGasLimit of the owner UserOperations these tests send. */
export const OWNER_OP_CALL_GAS = 2_000_000n;

/** How the owner reaches an owner function (SPEC section 4). */
export type Way = "the owner key" | "an owner execute batch" | "an owner UserOperation";
export const WAYS: Way[] = ["the owner key", "an owner execute batch", "an owner UserOperation"];

/** callData of `execute(BATCH_MODE, abi.encode(calls))` on the account. */
export function executeCallData(s: Stopline, calls: Execution[]): Hex {
  return encodeFunctionData({ abi: s.account.abi, functionName: "execute", args: [BATCH_MODE, encodeBatch(calls)] });
}

/** Walks a viem error's cause chain for the revert data (as hardhat-viem-assertions does). */
export function revertDataOf(error: unknown): Hex | undefined {
  let found: Hex | undefined;
  let current = error as { data?: unknown; cause?: unknown } | undefined;
  while (current !== undefined && current !== null) {
    const data = current.data;
    if (typeof data === "string" && /^0x[0-9a-fA-F]*$/.test(data)) found = data as Hex;
    else if (
      typeof data === "object" &&
      data !== null &&
      typeof (data as { data?: unknown }).data === "string" &&
      /^0x[0-9a-fA-F]*$/.test((data as { data: string }).data)
    ) {
      found = (data as { data: Hex }).data;
    }
    current = current.cause as typeof current;
  }
  return found;
}

/** Lower-cases every hex string, so that checksummed and plain addresses compare equal in deep equality. */
export function norm(value: unknown): unknown {
  if (typeof value === "string" && value.startsWith("0x")) return value.toLowerCase();
  if (Array.isArray(value)) return value.map(norm);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, norm(v)]));
  }
  return value;
}

/** Deep equality that ignores the case of hex strings (hardhat's accounts come lower-case, viem decodes checksummed). */
export function same(actual: unknown, expected: unknown, message?: string) {
  expect(norm(actual), message).to.deep.equal(norm(expected));
}

/** Decodes `data` with `abi` and asserts it is exactly the custom error `name` with `args`. */
export function expectError(data: Hex | undefined, abi: Abi, name: string, args: readonly unknown[]) {
  expect(data, `expected a revert with ${name}, got no revert data`).to.be.a("string");
  let decoded: { errorName: string; args?: readonly unknown[] };
  try {
    decoded = decodeErrorResult({ abi, data: data as Hex }) as { errorName: string; args?: readonly unknown[] };
  } catch {
    throw new Error(`expected ${name}(${args.join(", ")}), got undecodable revert data ${data}`);
  }
  expect(decoded.errorName, `expected ${name}, got ${decoded.errorName}(${(decoded.args ?? []).join(", ")})`).to.equal(
    name,
  );
  expect(norm(decoded.args ?? []), `arguments of ${name}`).to.deep.equal(norm(args));
}

/** Awaits `promise` (a contract write or read) and asserts it reverts with exactly `name(args)`. */
export async function expectRevert(promise: Promise<unknown>, abi: Abi, name: string, args: readonly unknown[]) {
  let data: Hex | undefined;
  try {
    await promise;
  } catch (error) {
    data = revertDataOf(error);
    if (data === undefined) throw error;
  }
  expect(data, `expected a revert with ${name}(${args.join(", ")}), but it did not revert`).to.not.equal(undefined);
  expectError(data, abi, name, args);
}

/** The events named `name` that `address` logged in `receipt`, decoded with `abi`. */
export function eventsOf(receipt: TransactionReceipt, abi: Abi, name: string, address: Address) {
  return parseEventLogs({
    abi,
    logs: receipt.logs.filter((l) => l.address.toLowerCase() === address.toLowerCase()),
    eventName: name,
    strict: true,
  }) as unknown as { args: Record<string, unknown>; eventName: string }[];
}

/** Asserts that `address` logged exactly these `name` events (args by name), in this order. */
export function expectEvents(
  receipt: TransactionReceipt,
  abi: Abi,
  name: string,
  address: Address,
  expected: Record<string, unknown>[],
) {
  const logs = eventsOf(receipt, abi, name, address);
  expect(norm(logs.map((l) => l.args))).to.deep.equal(norm(expected));
}

/** Sends `data` from `from` to `to` (automining) and returns the receipt; throws the node's error on revert. */
export async function send(s: Stopline, from: keyof Stopline["wallets"], to: Address, data: Hex, value = 0n) {
  const hash = await s.wallets[from].sendTransaction({ to, data, value });
  const receipt = await s.publicClient.waitForTransactionReceipt({ hash });
  expect(receipt.status).to.equal("success");
  return receipt;
}

/** The EntryPoint's verdict on an op of a mined bundle: success flag and, on failure, the revert data it logged. */
export function opOutcome(receipt: TransactionReceipt, sender: Address) {
  const events = parseEventLogs({ abi: ENTRY_POINT_ABI, logs: receipt.logs }) as unknown as {
    eventName: string;
    args: Record<string, unknown>;
  }[];
  const mine = (e: { args: Record<string, unknown> }) => String(e.args.sender).toLowerCase() === sender.toLowerCase();
  const done = events.filter((e) => e.eventName === "UserOperationEvent" && mine(e));
  expect(done, "one UserOperationEvent for the account").to.have.length(1);
  const reverted = events.filter((e) => e.eventName === "UserOperationRevertReason" && mine(e));
  return {
    success: done[0].args.success as boolean,
    revertData: reverted.length === 0 ? undefined : (reverted[0].args.revertReason as Hex),
  };
}

/**
 * Calls an owner function of the account with `callData` in one of the three ways. Returns the receipt when it ran, or
 * the revert data when it was refused (a direct call reverts; an op is mined with success == false).
 */
export async function asOwner(
  s: Stopline,
  way: Way,
  callData: Hex,
): Promise<{ receipt?: TransactionReceipt; revertData?: Hex }> {
  if (way === "an owner UserOperation") {
    // a grant with two tokens and two merchants costs about 510k gas: more than the helper's default callGasLimit
    const nonce = (await s.entryPoint.read.getNonce([s.accountAddress, 0n])) as bigint;
    const op = await s.sign(
      userOp({ sender: s.accountAddress, nonce, callData, callGasLimit: OWNER_OP_CALL_GAS }),
      ROLES.owner,
    );
    const receipt = await s.handleOps([op]);
    const { success, revertData } = opOutcome(receipt, s.accountAddress);
    if (!success) return { revertData: revertData ?? "0x" };
    return { receipt };
  }
  const data =
    way === "the owner key" ? callData : executeCallData(s, [{ target: s.accountAddress, value: 0n, callData }]);
  try {
    return { receipt: await send(s, "owner", s.accountAddress, data) };
  } catch (error) {
    const revertData = revertDataOf(error);
    if (revertData === undefined) throw error;
    return { revertData };
  }
}

/** `asOwner` that must succeed; returns the receipt. */
export async function ownerOk(s: Stopline, way: Way, callData: Hex): Promise<TransactionReceipt> {
  const r = await asOwner(s, way, callData);
  if (r.receipt === undefined) {
    let shown = r.revertData as string;
    try {
      const d = decodeErrorResult({ abi: s.account.abi, data: r.revertData as Hex });
      shown = `${d.errorName}(${(d.args ?? []).join(", ")})`;
    } catch {
      // shown stays the raw data
    }
    throw new Error(`owner call through ${way} was refused: ${shown}`);
  }
  return r.receipt;
}

/** `asOwner` that must be refused with exactly `name(args)`. */
export async function ownerRefused(s: Stopline, way: Way, callData: Hex, name: string, args: readonly unknown[]) {
  const r = await asOwner(s, way, callData);
  expect(r.receipt, `expected ${name} through ${way}, but the call succeeded`).to.equal(undefined);
  expectError(r.revertData, s.account.abi, name, args);
}

/** callData of an owner function of the account. */
export function call(s: Stopline, functionName: string, args: readonly unknown[]): Hex {
  return encodeFunctionData({ abi: s.account.abi as Abi, functionName, args });
}

/** Sends a bundle that the EntryPoint must refuse as a whole; returns its revert data (FailedOp / FailedOpWithRevert). */
export async function bundleRefused(s: Stopline, ops: PackedUserOperation[]): Promise<Hex> {
  try {
    await s.handleOps(ops);
  } catch (error) {
    const data = revertDataOf(error);
    if (data === undefined) throw error;
    return data;
  }
  throw new Error("expected handleOps to revert");
}

// ---------------------------------------------------------------- state snapshots

/** Ids and keys watched by `snapshot` (the fixture's agent, ids 2 and 3, and every key a test registers). */
export const WATCHED_IDS: Hex[] = [agentIdFor(1), agentIdFor(2), agentIdFor(3), agentIdFor(1, 7n)];

/**
 * Everything an owner or guardian function could change: per agent its record (or AgentNotFound), what is left and
 * spent in USDC and ETH, its usage counters and merchants; per key its agent; the account's globals, implementation and
 * USDC balance.
 */
export async function snapshot(s: Stopline, extraKeys: Address[] = []) {
  const a = s.account.read;
  const tokens = [s.usdc.address, zeroAddress];
  const keys = [
    ...Object.values(s.addr).filter((k) => k !== s.addr.owner),
    s.accountAddress,
    zeroAddress,
    ...extraKeys,
  ];
  const agents = [];
  for (const id of WATCHED_IDS) {
    let record: unknown;
    try {
      record = await a.getAgent([id]);
    } catch (error) {
      record = revertDataOf(error);
    }
    agents.push({
      id,
      record,
      remaining: await Promise.all(tokens.map((t) => a.remaining([id, t]))),
      spent: await Promise.all(tokens.map((t) => a.spent([id, t]))),
      usage: await a.agentUsage([id]),
      merchants: await Promise.all(
        [s.addr.merchantA, s.addr.merchantB, s.addr.stranger].map((m) => a.isMerchant([id, m])),
      ),
    });
  }
  return norm({
    agents,
    keys: await Promise.all(keys.map(async (k) => [k, await a.agentOf([k])])),
    grantNonce: await a.grantNonce(),
    guardian: await a.guardian(),
    paused: await a.agentsPaused(),
    paymasters: await Promise.all([s.addr.stranger, s.addr.bundler].map((p) => a.isAgentPaymaster([p]))),
    owner: await a.owner(),
    implementation: await s.publicClient.getStorageAt({ address: s.accountAddress, slot: IMPLEMENTATION_SLOT }),
    usdc: await s.usdc.read.balanceOf([s.accountAddress]),
  });
}

/** Runs `refusal` (which asserts its own error) and asserts that the account's state is exactly as before. */
export async function expectUnchanged(s: Stopline, refusal: () => Promise<void>, extraKeys: Address[] = []) {
  const before = await snapshot(s, extraKeys);
  await refusal();
  expect(await snapshot(s, extraKeys)).to.deep.equal(before);
}

// ---------------------------------------------------------------- the world these tests share

export const DAY = 86_400;
/** A merchant address no role holds. */
export const MERCHANT_C: Address = getAddress("0xc0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0");

/**
 * `deployStopline`, then the clock moved to 01:00 UTC of the next day, so that every test runs well inside one daily
 * period and `periodEnd` (the end of the fixture agent's current period) is known exactly.
 */
export async function adminWorld(conn: NetworkConnection) {
  const s = await deployStopline(conn);
  const now = await conn.networkHelpers.time.latest();
  const dayStart = (Math.floor(now / DAY) + 1) * DAY;
  await conn.networkHelpers.time.increaseTo(dayStart + 3600);
  return { ...s, dayStart: BigInt(dayStart), periodEnd: BigInt(dayStart + DAY) };
}
export type AdminWorld = Awaited<ReturnType<typeof adminWorld>>;

/** A second agent's policy that differs from the fixture's in every field: USDC and ETH limits, merchants B and C. */
export function secondPolicy(
  s: Stopline,
  overrides: Partial<Omit<AgentPolicy, "limits">> & { limits?: TokenLimitInput[] } = {},
): AgentPolicy {
  return policy({
    validAfter: 0,
    validUntil: 4_000_000_000,
    period: DAY,
    activeHours: ANY_HOUR,
    maxCallsPerPeriod: 20,
    gasBudget: 5n * 10n ** 16n,
    mandate: keccak256(toHex("Pay the cloud bill, at most 50 USDC a day")),
    limits: [
      { token: s.usdc.address, perPayment: USDC(10), perPeriod: USDC(50), lifetime: USDC(200) },
      { token: zeroAddress, perPayment: 10n ** 15n, perPeriod: 10n ** 16n, lifetime: 10n ** 17n },
    ],
    merchants: [s.addr.merchantB, MERCHANT_C],
    ...overrides,
  });
}

// ---------------------------------------------------------------- grantAgentBySig typed data (SPEC section 4)

export const GRANT_TYPES = {
  AgentGrant: [
    { name: "agentId", type: "bytes32" },
    { name: "key", type: "address" },
    { name: "policy", type: "AgentPolicy" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  AgentPolicy: [
    { name: "validAfter", type: "uint48" },
    { name: "validUntil", type: "uint48" },
    { name: "period", type: "uint32" },
    { name: "activeHours", type: "uint168" },
    { name: "maxCallsPerPeriod", type: "uint32" },
    { name: "gasBudget", type: "uint256" },
    { name: "mandate", type: "bytes32" },
    { name: "limits", type: "TokenLimit[]" },
    { name: "merchants", type: "address[]" },
  ],
  TokenLimit: [
    { name: "token", type: "address" },
    { name: "perPayment", type: "uint256" },
    { name: "perPeriod", type: "uint256" },
    { name: "lifetime", type: "uint256" },
    { name: "laneCount", type: "uint32" },
    { name: "laneMax", type: "uint256" },
  ],
} as const;

export type Grant = { agentId: Hex; key: Address; policy: AgentPolicy; nonce: bigint; deadline: bigint };

/**
 * The owner's (or `signer`'s) EIP-712 signature of an AgentGrant, with viem's signTypedData. The domain defaults to
 * { name: "Stopline", version: "1", chainId, verifyingContract: the account }; `domain` overrides any of it.
 */
export async function signGrant(
  s: Stopline,
  grant: Grant,
  o: {
    signer?: number;
    domain?: Partial<{ name: string; version: string; chainId: number; verifyingContract: Address }>;
  } = {},
): Promise<Hex> {
  const domain = {
    name: "Stopline",
    version: "1",
    chainId: await s.publicClient.getChainId(),
    verifyingContract: s.accountAddress,
    ...o.domain,
  };
  return hdKey(o.signer ?? ROLES.owner).signTypedData({
    domain,
    types: GRANT_TYPES,
    primaryType: "AgentGrant",
    message: grant,
  });
}

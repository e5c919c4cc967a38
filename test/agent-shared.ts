// Shared world and behaviours for the agent-path suites (agent-*.test.ts): one fixture with a richer policy and the
// test-only mocks, and helpers that run one agent attempt on either path (a direct `executeAsAgent` from the key, or a
// UserOperation through the real EntryPoint's `handleOps`) and check the refusal, the counters and the balances.
import { expect } from "chai";
import type { NetworkConnection } from "hardhat/types/network";
import {
  type Abi,
  type Address,
  type Hex,
  BaseError,
  ContractFunctionRevertedError,
  type TransactionReceipt,
  concat,
  decodeErrorResult,
  decodeEventLog,
  encodeErrorResult,
  encodeFunctionData,
  getAddress,
  numberToHex,
  parseEther,
  size,
  slice,
  toFunctionSelector,
  zeroAddress,
} from "viem";

import { deployStopline } from "./helpers/fixture.js";
import {
  ENTRY_POINT_ABI,
  ENTRY_POINT_ADDRESS,
  type Execution,
  type PackedUserOperation,
  ROLES,
  USDC,
  agentIdFor,
  maxCost,
  nonceKeyOf,
  policy,
  userOp,
  encodeBatch,
} from "./helpers/stopline.js";

export const HOUR = 3_600n;
export const DAY = 86_400n;
export const WEEK = 7n * DAY;
export const ETH = zeroAddress;
/** A listed "token" with no code at all (THREATS class 12). */
export const NO_CODE_TOKEN = getAddress("0x000000000000000000000000000000000000c0de");
/** Extra keys beyond ROLES (indices of the node's default accounts). */
export const EXTRA_KEY_A = 10;
export const EXTRA_KEY_B = 11;

export const SEL = {
  transfer: "0xa9059cbb",
  approve: "0x095ea7b3",
  transferFrom: "0x23b872dd",
  none: "0x00000000",
} as const;

/** ERC-7821 batch mode with default exec type (what `execute` accepts). */
export { BATCH_MODE } from "./helpers/stopline.js";
export const encodeExecutions = encodeBatch;

/** Hour of week as SPEC section 2 defines it (h = 0 is Monday 00:00-00:59 UTC). */
export const hourOfWeek = (t: bigint): bigint => (t / HOUR + 72n) % 168n;
export const hoursMask = (...hours: number[]): bigint => hours.reduce((m, h) => m | (1n << BigInt(h)), 0n);

/**
 * The world every agent-path test starts from: `deployStopline`'s account, with agent 1's policy widened to ETH, a
 * token that returns false, a token address with no code and two contract merchants; agent 2 (USDC only) on
 * ROLES.agent2; a mock paymaster with an EntryPoint deposit (not allowed for agents); and the clock moved to a
 * Wednesday 12:00 UTC at least two weeks ahead, so each test has half a day before the daily period ends.
 */
export async function deployAgentWorld(conn: NetworkConnection) {
  const s = await deployStopline(conn);
  const { viem, networkHelpers } = conn;
  const allWallets = await viem.getWalletClients();
  const falseToken = await viem.deployContract("AgentPathMockFalseToken");
  const reentrant = await viem.deployContract("AgentPathMockReentrantMerchant");
  const reverting = await viem.deployContract("AgentPathMockRevertingMerchant");
  const weth = await viem.deployContract("AgentPathMockWETH");
  const paymaster = await viem.deployContract("AgentPathMockPaymaster", [ENTRY_POINT_ADDRESS]);
  const other = await viem.deployContract("TestUSDC", [s.addr.deployer]);
  await other.write.mint([s.accountAddress, USDC(10_000)]);
  await s.entryPoint.write.depositTo([paymaster.address], {
    value: parseEther("1"),
    account: s.wallets.deployer.account,
  });

  const limit = (token: Address, perPayment: bigint, perPeriod: bigint, lifetime: bigint) => ({
    token,
    perPayment,
    perPeriod,
    lifetime,
  });
  const policy1 = policy({
    limits: [
      limit(s.usdc.address, USDC(25), USDC(100), USDC(1_000)),
      limit(ETH, parseEther("0.01"), parseEther("0.05"), parseEther("0.5")),
      limit(falseToken.address, USDC(25), USDC(100), USDC(1_000)),
      limit(NO_CODE_TOKEN, USDC(25), USDC(100), USDC(1_000)),
    ],
    merchants: [s.addr.merchantA, s.addr.merchantB, reentrant.address, reverting.address],
  });
  await s.account.write.updatePolicy([s.agentId, policy1]);
  const agentId2 = agentIdFor(2);
  const policy2 = policy({
    limits: [limit(s.usdc.address, USDC(25), USDC(100), USDC(1_000))],
    merchants: [s.addr.merchantA, s.addr.merchantB],
  });
  await s.account.write.grantAgent([agentId2, s.addr.agent2, policy2]);

  // Monday 00:00 UTC is a multiple of a week plus 4 days (1970-01-05 was a Monday); go at least two weeks ahead.
  const now = (await s.publicClient.getBlock()).timestamp;
  const monday0 = ((now + 2n * WEEK - 4n * DAY) / WEEK + 1n) * WEEK + 4n * DAY;
  const t0 = monday0 + 2n * DAY + 12n * HOUR; // Wednesday 12:00 UTC
  await networkHelpers.time.increaseTo(t0);

  const eth = (to: Address, value: bigint, callData: Hex = "0x"): Execution => ({ target: to, value, callData });
  const call = (target: Address, callData: Hex, value = 0n): Execution => ({ target, value, callData });
  const erc20 = (token: Address, fn: "transfer" | "approve", to: Address, amount: bigint): Execution => ({
    target: token,
    value: 0n,
    callData: encodeFunctionData({ abi: s.usdc.abi, functionName: fn, args: [to, amount] }),
  });
  const poke = (m: Address = reentrant.address, value = 0n): Execution => ({
    target: m,
    value,
    callData: encodeFunctionData({ abi: reentrant.abi, functionName: "poke" }),
  });

  const errorAbi = [
    ...s.account.abi,
    ...(ENTRY_POINT_ABI as Abi),
    ...reverting.abi,
    ...paymaster.abi,
    ...s.usdc.abi,
  ].filter((x) => x.type === "error") as Abi;

  return {
    ...s,
    allWallets,
    falseToken,
    reentrant,
    reverting,
    weth,
    paymaster,
    other,
    policy1,
    agentId2,
    policy2,
    monday0,
    t0,
    /** End of the daily period that contains `t` (agent 1 and 2 are anchored at 0 with a one-day period). */
    dayEnd: (t: bigint) => t - (t % DAY) + DAY,
    eth,
    call,
    erc20,
    poke,
    errorAbi,
  };
}

/**
 * A suite that adds contracts of its own to the world can give `extraState`: `readState` then includes what it returns,
 * so every shared "nothing changed" check covers those contracts too.
 */
export type World = Awaited<ReturnType<typeof deployAgentWorld>> & { extraState?: () => Promise<unknown> };

// ---------------------------------------------------------------- errors

export type Err = { name: string; args: readonly unknown[] };
export const err = (name: string, ...args: unknown[]): Err => ({ name, args });

export function encodeErr(w: World, e: Err): Hex {
  return encodeErrorResult({ abi: w.errorAbi, errorName: e.name, args: e.args });
}

export function decodeErr(w: World, data: Hex): { name: string; args: readonly unknown[] } {
  if (data === "0x") return { name: "(empty revert data)", args: [] };
  try {
    const d = decodeErrorResult({ abi: w.errorAbi, data });
    return { name: d.errorName, args: (d.args ?? []) as readonly unknown[] };
  } catch {
    return { name: "(unknown error)", args: [data] };
  }
}

/** Asserts that revert data is exactly the ABI encoding of `expected` (decoded first, for a readable diff). */
export function expectError(w: World, data: Hex | undefined, expected: Err) {
  expect(data, `expected a revert with ${expected.name}`).to.be.a("string");
  const want = encodeErr(w, expected);
  expect(decodeErr(w, data as Hex)).to.deep.equal(decodeErr(w, want));
  expect(data).to.equal(want);
}

/** The raw revert data carried by a viem error, if any. */
export function revertDataOf(e: unknown): Hex | undefined {
  if (!(e instanceof BaseError)) throw e;
  const r = e.walk((x) => x instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
  if (r?.raw !== undefined) return r.raw;
  const withData = e.walk((x) => typeof (x as { data?: unknown }).data === "string") as { data?: Hex } | null;
  return withData?.data;
}

// ---------------------------------------------------------------- attempts on either path

export type Path = "direct" | "userOp";
export const PATHS: Path[] = ["direct", "userOp"];
export const pathLabel = (p: Path) => (p === "direct" ? "direct call" : "UserOperation");

export type OpFields = Partial<Parameters<typeof userOp>[0]>;

/** One agent action: a batch for an agent, sent by (or signed by) a key. */
export interface Attempt {
  calls: Execution[];
  /** default: agent 1 */
  agentId?: Hex;
  /** role index of the sending/signing key; default: the agent's own key */
  signer?: number;
  /** timestamp of the block the attempt lands in; default: latest + 1 */
  at?: bigint;
  /** the whole `executeAsAgent` calldata, when it must not be the canonical encoding of `calls` */
  rawCallData?: Hex;
  /** UserOperation only: nonce (default: next on the agent's own key), fields, and a signature rewrite */
  nonce?: bigint;
  fields?: OpFields;
  resign?: (op: PackedUserOperation) => Hex;
}

export const signerOf = (w: World, a: Attempt) =>
  a.signer ?? ((a.agentId ?? w.agentId) === w.agentId2 ? ROLES.agent2 : ROLES.agent);

export async function buildOp(w: World, a: Attempt): Promise<PackedUserOperation> {
  const id = a.agentId ?? w.agentId;
  const signer = signerOf(w, a);
  let op: PackedUserOperation;
  if (a.rawCallData !== undefined) {
    const nonce = a.nonce ?? ((await w.entryPoint.read.getNonce([w.accountAddress, nonceKeyOf(id)])) as bigint);
    op = await w.sign(userOp({ sender: w.accountAddress, nonce, callData: a.rawCallData, ...a.fields }), signer);
  } else {
    op = await w.agentOp(a.calls, { agentId: id, signer, nonce: a.nonce, fields: a.fields });
  }
  if (a.resign) op = { ...op, signature: a.resign(op) };
  return op;
}

export type DirectResult = { ok: true; receipt: TransactionReceipt } | { ok: false; data: Hex | undefined };

/** Sends `executeAsAgent` from the key with a fixed gas limit, so that a refusal is mined in its own block. */
export async function sendDirect(w: World, a: Attempt): Promise<DirectResult> {
  const wallet = w.allWallets[signerOf(w, a)];
  const data =
    a.rawCallData ??
    encodeFunctionData({ abi: w.account.abi, functionName: "executeAsAgent", args: [a.agentId ?? w.agentId, a.calls] });
  try {
    const hash = await wallet.sendTransaction({ to: w.accountAddress, data, gas: 3_000_000n });
    return { ok: true, receipt: await w.publicClient.waitForTransactionReceipt({ hash }) };
  } catch (e) {
    return { ok: false, data: revertDataOf(e) };
  }
}

export const SELECTOR_EXECUTE_AS_AGENT = toFunctionSelector("executeAsAgent(bytes32,(address,uint256,bytes)[])");

export type OpOutcome = {
  hash: Hex;
  op: PackedUserOperation;
  success: boolean;
  actualGasCost: bigint;
  revertReason?: Hex;
  gasCharged?: { charged: bigint; remaining: bigint };
};
export type BundleResult =
  { mined: true; receipt: TransactionReceipt; ops: OpOutcome[] } | { mined: false; data: Hex | undefined };

/** Sends a bundle through `handleOps` and reads each op's outcome from the EntryPoint's and the account's events. */
export async function sendBundle(w: World, ops: PackedUserOperation[]): Promise<BundleResult> {
  const hashes = await Promise.all(ops.map(async (op) => (await w.entryPoint.read.getUserOpHash([op])) as Hex));
  let receipt: TransactionReceipt;
  try {
    receipt = await w.handleOps(ops);
  } catch (e) {
    return { mined: false, data: revertDataOf(e) };
  }
  const outcomes: OpOutcome[] = ops.map((op, i) => ({ hash: hashes[i], op, success: false, actualGasCost: -1n }));
  const byHash = new Map(outcomes.map((o) => [o.hash, o]));
  // AgentGasCharged comes in validation, in op order, before any execution
  const gasEvents: { charged: bigint; remaining: bigint; agentId: Hex }[] = [];
  for (const log of receipt.logs) {
    if (getAddress(log.address) === ENTRY_POINT_ADDRESS) {
      try {
        const ev = decodeEventLog({ abi: ENTRY_POINT_ABI, data: log.data, topics: log.topics }) as unknown as {
          eventName: string;
          args: Record<string, unknown>;
        };
        const o = byHash.get(ev.args.userOpHash as Hex);
        if (o === undefined) continue;
        if (ev.eventName === "UserOperationEvent") {
          o.success = ev.args.success as boolean;
          o.actualGasCost = ev.args.actualGasCost as bigint;
        } else if (ev.eventName === "UserOperationRevertReason") {
          o.revertReason = ev.args.revertReason as Hex;
        }
      } catch {
        // events of the EntryPoint that this suite does not read
      }
    } else if (getAddress(log.address) === getAddress(w.accountAddress)) {
      try {
        const ev = decodeEventLog({ abi: w.account.abi, data: log.data, topics: log.topics });
        if (ev.eventName === "AgentGasCharged") gasEvents.push(ev.args as (typeof gasEvents)[number]);
      } catch {
        // other account events
      }
    }
  }
  // attribute AgentGasCharged events to the agent ops that paid for their own gas, in order
  const charging = outcomes.filter(
    (o) => o.op.callData.startsWith(SELECTOR_EXECUTE_AS_AGENT) && o.op.paymasterAndData === "0x",
  );
  charging.forEach((o, i) => {
    if (gasEvents[i] !== undefined) o.gasCharged = { charged: gasEvents[i].charged, remaining: gasEvents[i].remaining };
  });
  return { mined: true, receipt, ops: outcomes };
}

export async function sendUserOp(w: World, a: Attempt, op?: PackedUserOperation) {
  return sendBundle(w, [op ?? (await buildOp(w, a))]);
}

// ---------------------------------------------------------------- state snapshots

/** Everything an agent attempt could move: balances, allowances, deposits, nonces and every agent counter. */
export async function readState(w: World, ids: Hex[] = [w.agentId, w.agentId2]) {
  const holders = [
    w.accountAddress,
    w.addr.merchantA,
    w.addr.merchantB,
    w.addr.stranger,
    w.reentrant.address,
    w.reverting.address,
    w.weth.address,
  ];
  const tokens = [w.usdc.address, ETH, w.falseToken.address, NO_CODE_TOKEN, w.other.address];
  const ethHolders = holders.filter((h) => h !== w.addr.stranger);
  return {
    usdc: await Promise.all(holders.map((h) => w.usdc.read.balanceOf([h]))),
    other: await Promise.all(holders.map((h) => w.other.read.balanceOf([h]))),
    allowances: await Promise.all(holders.map((h) => w.usdc.read.allowance([w.accountAddress, h]))),
    eth: await Promise.all(ethHolders.map((h) => w.publicClient.getBalance({ address: h }))),
    wethCredit: await w.weth.read.balanceOf([w.accountAddress]),
    deposit: await w.deposit(),
    paymasterDeposit: (await w.entryPoint.read.balanceOf([w.paymaster.address])) as bigint,
    ownerNonce: (await w.entryPoint.read.getNonce([w.accountAddress, 0n])) as bigint,
    paused: await w.account.read.agentsPaused(),
    agents: await Promise.all(
      ids.map(async (id) => ({
        id,
        nonce: (await w.entryPoint.read.getNonce([w.accountAddress, nonceKeyOf(id)])) as bigint,
        usage: [...(await w.account.read.agentUsage([id]))],
        spent: await Promise.all(tokens.map(async (t) => [...(await w.account.read.spent([id, t]))])),
        remaining: [...(await w.account.read.remaining([id, w.usdc.address]))],
      })),
    ),
    extra: w.extraState === undefined ? null : await w.extraState(),
  };
}
export type State = Awaited<ReturnType<typeof readState>>;

/**
 * Reads the state as it is at timestamp `at` without the attempt (a probe block, then the chain is rolled back), so a
 * test can compare it with the state after an attempt landing at `at`, even across a period boundary.
 */
export async function stateAt(w: World, at: bigint, ids?: Hex[]): Promise<State> {
  const { networkHelpers } = w.conn;
  const snap = await networkHelpers.takeSnapshot();
  await networkHelpers.time.setNextBlockTimestamp(at);
  await networkHelpers.mine();
  const st = await readState(w, ids);
  await snap.restore();
  return st;
}

export async function nextTimestamp(w: World, a: Attempt) {
  return a.at ?? (await w.publicClient.getBlock()).timestamp + 1n;
}

// ---------------------------------------------------------------- shared behaviours

type ErrFn = (w: World, at: bigint) => Err | Promise<Err>;
export type UserOpOutcome =
  { validation: ErrFn } | { execution: ErrFn } | { entryPoint: "AA22 expired or not due" | "AA24 signature error" };

export interface RefusalCase {
  /** state changes before the attempt (owner actions, earlier payments, time) */
  setup?: (w: World) => Promise<void>;
  attempt: (w: World) => Attempt | Promise<Attempt>;
  /** the error of the direct call; null when the refusal cannot arise on that path */
  direct: ErrFn | null;
  /** how the UserOperation fails; null when the refusal cannot arise on that path */
  userOp: UserOpOutcome | null;
  /**
   * what `checkAgentCalls` returns at the refused block: the "same" bytes as the direct call (default), "empty" (the
   * refusal comes from the key or from inside a call, which the view does not see), or another error
   */
  view?: "same" | "empty" | ErrFn;
}

/**
 * Runs a refusal on the direct path and the UserOperation path (one `it` each) and checks, besides the exact error:
 * nothing moved and no counter changed, except, for a refusal at execution of a UserOperation, the gas budget charge
 * of exactly the op's maximum cost, the op's nonce and the EntryPoint deposit paying the op's actual gas cost.
 */
export function refusesOnBothPaths(title: string, load: () => Promise<World>, c: RefusalCase) {
  if (c.direct !== null) {
    const directErr = c.direct;
    it(`${title} (direct call)`, async function () {
      const w = await load();
      await c.setup?.(w);
      const a = await c.attempt(w);
      const at = await nextTimestamp(w, a);
      const before = await stateAt(w, at);
      await w.conn.networkHelpers.time.setNextBlockTimestamp(at);
      const r = await sendDirect(w, a);
      expect(r.ok, "the direct call should revert").to.equal(false);
      const data = (r as { data: Hex | undefined }).data;
      expectError(w, data, await directErr(w, at));
      expect((await w.publicClient.getBlock()).timestamp).to.equal(at);
      const view = await w.account.read.checkAgentCalls([a.agentId ?? w.agentId, a.calls]);
      const v = c.view ?? "same";
      const wantView = v === "same" ? data : v === "empty" ? "0x" : encodeErr(w, await v(w, at));
      expect(view, "checkAgentCalls at the refused block").to.equal(wantView);
      expect(await readState(w)).to.deep.equal(before);
    });
  }
  if (c.userOp !== null) {
    const outcome = c.userOp;
    it(`${title} (UserOperation)`, async function () {
      const w = await load();
      await c.setup?.(w);
      const a = await c.attempt(w);
      const op = await buildOp(w, a);
      const at = await nextTimestamp(w, a);
      const before = await stateAt(w, at);
      await w.conn.networkHelpers.time.setNextBlockTimestamp(at);
      const r = await sendUserOp(w, a, op);
      if ("validation" in outcome || "entryPoint" in outcome) {
        expect(r.mined, "handleOps should revert").to.equal(false);
        const data = (r as { data: Hex | undefined }).data;
        if ("validation" in outcome) {
          const inner = encodeErr(w, await outcome.validation(w, at));
          expectError(w, data, err("FailedOpWithRevert", 0n, "AA23 reverted", inner));
        } else {
          expectError(w, data, err("FailedOp", 0n, outcome.entryPoint));
        }
        expect(await readState(w)).to.deep.equal(before);
      } else {
        expect(r.mined, "handleOps should be mined").to.equal(true);
        const o = (r as { ops: OpOutcome[] }).ops[0];
        expect(o.success, "the op should fail at execution").to.equal(false);
        expectError(w, o.revertReason, await outcome.execution(w, at));
        expect(await readState(w)).to.deep.equal(afterChargedRefusal(w, before, a, op, o));
      }
    });
  }
}

/** The state after an op refused at execution: gas budget charged, nonce used, deposit paid the actual cost. */
export function afterChargedRefusal(w: World, before: State, a: Attempt, op: PackedUserOperation, o: OpOutcome): State {
  const id = a.agentId ?? w.agentId;
  const cost = maxCost(op);
  expect(o.gasCharged, "AgentGasCharged in validation").to.not.equal(undefined);
  const expected = structuredClone(before);
  expected.deposit -= o.actualGasCost;
  for (const ag of expected.agents) {
    if (ag.id !== id) continue;
    ag.nonce += 1n;
    const [charged, left] = ag.usage;
    ag.usage[0] = charged + cost;
    ag.usage[1] = left === 2n ** 256n - 1n ? left : left - cost;
    expect(o.gasCharged).to.deep.equal({ charged: cost, remaining: ag.usage[1] });
  }
  return expected;
}

/** Runs `fn` once per path, as two `it`s named after the path. */
export function onBothPaths(title: string, fn: (path: Path) => Promise<void>) {
  for (const p of PATHS) {
    it(`${title} (${pathLabel(p)})`, async function () {
      await fn(p);
    });
  }
}

/** Makes an attempt on `path` and asserts it went through; returns the op outcome on the UserOperation path. */
export async function pays(w: World, path: Path, a: Attempt): Promise<OpOutcome | undefined> {
  if (a.at !== undefined) await w.conn.networkHelpers.time.setNextBlockTimestamp(a.at);
  if (path === "direct") {
    const r = await sendDirect(w, a);
    if (!r.ok) expect.fail(`direct call reverted with ${JSON.stringify(decodeErr(w, r.data ?? "0x"), big)}`);
    expect(r.receipt.status).to.equal("success");
    return undefined;
  }
  const r = await sendUserOp(w, a);
  if (!r.mined) expect.fail(`handleOps reverted with ${JSON.stringify(decodeErr(w, r.data ?? "0x"), big)}`);
  const o = r.ops[0];
  if (!o.success) expect.fail(`op failed with ${JSON.stringify(decodeErr(w, o.revertReason ?? "0x"), big)}`);
  return o;
}

/** Makes an attempt on `path` and returns the refusal's revert data (the op's revert reason, for a mined op). */
export async function refusal(w: World, path: Path, a: Attempt): Promise<Hex | undefined> {
  if (a.at !== undefined) await w.conn.networkHelpers.time.setNextBlockTimestamp(a.at);
  if (path === "direct") {
    const r = await sendDirect(w, a);
    expect(r.ok, "the direct call should revert").to.equal(false);
    return (r as { data: Hex | undefined }).data;
  }
  const r = await sendUserOp(w, a);
  if (!r.mined) return r.data;
  expect(r.ops[0].success, "the op should fail").to.equal(false);
  return r.ops[0].revertReason;
}

const big = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

/** paymasterAndData for `pm` with 100k verification gas and 50k postOp gas. */
export function paymasterData(pm: Hex): Hex {
  return concat([pm, numberToHex(100_000n, { size: 16 }), numberToHex(50_000n, { size: 16 })]);
}

// ---------------------------------------------------------------- signatures and calldata tricks

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** The same signature with s replaced by n - s and v flipped: valid for ecrecover, refused by OpenZeppelin's ECDSA. */
export function highS(sig: Hex): Hex {
  const r = slice(sig, 0, 32);
  const s = BigInt(slice(sig, 32, 64));
  const v = Number(BigInt(slice(sig, 64, 65)));
  return concat([r, numberToHex(SECP256K1_N - s, { size: 32 }), numberToHex(v === 27 ? 28 : 27, { size: 1 })]);
}

/** The EIP-2098 64-byte form (r, yParity|s) of a 65-byte signature. */
export function compact(sig: Hex): Hex {
  const r = slice(sig, 0, 32);
  const s = BigInt(slice(sig, 32, 64));
  const v = BigInt(slice(sig, 64, 65));
  return concat([r, numberToHex(((v - 27n) << 255n) | s, { size: 32 })]);
}

/** `executeAsAgent(agentId, real)` encoded with the array placed after a decoy array the offset skips over. */
export function withDecoy(w: World, agentId: Hex, real: Execution[], decoy: Execution[]): Hex {
  const canonical = encodeFunctionData({ abi: w.account.abi, functionName: "executeAsAgent", args: [agentId, real] });
  const realArray = slice(encodeExecutions(real), 32); // drop the head word (offset 0x20)
  const decoyArray = slice(encodeExecutions(decoy), 32);
  const offset = numberToHex(0x40 + size(decoyArray), { size: 32 });
  return concat([slice(canonical, 0, 4), agentId, offset, decoyArray, realArray]);
}

// Test fixtures: a real EntryPoint v0.8 at its canonical address, the Stopline implementation and factory, a test USDC,
// and helpers to build, sign and bundle UserOperations. Shared by every TypeScript test and by the gas benchmark.
import { createRequire } from "node:module";

import {
  type Abi,
  type Address,
  type Hex,
  concat,
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  keccak256,
  maxUint256,
  maxUint48,
  padHex,
  toHex,
  zeroAddress,
  zeroHash,
} from "viem";
import { type HDAccount, mnemonicToAccount } from "viem/accounts";
import { expect } from "chai";

const require = createRequire(import.meta.url);
const entryPointArtifact = require("@account-abstraction/contracts/artifacts/EntryPoint.json") as {
  abi: Abi;
  bytecode: Hex;
};

export const ENTRY_POINT_ABI = entryPointArtifact.abi;
/** Canonical EntryPoint v0.8 address (where the deterministic deployer puts the package's bytecode). */
export const ENTRY_POINT_ADDRESS = getAddress("0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108");
export const DETERMINISTIC_DEPLOYER = getAddress("0x4e59b44847b379578588920ca78fbf26c0b4956c");
export const PERMIT2 = getAddress("0x000000000022D473030F116dDEE9F6B43aC78BA3");

export const ANY_HOUR = (1n << 168n) - 1n;
export const UNLIMITED = maxUint256;
export const NO_EXPIRY = Number(maxUint48);
export const UNLIMITED_CALLS = 2 ** 32 - 1;
export const USDC = (n: number | bigint) => BigInt(n) * 1_000_000n;
export const SIG_VALIDATION_FAILED = 1n;

/** The hardhat network's default mnemonic: tests sign with these keys locally (hashes, typed data). */
const MNEMONIC = "test test test test test test test test test test test junk";
export const hdKey = (index: number): HDAccount => mnemonicToAccount(MNEMONIC, { addressIndex: index });

/** Well-known account roles, by index in the node's default accounts. */
export const ROLES = {
  deployer: 0,
  owner: 1,
  guardian: 2,
  agent: 3,
  agent2: 4,
  merchantA: 5,
  merchantB: 6,
  stranger: 7,
  bundler: 8,
  newKey: 9,
} as const;

/** A TokenLimit as the contract takes it (the x402 lane fields last). */
export type TokenLimit = {
  token: Address;
  perPayment: bigint;
  perPeriod: bigint;
  lifetime: bigint;
  laneCount: number;
  laneMax: bigint;
};
/** A TokenLimit whose lane fields default to 0 (lane off). */
export type TokenLimitInput = Omit<TokenLimit, "laneCount" | "laneMax"> & Partial<TokenLimit>;
export type AgentPolicy = {
  validAfter: number;
  validUntil: number;
  period: number;
  activeHours: bigint;
  maxCallsPerPeriod: number;
  gasBudget: bigint;
  mandate: Hex;
  limits: TokenLimit[];
  merchants: Address[];
};
export type Execution = { target: Address; value: bigint; callData: Hex };

/** ERC-7821 batch mode (call type 0x01, default exec type, no selector, no opData). */
export const BATCH_MODE: Hex = "0x0100000000000000000000000000000000000000000000000000000000000000";

const EXECUTIONS = [
  {
    type: "tuple[]",
    components: [
      { name: "target", type: "address" },
      { name: "value", type: "uint256" },
      { name: "callData", type: "bytes" },
    ],
  },
] as const;

/** ERC-7821 batch executionData (and the tail of executeAsAgent's arguments): abi.encode(Execution[]). */
export const encodeBatch = (calls: Execution[]): Hex => encodeAbiParameters(EXECUTIONS, [calls]);

/** An agent id whose low 192 bits (its nonce key) are `n`. */
export const agentIdFor = (n: number | bigint, high = 0n): Hex => toHex((high << 192n) | BigInt(n), { size: 32 });
export const nonceKeyOf = (agentId: Hex): bigint => BigInt(agentId) & ((1n << 192n) - 1n);

/** A TokenLimit with its lane fields filled in (0 = lane off) where absent. */
export const limit = (l: TokenLimitInput): TokenLimit => ({ laneCount: 0, laneMax: 0n, ...l });

/** A policy as the contract takes it: defaults for a daily-period agent, lane fields filled in (0 = lane off). */
export function policy(
  overrides: Partial<Omit<AgentPolicy, "limits">> & { limits: TokenLimitInput[]; merchants: Address[] },
): AgentPolicy {
  const { limits, ...rest } = overrides;
  return {
    validAfter: 0,
    validUntil: NO_EXPIRY,
    period: 86_400,
    activeHours: ANY_HOUR,
    maxCallsPerPeriod: UNLIMITED_CALLS,
    gasBudget: 10n ** 17n,
    mandate: keccak256(toHex("Buy office coffee and API credits, at most 100 USDC a day")),
    ...rest,
    limits: limits.map(limit),
  };
}

// ---------------------------------------------------------------- UserOperations

export type PackedUserOperation = {
  sender: Address;
  nonce: bigint;
  initCode: Hex;
  callData: Hex;
  accountGasLimits: Hex;
  preVerificationGas: bigint;
  gasFees: Hex;
  paymasterAndData: Hex;
  signature: Hex;
};

export const packUints = (high: bigint, low: bigint): Hex => padHex(toHex((high << 128n) | low), { size: 32 });

export function userOp(p: {
  sender: Address;
  nonce: bigint;
  callData: Hex;
  initCode?: Hex;
  verificationGasLimit?: bigint;
  callGasLimit?: bigint;
  preVerificationGas?: bigint;
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
  paymasterAndData?: Hex;
}): PackedUserOperation {
  return {
    sender: p.sender,
    nonce: p.nonce,
    initCode: p.initCode ?? "0x",
    callData: p.callData,
    accountGasLimits: packUints(p.verificationGasLimit ?? 500_000n, p.callGasLimit ?? 500_000n),
    preVerificationGas: p.preVerificationGas ?? 60_000n,
    gasFees: packUints(p.maxPriorityFeePerGas ?? 1_000_000_000n, p.maxFeePerGas ?? 2_000_000_000n),
    paymasterAndData: p.paymasterAndData ?? "0x",
    signature: "0x",
  };
}

/** Maximum cost the account is charged for an op it pays for: all gas limits times maxFeePerGas. */
export function maxCost(op: PackedUserOperation): bigint {
  const gl = BigInt(op.accountGasLimits);
  const fees = BigInt(op.gasFees);
  const mask = (1n << 128n) - 1n;
  return ((gl >> 128n) + (gl & mask) + op.preVerificationGas) * (fees & mask);
}

export const nonceFor = (key: bigint, seq = 0n): bigint => (key << 64n) | seq;

export { concat, encodeFunctionData, zeroAddress, zeroHash };

/**
 * Awaits `p` and returns what it rejected with, failing the test if it resolved. With `cls`, the rejection must be an
 * instance of it; with `text`, its message must contain it.
 */
export async function rejection<T = unknown>(
  p: Promise<unknown>,
  cls?: abstract new (...args: never[]) => T,
  text?: string,
): Promise<T> {
  const outcome = await p.then(
    () => ({ resolved: true as const }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) throw new Error("expected a rejection, but it resolved");
  if (cls !== undefined) expect(outcome.error, "the rejection's class").to.be.instanceOf(cls);
  if (text !== undefined) expect((outcome.error as Error).message).to.contain(text);
  return outcome.error as T;
}

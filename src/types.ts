import type { Address, Hex } from "viem";

/** One spending limit of an agent for one token (address(0) = native ETH). Amounts in the token's smallest units. */
export type TokenLimit = {
  /** The token, or the zero address for native ETH. */
  token: Address;
  /** Largest single payment; `UNLIMITED` (2^256-1) for no cap. */
  perPayment: bigint;
  /** Most the agent may pay in one period; `UNLIMITED` for no cap. */
  perPeriod: bigint;
  /** Most the agent may ever pay; `UNLIMITED` for no cap. */
  lifetime: bigint;
  /**
   * x402 lane (signature payments, SPEC section 7): how many the agent may sign per period, at most 256. Default 0:
   * the lane is off.
   */
  laneCount?: number;
  /** x402 lane: the largest signature payment, `0 < laneMax <= perPayment` when `laneCount` is set. Default 0. */
  laneMax?: bigint;
};

/** A TokenLimit as the contract takes it and returns it: the lane fields spelled out. */
export type ContractTokenLimit = Required<TokenLimit>;

/** The policy with every TokenLimit's lane fields filled in (0 when absent), as the contract's ABI needs them. */
export function toContractPolicy(policy: AgentPolicy): Omit<AgentPolicy, "limits"> & {
  limits: readonly ContractTokenLimit[];
} {
  return {
    ...policy,
    limits: policy.limits.map((lim) => ({
      token: lim.token,
      perPayment: lim.perPayment,
      perPeriod: lim.perPeriod,
      lifetime: lim.lifetime,
      laneCount: lim.laneCount ?? 0,
      laneMax: lim.laneMax ?? 0n,
    })),
  };
}

/** Everything an agent may do (SPEC section 2), exactly as the contract takes it. Build one with `buildPolicy`. */
export type AgentPolicy = {
  /** First second the key may act (inclusive, unix seconds). Also the anchor of the period schedule. */
  validAfter: number;
  /** Last second the key may act (inclusive, unix seconds); `NO_EXPIRY` (2^48-1) for none. */
  validUntil: number;
  /** Seconds per spending period (> 0). */
  period: number;
  /** Bit h set = UTC hour-of-week h allowed (h = 0 is Monday 00:00 UTC); `ANY_HOUR` for any time. */
  activeHours: bigint;
  /** Calls per period (each call of a batch counts); `UNLIMITED_CALLS` (2^32-1) for no limit. */
  maxCallsPerPeriod: number;
  /** Wei the account may pay for this agent's UserOperations, ever; `UNLIMITED` for no limit. */
  gasBudget: bigint;
  /** Hash of the human instruction this grant implements. */
  mandate: Hex;
  /** The only tokens (and ETH) the agent may pay with. */
  limits: readonly TokenLimit[];
  /** The only addresses the agent may pay. */
  merchants: readonly Address[];
};

/** One call of an agent batch (the ERC-7579 `Execution` struct). */
export type Execution = { target: Address; value: bigint; callData: Hex };

/** What the toolkit needs to show amounts of a token. */
export type TokenMetadata = { symbol: string; decimals: number };

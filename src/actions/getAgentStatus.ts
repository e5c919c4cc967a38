import type { Address, Chain, Client, Hex, ReadContractErrorType, Transport } from "viem";
import { getBlock, readContract } from "viem/actions";
import { getAction } from "viem/utils";

import { agentAccountAbi } from "../abis/generated.js";
import { ETH_METADATA, NO_EXPIRY, UNLIMITED, UNLIMITED_CALLS } from "../constants.js";
import type { GuardrailViolationErrorType } from "../errors/guardrail.js";
import type { InvalidPolicyInputErrorType } from "../errors/policy.js";
import type { AgentPolicy, TokenMetadata } from "../types.js";
import { formatAmount } from "../utils/format.js";
import { nextAllowedHour } from "../utils/hours.js";
import { readTokenMetadata } from "../utils/tokens.js";
import { requireAddress, requireAgentId, toActionError } from "./internal.js";

export type GetAgentStatusParameters = {
  /** The Stopline account. */
  address: Address;
  agentId: Hex;
  /** The time to judge "may act now" at (unix seconds); default: the latest block's timestamp. */
  now?: bigint | undefined;
};

/** An amount in token units, and formatted with the token's decimals and symbol (`"20.00 USDC"`, `"unlimited"`). */
export type FormattedAmount = { amount: bigint; formatted: string; unlimited: boolean };

export type AgentTokenStatus = {
  /** The token (the zero address for ETH). */
  token: Address;
  symbol: string;
  decimals: number;
  /** The caps of the policy. */
  perPayment: FormattedAmount;
  perPeriod: FormattedAmount;
  lifetime: FormattedAmount;
  /** Spent so far, in the current period and ever. */
  spentInPeriod: FormattedAmount;
  spentInLifetime: FormattedAmount;
  /** What is left now: in the current period and in the lifetime (the contract's `remaining`). */
  remainingInPeriod: FormattedAmount;
  remainingInLifetime: FormattedAmount;
  /** When the current period ends and the period's budget comes back (unix seconds). */
  periodResetsAt: bigint;
};

/** Why an agent may not act now, in the contract's terms (the first that applies, in SPEC's order). */
export type AgentBlockedBy =
  "AgentsPaused" | "AgentIsRevoked" | "AgentNotYetValid" | "AgentExpired" | "OutsideActiveHours";

export type GetAgentStatusReturnType = {
  address: Address;
  agentId: Hex;
  /** The current key; `undefined` once revoked. */
  key: Address | undefined;
  revoked: boolean;
  /** Whether the account's agents are paused. */
  paused: boolean;
  policy: AgentPolicy;
  /** The time the status was judged at (unix seconds). */
  now: bigint;
  /** First second the agent may act, and the last (`undefined`: no expiry). */
  validAfter: bigint;
  validUntil: bigint | undefined;
  /** When the current period ends (unix seconds). */
  periodResetsAt: bigint;
  tokens: AgentTokenStatus[];
  /** The gas budget in wei (formatted in ETH): its total, what was charged, what is left. */
  gas: { budget: FormattedAmount; charged: FormattedAmount; remaining: FormattedAmount };
  /** Calls in the current period and the limit (`undefined` = unlimited). */
  calls: { limit: number | undefined; inPeriod: bigint; remaining: bigint | undefined };
  /**
   * Whether the agent may act right now: not paused, not revoked, inside its validity window and its active hours.
   * (Caps and the call limit are per payment: see `tokens` and `calls`.)
   */
  mayActNow: boolean;
  blockedBy: AgentBlockedBy | undefined;
  /**
   * When it next may act (unix seconds): `now` if it may; the start of its validity window or of its next active
   * hour; `undefined` if it never will (revoked, expired, no allowed hour before the window ends) or while paused.
   */
  nextMayActAt: bigint | undefined;
};

export type GetAgentStatusErrorType = ReadContractErrorType | GuardrailViolationErrorType | InvalidPolicyInputErrorType;

function amount(value: bigint, meta: TokenMetadata): FormattedAmount {
  const unlimited = value === UNLIMITED;
  return {
    amount: value,
    unlimited,
    formatted: unlimited ? "unlimited" : `${formatAmount(value, meta.decimals)} ${meta.symbol}`,
  };
}

/**
 * Everything about an agent, now: for each token of its policy, the caps, what was spent and what is left (in token
 * units and formatted with the token's symbol and decimals, read on-chain), when the period resets, the gas budget
 * left, the calls made, and whether the agent may act right now and, if not, when it next may.
 *
 * @throws `AgentNotFoundError` for an id that was never granted.
 * @example
 * const s = await getAgentStatus(publicClient, { address: account, agentId })
 * console.log(s.tokens[0].remainingInPeriod.formatted, s.mayActNow, s.nextMayActAt)
 * // "75.00 USDC" true 1795852800n
 */
export async function getAgentStatus(
  client: Client<Transport, Chain | undefined>,
  parameters: GetAgentStatusParameters,
): Promise<GetAgentStatusReturnType> {
  const address = requireAddress(parameters.address);
  const { agentId } = parameters;
  requireAgentId(agentId);
  const read = getAction(client, readContract, "readContract");
  const [agent, paused, usage, now] = await Promise.all([
    read({ address, abi: agentAccountAbi, functionName: "getAgent", args: [agentId] }).catch((e: unknown) => {
      throw toActionError(e);
    }),
    read({ address, abi: agentAccountAbi, functionName: "agentsPaused" }),
    read({ address, abi: agentAccountAbi, functionName: "agentUsage", args: [agentId] }),
    parameters.now ?? getAction(client, getBlock, "getBlock")({}).then((b) => b.timestamp),
  ]);
  const [key, revoked, policy] = agent as readonly [Address, boolean, AgentPolicy];
  const [gasCharged, gasRemaining, callsInPeriod, periodResetsAt] = usage;

  const tokens = await Promise.all(
    policy.limits.map(async (lim): Promise<AgentTokenStatus> => {
      const [meta, rem, spent] = await Promise.all([
        readTokenMetadata(client, lim.token),
        read({ address, abi: agentAccountAbi, functionName: "remaining", args: [agentId, lim.token] }),
        read({ address, abi: agentAccountAbi, functionName: "spent", args: [agentId, lim.token] }),
      ]);
      return {
        token: lim.token,
        symbol: meta.symbol,
        decimals: meta.decimals,
        perPayment: amount(lim.perPayment, meta),
        perPeriod: amount(lim.perPeriod, meta),
        lifetime: amount(lim.lifetime, meta),
        spentInPeriod: amount(spent[0], meta),
        spentInLifetime: amount(spent[1], meta),
        remainingInPeriod: amount(rem[1], meta),
        remainingInLifetime: amount(rem[2], meta),
        periodResetsAt: rem[3] === 0n ? periodResetsAt : rem[3],
      };
    }),
  );

  const validAfter = BigInt(policy.validAfter);
  const validUntil = policy.validUntil === NO_EXPIRY ? undefined : BigInt(policy.validUntil);
  let blockedBy: AgentBlockedBy | undefined;
  let nextMayActAt: bigint | undefined;
  if (paused) blockedBy = "AgentsPaused";
  else if (revoked) blockedBy = "AgentIsRevoked";
  else if (now < validAfter) blockedBy = "AgentNotYetValid";
  else if (validUntil !== undefined && now > validUntil) blockedBy = "AgentExpired";
  if (!paused && !revoked && (validUntil === undefined || now <= validUntil)) {
    const from = now < validAfter ? validAfter : now;
    const next = nextAllowedHour(policy.activeHours, from);
    nextMayActAt = next !== undefined && (validUntil === undefined || next <= validUntil) ? next : undefined;
    if (blockedBy === undefined && nextMayActAt !== now) blockedBy = "OutsideActiveHours";
  }
  const eth = ETH_METADATA;
  const limit = policy.maxCallsPerPeriod === UNLIMITED_CALLS ? undefined : policy.maxCallsPerPeriod;
  return {
    address,
    agentId,
    key: revoked ? undefined : key,
    revoked,
    paused,
    policy,
    now,
    validAfter,
    validUntil,
    periodResetsAt,
    tokens,
    gas: {
      budget: amount(policy.gasBudget, eth),
      charged: amount(gasCharged, eth),
      remaining: amount(gasRemaining, eth),
    },
    calls: {
      limit,
      inPeriod: callsInPeriod,
      remaining: limit === undefined ? undefined : callsInPeriod >= BigInt(limit) ? 0n : BigInt(limit) - callsInPeriod,
    },
    mayActNow: blockedBy === undefined,
    blockedBy,
    nextMayActAt,
  };
}

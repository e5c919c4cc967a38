// The client side of x402's `exact` scheme on EVM for a Stopline agent: the payer (`from`) is the Stopline account, the
// nonce is one of the lane's derived nonces, and the signature is the lane signature that the account's
// isValidSignature accepts inside the lane's hold (SPEC section 7). Everything else (the 402, the facilitator, the
// token's transferWithAuthorization) is stock x402.
import {
  type Account,
  type Address,
  type Chain,
  type Client,
  type Hex,
  type LocalAccount,
  type Transport,
  getAddress,
} from "viem";
import { getBlock, getChainId, readContract } from "viem/actions";
import { getAction } from "viem/utils";

import { agentAccountAbi } from "../abis/generated.js";
import { checkLanePayment } from "../actions/checkLanePayment.js";
import { toGuardrailError } from "../errors/guardrail.js";
import type { TokenMetadata } from "../types.js";
import { type EnsureLaneOpenParameters, ensureLaneOpen, readLane } from "./ensureLaneOpen.js";
import { X402PaymentError } from "./errors.js";
import { type SignedLaneAuthorization, authorizationStateAbi, laneNonce, signLaneAuthorization } from "./lane.js";

/** A facilitator accepts an authorization only while `validBefore >= its clock + 6` (checked again at settlement). */
export const FACILITATOR_VALID_BEFORE_MARGIN = 6n;
/** The least time the scheme leaves between now and validBefore: the facilitator's 6 s and some for the round trip. */
const MIN_WINDOW = FACILITATOR_VALID_BEFORE_MARGIN + 6n;

/** x402 v2 payment requirements, as `@x402/core` passes them to a scheme (`PaymentRequirements`). */
export type X402PaymentRequirements = {
  scheme: string;
  network: string;
  asset: string;
  amount: string;
  payTo: string;
  maxTimeoutSeconds: number;
  extra: Record<string, unknown>;
};

/** The `exact` EVM payload: EIP-3009's authorization (decimal strings) and the signature (here, a lane signature). */
export type X402ExactPayload = {
  authorization: {
    from: Address;
    to: Address;
    value: string;
    validAfter: string;
    validBefore: string;
    nonce: Hex;
  };
  signature: Hex;
};

export type StoplineX402SchemeParameters = {
  /** Reads the chain (and, with `autoOpenLane`, sends openLane from its account unless told otherwise). */
  client: Client<Transport, Chain | undefined, Account | undefined>;
  /** The Stopline account: the payer. */
  address: Address;
  agentId: Hex;
  /** The agent's current key: signs the lane authorizations. A local key (it signs the token's digest). */
  key: LocalAccount;
  /**
   * Ask the account's `checkLanePayment` before signing and throw the guardrail error it names
   * (`LaneSlotUnavailableError`, `PerPaymentCapExceededError`, ...) instead of sending a payment a facilitator would
   * refuse as `invalid_exact_evm_signature`. Default `true`.
   */
  preflight?: boolean | undefined;
  /**
   * Open the lane when a new period has started (see `ensureLaneOpen`): `true` sends openLane from `client`'s account
   * (the agent key pays the gas), an object chooses the sender or a bundler. Default `false`: an unopened lane is
   * refused by the preflight with `LaneNotOpenError`.
   */
  autoOpenLane?: boolean | Pick<EnsureLaneOpenParameters, "account" | "bundlerClient" | "smartAccount"> | undefined;
  /**
   * The time the authorization window starts from (unix seconds). Default: the earlier of the latest block's
   * timestamp and this machine's clock, since the token checks the first and a facilitator its own clock.
   */
  now?: (() => bigint | Promise<bigint>) | undefined;
  /** Token metadata and names for addresses, for the refusals' sentences. */
  tokens?: Readonly<Record<string, TokenMetadata>> | undefined;
  labels?: Readonly<Record<string, string>> | undefined;
};

/** What the scheme signed last: the lane slot, period and EIP-3009 fields (for logs and tests). */
export type StoplineX402Payment = SignedLaneAuthorization;

/**
 * x402's `exact` scheme for a Stopline agent (an `@x402/core` `SchemeNetworkClient`). It pays from the Stopline
 * account through the agent's x402 lane: `from` is the account, the nonce is the lane nonce of the first slot the
 * token has not marked used this period, validAfter/validBefore lie inside the lane period (validBefore clipped to its
 * end), and the signature is the lane signature. Before signing it asks the account's `checkLanePayment`, so a refusal
 * names its limit. The slot is read again from the chain at each payment, so a payload that was built but never
 * settled uses no slot.
 *
 * Register it for the `exact` scheme on the account's network, and allow the token in the client's spend controls
 * (x402 drops assets it does not know):
 *
 * @example
 * import { x402Client, wrapFetchWithPayment } from "@x402/fetch";
 *
 * const scheme = new StoplineX402Scheme({ client: agentWallet, address: account, agentId, key, autoOpenLane: true });
 * const x402 = new x402Client()
 *   .register("eip155:8453", scheme)
 *   .setSpendControls({ allowedAssets: [{ network: "eip155:8453", asset: usdc }] });
 * const pay = wrapFetchWithPayment(fetch, x402);
 * const response = await pay("https://api.example.com/report");
 */
export class StoplineX402Scheme {
  readonly scheme = "exact";
  /** The authorization the scheme signed last (undefined before the first). */
  lastPayment: StoplineX402Payment | undefined;
  private readonly p: StoplineX402SchemeParameters;
  /** Per token and period: slots below this index were seen used on-chain. */
  private readonly usedBelow = new Map<string, bigint>();
  private chainId: number | undefined;

  constructor(parameters: StoplineX402SchemeParameters) {
    if (parameters.key?.type !== "local") {
      throw new X402PaymentError("The Stopline x402 scheme needs the agent's key as a viem LocalAccount.", {
        reason: "key",
      });
    }
    this.p = { ...parameters, address: getAddress(parameters.address) };
  }

  /** Builds the x402 payload for `requirements` (called by `x402Client`, e.g. inside `wrapFetchWithPayment`). */
  async createPaymentPayload(
    x402Version: number,
    requirements: X402PaymentRequirements,
  ): Promise<{ x402Version: number; payload: X402ExactPayload }> {
    const signed = await this.sign(requirements);
    this.lastPayment = signed;
    return {
      x402Version,
      payload: {
        authorization: {
          from: signed.address,
          to: signed.to,
          value: signed.value.toString(),
          validAfter: signed.validAfter.toString(),
          validBefore: signed.validBefore.toString(),
          nonce: signed.nonce,
        },
        signature: signed.signature,
      },
    };
  }

  /** The lane authorization for `requirements`: slot chosen, preflight asked, signed. */
  async sign(requirements: X402PaymentRequirements): Promise<SignedLaneAuthorization> {
    const { client, address, agentId } = this.p;
    const chainId = await this.requireNetwork(requirements);
    const { name, version } = requirements.extra ?? {};
    if (typeof name !== "string" || typeof version !== "string") {
      throw new X402PaymentError(
        `The server's payment requirements carry no EIP-712 domain (extra.name and extra.version) for ${requirements.asset}.`,
        { reason: "domain" },
      );
    }
    const token = getAddress(requirements.asset);
    const to = getAddress(requirements.payTo);
    const value = BigInt(requirements.amount);
    const read = getAction(client, readContract, "readContract");

    const t = await this.now();
    const validAfter = t - 1n;
    const period = await read({
      address,
      abi: agentAccountAbi,
      functionName: "lanePeriodOf",
      args: [agentId, validAfter],
    });
    let lane = await readLane(client, { address, agentId, token });
    if (lane.period < period && this.p.autoOpenLane) {
      const how = this.p.autoOpenLane === true ? {} : this.p.autoOpenLane;
      lane = await ensureLaneOpen(client, { address, agentId, token, ...how });
    }
    const timeout = BigInt(Math.max(requirements.maxTimeoutSeconds || 60, Number(MIN_WINDOW)));
    const validBefore = t + timeout < period ? t + timeout : period;
    if (validBefore - t < MIN_WINDOW) {
      throw new X402PaymentError(
        `The agent's lane period ends in ${validBefore - t} s (at unix ${period}); a facilitator needs an authorization valid at least ${FACILITATOR_VALID_BEFORE_MARGIN} s ahead. Pay again once the next period has started.`,
        { reason: "period-ending" },
      );
    }
    const slot = lane.period === period ? await this.firstFreeSlot(token, period, lane.slots) : 0n;

    if (this.p.preflight ?? true) {
      const v = await checkLanePayment(client, {
        address,
        agentId,
        token,
        slot,
        to,
        value,
        validAfter,
        validBefore,
        now: t,
        tokens: this.p.tokens,
        labels: this.p.labels,
      });
      if (v) throw toGuardrailError(v);
    }
    return signLaneAuthorization(
      this.p.key,
      { name, version, chainId, verifyingContract: token },
      { address, agentId, token, period, i: slot, to, value, validAfter, validBefore },
    );
  }

  /** The first slot of `period` the token has not marked used (`slots` when all are). */
  private async firstFreeSlot(token: Address, period: bigint, slots: bigint): Promise<bigint> {
    const { client, address, agentId } = this.p;
    const key = `${token}:${period}`;
    const read = getAction(client, readContract, "readContract");
    for (let i = this.usedBelow.get(key) ?? 0n; i < slots; i++) {
      const nonce = laneNonce({ address, agentId, token, period, i });
      const used = await read({
        address: token,
        abi: authorizationStateAbi,
        functionName: "authorizationState",
        args: [address, nonce],
      });
      if (!used) return i;
      this.usedBelow.set(key, i + 1n);
    }
    return slots;
  }

  private async now(): Promise<bigint> {
    if (this.p.now) return this.p.now();
    const block = await getAction(this.p.client, getBlock, "getBlock")({});
    const wall = BigInt(Math.floor(Date.now() / 1000));
    return block.timestamp < wall ? block.timestamp : wall;
  }

  private async requireNetwork(requirements: X402PaymentRequirements): Promise<number> {
    this.chainId ??= this.p.client.chain?.id ?? (await getAction(this.p.client, getChainId, "getChainId")({}));
    if (requirements.scheme !== "exact" || requirements.network !== `eip155:${this.chainId}`) {
      throw new X402PaymentError(
        `The Stopline x402 scheme pays "exact" on eip155:${this.chainId} (the account's chain), not "${requirements.scheme}" on ${requirements.network}.`,
        { reason: "network" },
      );
    }
    const method = requirements.extra?.assetTransferMethod;
    if (method !== undefined && method !== "eip3009") {
      throw new X402PaymentError(
        `The Stopline x402 lane pays with EIP-3009 transferWithAuthorization, not ${String(method)}.`,
        { reason: "transfer-method" },
      );
    }
    return this.chainId;
  }
}

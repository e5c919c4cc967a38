// The x402 lane (SPEC section 7) seen from the agent: the nonces of a lane period, and the lane signature that makes an
// EIP-3009 `transferWithAuthorization` from the Stopline account valid under the account's ERC-1271 check.
import {
  type Address,
  type Hex,
  type LocalAccount,
  type TypedDataDomain,
  BaseError,
  concat,
  encodeAbiParameters,
  getAddress,
  hashTypedData,
  keccak256,
  parseSignature,
  size,
} from "viem";

/** The 4 bytes ("LANE") that open a lane signature. */
export const LANE_SIGNATURE_TAG: Hex = "0x4c414e45";
/** A lane signature's length in bytes: the tag and ten ABI words. Never 65, so never taken for an ECDSA signature. */
export const LANE_SIGNATURE_LENGTH = 4 + 10 * 32;

/** EIP-3009's `authorizationState(authorizer, nonce)`: whether the token already used (or canceled) a nonce. */
export const authorizationStateAbi = [
  {
    type: "function",
    name: "authorizationState",
    stateMutability: "view",
    inputs: [
      { name: "authorizer", type: "address" },
      { name: "nonce", type: "bytes32" },
    ],
    outputs: [{ type: "bool" }],
  },
] as const;

/** EIP-3009's `TransferWithAuthorization` struct, as USDC (and the test USDC) hash it. */
export const transferWithAuthorizationTypes = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

/**
 * Nonce `i` of an agent's lane for `token` in `period` (the end of the spending period, unix seconds), exactly as the
 * account derives it: `keccak256(abi.encode(account, agentId, token, period, i))`. Same as the account's `laneNonce`.
 */
export function laneNonce(p: { address: Address; agentId: Hex; token: Address; period: bigint; i: bigint }): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "address" }, { type: "bytes32" }, { type: "address" }, { type: "uint256" }, { type: "uint256" }],
      [p.address, p.agentId, p.token, p.period, p.i],
    ),
  );
}

/** One lane payment: what the agent authorises the token to move from the Stopline account. */
export type LaneAuthorization = {
  /** The Stopline account (the payer, EIP-3009's `from`). */
  address: Address;
  agentId: Hex;
  /** The EIP-3009 token (its lane must be open). */
  token: Address;
  /** The lane period the payment falls in (the account's `lanePeriodOf(agentId, validAfter)`). */
  period: bigint;
  /** The slot, below the lane's `slots` for that period. */
  i: bigint;
  /** The merchant paid. */
  to: Address;
  value: bigint;
  /** EIP-3009's window: the token accepts the authorization when validAfter < now < validBefore. */
  validAfter: bigint;
  /** At most `period`: a lane authorization cannot outlive its period. */
  validBefore: bigint;
};

/** The signed lane payment: the EIP-3009 fields and the `bytes signature` to pass to the token. */
export type SignedLaneAuthorization = LaneAuthorization & { nonce: Hex; digest: Hex; signature: Hex };

/**
 * Signs a lane payment with the agent's key: the key signs the token's `TransferWithAuthorization` digest (from = the
 * account, nonce = the lane nonce), and the result is wrapped as a lane signature for the account's `isValidSignature`.
 *
 * @param domain the token's EIP-712 domain (read it with `eip712Domain()`, or take it from the x402 requirements)
 */
export async function signLaneAuthorization(
  key: LocalAccount,
  domain: TypedDataDomain,
  auth: LaneAuthorization,
): Promise<SignedLaneAuthorization> {
  if (auth.validBefore > auth.period) {
    throw new BaseError(
      `validBefore ${auth.validBefore} is after the lane period's end ${auth.period}. Clip it to the period's end: a lane authorization cannot outlive its period.`,
    );
  }
  if (auth.validAfter >= auth.validBefore) {
    throw new BaseError(`validAfter ${auth.validAfter} must be before validBefore ${auth.validBefore}.`);
  }
  const nonce = laneNonce(auth);
  const digest = hashTypedData({
    domain,
    types: transferWithAuthorizationTypes,
    primaryType: "TransferWithAuthorization",
    message: {
      from: auth.address,
      to: auth.to,
      value: auth.value,
      validAfter: auth.validAfter,
      validBefore: auth.validBefore,
      nonce,
    },
  });
  if (key.sign === undefined) {
    throw new BaseError("The agent key cannot sign raw hashes; use a local key (createAgentKey or a keystore).");
  }
  const ecdsa = await key.sign({ hash: digest });
  return { ...auth, nonce, digest, signature: encodeLaneSignature({ ...auth, ecdsa }) };
}

/** Wraps the key's 65-byte ECDSA signature of the digest as a lane signature (SPEC section 7). */
export function encodeLaneSignature(p: Omit<LaneAuthorization, "address" | "period"> & { ecdsa: Hex }): Hex {
  if (size(p.ecdsa) !== 65) throw new BaseError("A lane signature wraps a 65-byte ECDSA signature.");
  const { r, s, v, yParity } = parseSignature(p.ecdsa);
  const vByte = v !== undefined ? Number(v) : 27 + (yParity ?? 0);
  return concat([
    LANE_SIGNATURE_TAG,
    encodeAbiParameters(
      [
        { type: "address" },
        { type: "bytes32" },
        { type: "uint256" },
        { type: "address" },
        { type: "uint256" },
        { type: "uint256" },
        { type: "uint256" },
        { type: "uint8" },
        { type: "bytes32" },
        { type: "bytes32" },
      ],
      [getAddress(p.token), p.agentId, p.i, getAddress(p.to), p.value, p.validAfter, p.validBefore, vByte, r, s],
    ),
  ]);
}

import { type Hex, isHex, toHex } from "viem";

const NONCE_KEY_MASK = (1n << 192n) - 1n;

/**
 * The agent id whose low 192 bits (its ERC-4337 nonce key) are `nonceKey`, with optional `high` 64 bits.
 *
 * @example
 * agentIdFromNonceKey(1n) // 0x0000…0001
 */
export function agentIdFromNonceKey(nonceKey: bigint, high: bigint = 0n): Hex {
  if (nonceKey <= 0n || nonceKey > NONCE_KEY_MASK) throw new RangeError("nonceKey must be in [1, 2^192 - 1]");
  if (high < 0n || high >= 1n << 64n) throw new RangeError("high must be in [0, 2^64 - 1]");
  return toHex((high << 192n) | nonceKey, { size: 32 });
}

/** The agent's ERC-4337 nonce key: the low 192 bits of its id. Its UserOperations must use it. */
export function nonceKeyOf(agentId: Hex): bigint {
  return BigInt(agentId) & NONCE_KEY_MASK;
}

/** A random agent id (32 random bytes; the low 192 bits are never all zero). */
export function randomAgentId(): Hex {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const id = toHex(bytes);
    if (nonceKeyOf(id) !== 0n) return id;
  }
}

/** Whether `value` is a valid agent id: 32 bytes of hex with non-zero low 192 bits. */
export function isAgentId(value: unknown): value is Hex {
  return typeof value === "string" && isHex(value, { strict: true }) && value.length === 66 && nonceKeyOf(value) !== 0n;
}

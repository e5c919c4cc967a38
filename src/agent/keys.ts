// Agent session keys. The private key is reachable only through an explicit `privateKey` getter: it is not an own
// enumerable property, so console.log, util.inspect, JSON.stringify, string templates and structured logging of the
// object all show "[redacted]" instead of the key.
import { type Hex, BaseError } from "viem";
import { type PrivateKeyAccount, generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const REDACTED = "[redacted]";
const keys = new WeakMap<AgentKey, Hex>();

/** A freshly generated (or loaded) agent key: the viem account, and its private key behind a getter. */
export class AgentKey {
  /** The viem account that signs with this key. It does not hold the private key as a property. */
  readonly account: PrivateKeyAccount;

  constructor(privateKey: Hex) {
    // validated here so that no lower-level error can echo the key back
    if (typeof privateKey !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(privateKey)) {
      throw new BaseError("An agent private key must be 0x followed by 64 hex digits (value not shown).");
    }
    try {
      this.account = privateKeyToAccount(privateKey);
    } catch {
      throw new BaseError("The agent private key is not a valid secp256k1 key (value not shown).");
    }
    keys.set(this, privateKey);
  }

  /** The key's address (what the owner grants). */
  get address() {
    return this.account.address;
  }

  /**
   * The raw private key. Read it only to store it (e.g. `saveAgentKey`); never print or log it. Not enumerable, so it
   * does not appear in logs, JSON or inspection of this object.
   */
  get privateKey(): Hex {
    return keys.get(this)!;
  }

  toJSON() {
    return { address: this.account.address, privateKey: REDACTED };
  }

  toString() {
    return `AgentKey(${this.account.address}, privateKey: ${REDACTED})`;
  }

  [Symbol.for("nodejs.util.inspect.custom")]() {
    return this.toString();
  }
}

/**
 * Generates a new agent key from a cryptographically secure random source.
 *
 * @example
 * const { account, privateKey } = createAgentKey();
 * await saveAgentKey("agent.json", privateKey, password); // store it encrypted, then grant account.address
 */
export function createAgentKey(): AgentKey {
  return new AgentKey(generatePrivateKey());
}

// Errors of the agent side of the toolkit. They extend viem's BaseError (shortMessage, metaMessages, cause chain) and
// never carry key material: no private key, password or derived key appears in any message, field or cause.
import { type Address, type Hex, BaseError, decodeErrorResult } from "viem";

import { agentAccountAbi } from "./abi.js";

/** Names the account's custom error in `violation`, e.g. `PerPaymentCapExceeded(0x…, 0x…, 30000000, 25000000)`. */
function describeViolation(violation: Hex): string | undefined {
  try {
    const { errorName, args } = decodeErrorResult({ abi: agentAccountAbi, data: violation });
    const shown = (args ?? []).map((a) => (typeof a === "bigint" ? a.toString() : String(a)));
    return `${errorName}(${shown.join(", ")})`;
  } catch {
    return undefined;
  }
}

export type AgentCallsRefusedErrorType = AgentCallsRefusedError & { name: "AgentCallsRefusedError" };

/**
 * The account's `checkAgentCalls` preflight says the batch would be refused right now. `violation` holds the raw
 * ABI-encoded custom error (the same bytes the real call would revert with); `decodeGuardrailViolation(error)` turns it
 * into a typed violation with a human sentence.
 */
export class AgentCallsRefusedError extends BaseError {
  readonly violation: Hex;
  readonly agentId: Hex;
  readonly account: Address;

  constructor({ violation, agentId, account }: { violation: Hex; agentId: Hex; account: Address }) {
    const described = describeViolation(violation);
    super(`The account's guardrails refuse this agent batch: ${described ?? violation}.`, {
      metaMessages: [
        `Account:  ${account}`,
        `Agent id: ${agentId}`,
        `Violation (raw): ${violation}`,
        "Nothing was sent. Pass this error to decodeGuardrailViolation() for the limit, what remains and when it resets.",
      ],
      name: "AgentCallsRefusedError",
    });
    this.violation = violation;
    this.agentId = agentId;
    this.account = account;
  }
}

export type AgentKeyCannotSignErrorType = AgentKeyCannotSignError & { name: "AgentKeyCannotSignError" };

/** An agent's smart account was asked to sign a message or typed data: agent keys never sign for the account. */
export class AgentKeyCannotSignError extends BaseError {
  constructor({ method, account }: { method: "signMessage" | "signTypedData"; account: Address }) {
    super(
      `An agent key cannot ${method === "signTypedData" ? "sign typed data" : "sign messages"} for a Stopline account.`,
      {
        metaMessages: [
          `Account: ${account}`,
          "The account's ERC-1271 isValidSignature accepts only the owner's signatures, so that an agent key can never",
          "authorise a permit, Permit2 or EIP-3009 transfer outside its caps (SPEC, ERC-1271).",
          "To pay, send executeAsAgent calls: bundlerClient.sendUserOperation({ account, calls }) or payAsAgent().",
        ],
        name: "AgentKeyCannotSignError",
      },
    );
  }
}

export type AgentNonceKeyErrorType = AgentNonceKeyError & { name: "AgentNonceKeyError" };

/** A nonce was requested on another nonce key than the agent's own `uint192(agentId)`. */
export class AgentNonceKeyError extends BaseError {
  constructor({ agentId, requested, expected }: { agentId: Hex; requested: bigint; expected: bigint }) {
    super(`An agent's UserOperations must use its own nonce key ${expected}, not ${requested}.`, {
      metaMessages: [
        `Agent id: ${agentId}`,
        "The account refuses any other key with WrongNonceKey(agentId, nonceKey). Call getNonce() without a key.",
      ],
      name: "AgentNonceKeyError",
    });
  }
}

export type KeystoreErrorType = KeystoreError & { name: "KeystoreError" };

/** A keystore file could not be written or read (wrong password, unsafe permissions, corrupt or unsupported file). */
export class KeystoreError extends BaseError {
  readonly path: string;
  readonly reason: "wrong-password" | "insecure-permissions" | "invalid-file" | "file-exists" | "invalid-input";

  constructor(
    shortMessage: string,
    { path, reason, fix, cause }: { path: string; reason: KeystoreError["reason"]; fix: string; cause?: Error },
  ) {
    super(shortMessage, { metaMessages: [`Keystore: ${path}`, `Fix: ${fix}`], cause, name: "KeystoreError" });
    this.path = path;
    this.reason = reason;
  }
}

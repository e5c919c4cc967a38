// Errors of the x402 side of the toolkit that are not the account's refusals (those are the guardrail error classes).
import { BaseError } from "viem";

export type X402PaymentErrorType = X402PaymentError & { name: "X402PaymentError" };

/**
 * The Stopline x402 scheme cannot pay what the server asks, for a reason of its own: an agent key that cannot sign
 * raw digests, a network or transfer method it
 * does not serve, a server that left out the token's EIP-712 domain, or a lane period too close to its end for a
 * facilitator to accept the payment. The account's refusals are thrown as guardrail errors instead
 * (`LaneSlotUnavailableError`, `MerchantNotAllowedError`, ...).
 */
export class X402PaymentError extends BaseError {
  readonly reason: "key" | "network" | "transfer-method" | "domain" | "period-ending";

  constructor(shortMessage: string, { reason, meta = [] }: { reason: X402PaymentError["reason"]; meta?: string[] }) {
    super(shortMessage, { metaMessages: meta, name: "X402PaymentError" });
    this.reason = reason;
  }
}

import { BaseError } from "viem";

export type InvalidPolicyInputErrorType = InvalidPolicyInputError & { name: "InvalidPolicyInputError" };

/**
 * A policy (or another owner input) that the toolkit refuses before anything is sent: `shortMessage` says what is
 * wrong and how to fix it, `field` names the input (`limits[0].perPayment`, `schedule[1].from`, `merchants[2]`, ...).
 *
 * @example
 * try { await buildPolicy(client, input) } catch (e) {
 *   if (e instanceof InvalidPolicyInputError) console.error(e.field, e.shortMessage)
 * }
 */
export class InvalidPolicyInputError extends BaseError {
  override name = "InvalidPolicyInputError";
  /** The input at fault, as a path into the input object. */
  readonly field: string;

  constructor(message: string, options: { field: string; cause?: Error | undefined }) {
    super(message, { cause: options.cause, metaMessages: [`Field: ${options.field}`] });
    this.field = options.field;
  }
}

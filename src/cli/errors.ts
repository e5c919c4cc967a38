// What the CLI does with a failure: one line on stderr, an exit code, and (with --json) an object on stdout.
import { BaseError, HttpRequestError, TimeoutError } from "viem";

import { KeystoreError } from "../agent/errors.js";
import { decodeGuardrailViolation } from "../errors/decode.js";
import { InvalidPolicyInputError } from "../errors/policy.js";
import type { GuardrailViolation } from "../errors/violation.js";

/** Exit codes: 0 done, 1 refused (by the account, the chain or a keystore), 2 wrong usage, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Wrong use of the command line: a missing or malformed flag. Exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure with its own exit code and one-line message (and, for refusals, the decoded violation). */
export class CliError extends Error {
  override name = "CliError";
  readonly exitCode: number;
  readonly violation: GuardrailViolation | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    message: string,
    options: { exitCode?: number; violation?: GuardrailViolation; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.exitCode = options.exitCode ?? EXIT.failed;
    this.violation = options.violation;
    this.details = options.details;
  }
}

/** A refusal as the CLI prints it: the violation's name and its one-sentence message. */
export function violationLine(v: GuardrailViolation): string {
  return `${v.name}: ${v.message}`;
}

export type Failure = {
  exitCode: number;
  /** One line for stderr. */
  line: string;
  /** The `error` object of --json output. */
  json: Record<string, unknown>;
};

const firstLine = (s: string) => s.split("\n")[0].trim();

function keystoreLine(e: KeystoreError): string {
  switch (e.reason) {
    case "wrong-password":
      return `error: wrong password for the keystore ${e.path} (nothing was decrypted or sent).`;
    case "insecure-permissions":
      return `error: the keystore ${e.path} can be read by other users; run \`chmod 600 ${e.path}\` and try again.`;
    case "file-exists":
      return `error: ${e.path} already exists; choose another --out or pass --force to replace it.`;
    default:
      // the toolkit's keystore serves agent keys; here it may hold the owner's
      return `error: ${firstLine(e.shortMessage).replace("the agent keystore", "the keystore")}`;
  }
}

/** Turns anything a command threw into its exit code and one-line reason. Never echoes a secret. */
export function describeFailure(error: unknown, command: string | undefined): Failure {
  const usage = command ? `stopline ${command}` : "stopline";
  const help = command ? `stopline ${command} --help` : "stopline --help";
  if (error instanceof UsageError) {
    return {
      exitCode: EXIT.usage,
      line: `${usage}: ${error.message} (see \`${help}\`)`,
      json: { name: "UsageError", message: error.message },
    };
  }
  if (error instanceof InvalidPolicyInputError) {
    return {
      exitCode: EXIT.usage,
      line: `${usage}: ${firstLine(error.shortMessage)}`,
      json: { name: "InvalidPolicyInput", field: error.field, message: firstLine(error.shortMessage) },
    };
  }
  if (error instanceof CliError) {
    const v = error.violation;
    return {
      exitCode: error.exitCode,
      line: v ? violationLine(v) : error.message,
      json: v ? { ...v } : { name: "Error", message: error.message, ...error.details },
    };
  }
  if (error instanceof KeystoreError) {
    const line = keystoreLine(error);
    return { exitCode: EXIT.failed, line, json: { name: "KeystoreError", reason: error.reason, message: line } };
  }
  // a refusal by the account (owner actions throw their guardrail error class; anything else is decoded here)
  const v = decodeGuardrailViolation(error);
  if (v) return { exitCode: EXIT.failed, line: violationLine(v), json: { ...v } };
  const http =
    error instanceof BaseError ? error.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError) : null;
  if (http instanceof HttpRequestError || http instanceof TimeoutError) {
    const why = http.details ? ` (${firstLine(http.details)})` : "";
    // the host only: RPC URLs often carry an API key in their path or query
    let host = "";
    try {
      host = ` at ${new URL(http.url).host}`;
    } catch {
      // not a URL
    }
    const line = `error: the RPC endpoint${host} did not answer${why}; check --rpc-url.`;
    return { exitCode: EXIT.failed, line, json: { name: http.name, message: line } };
  }
  if (error instanceof BaseError) {
    const details = error.details && error.details !== error.shortMessage ? ` (${firstLine(error.details)})` : "";
    const line = `error: ${firstLine(error.shortMessage)}${details}`;
    return { exitCode: EXIT.failed, line, json: { name: error.name, message: line } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { exitCode: EXIT.failed, line: `error: ${firstLine(message)}`, json: { name: "Error", message } };
}

// Secrets never come from the command line: the owner key comes from STOPLINE_OWNER_KEY or an encrypted keystore file,
// and a keystore password from STOPLINE_KEYSTORE_PASSWORD, a prompt without echo (stdin a terminal), or the first line
// of stdin (stdin not a terminal). Nothing here prints or stores a secret.
import type { LocalAccount } from "viem";

import { AgentKey } from "../agent/keys.js";
import { loadAgentKeyPair } from "../agent/keystore.js";
import { CliError, EXIT, UsageError } from "./errors.js";

export const ENV = {
  rpcUrl: "STOPLINE_RPC_URL",
  account: "STOPLINE_ACCOUNT",
  factory: "STOPLINE_FACTORY",
  ownerKey: "STOPLINE_OWNER_KEY",
  ownerKeystore: "STOPLINE_OWNER_KEYSTORE",
  password: "STOPLINE_KEYSTORE_PASSWORD",
} as const;

const KEY_ADVICE =
  `set ${ENV.ownerKey} in the environment, or use --owner-keystore <file> ` +
  `(its password is prompted, read from stdin, or taken from ${ENV.password})`;
const PASSWORD_ADVICE = `set ${ENV.password} in the environment, or let stopline prompt for it (or pipe it on stdin)`;

/** Flags that would put a secret on the command line, and what to use instead. */
const SECRET_FLAGS: Readonly<Record<string, string>> = {
  "private-key": KEY_ADVICE,
  privatekey: KEY_ADVICE,
  pk: KEY_ADVICE,
  "owner-key": KEY_ADVICE,
  "owner-private-key": KEY_ADVICE,
  "agent-private-key": "keep agent keys in keystore files (stopline keygen) and give the owner only the address",
  mnemonic: KEY_ADVICE,
  seed: KEY_ADVICE,
  secret: KEY_ADVICE,
  password: PASSWORD_ADVICE,
  passphrase: PASSWORD_ADVICE,
  "keystore-password": PASSWORD_ADVICE,
  "owner-password": PASSWORD_ADVICE,
};

/**
 * Refuses a secret given on the command line, before anything else runs: the process list (`ps`, /proc) shows it to
 * every user of the machine and the shell keeps it in its history. The value itself is never echoed.
 */
export function refuseSecretFlags(argv: readonly string[]): void {
  for (const arg of argv) {
    if (arg === "--") break;
    const m = /^--?([A-Za-z-]+?)(?:=.*)?$/s.exec(arg);
    const flag = m?.[1].toLowerCase();
    if (flag && SECRET_FLAGS[flag]) {
      throw new UsageError(
        `--${flag} is refused: a secret on the command line is visible to other users (ps, /proc) and stays in your shell history; ${SECRET_FLAGS[flag]}`,
      );
    }
  }
}

/** Whether a flag value looks like a raw private key (64 hex digits), which a public-address flag must never hold. */
export function looksLikePrivateKey(value: string): boolean {
  return /^(0x)?[0-9a-fA-F]{64}$/.test(value.trim());
}

export type Io = {
  stdin: NodeJS.ReadStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
};

/** Reads one line from a non-terminal stdin (without its line ending), or undefined at once-empty end of input. */
function readLine(stream: NodeJS.ReadStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const finish = (value: string | undefined) => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      stream.pause();
      stream.destroy();
      resolve(value === undefined ? undefined : value.replace(/\r$/, ""));
    };
    const onData = (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf("\n");
      if (nl !== -1) finish(buffer.slice(0, nl));
    };
    const onEnd = () => finish(buffer === "" ? undefined : buffer);
    const onError = (e: Error) => reject(e);
    stream.setEncoding("utf8");
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("error", onError);
    stream.resume();
  });
}

/** Prompts on stderr and reads from the terminal without echo (raw mode). Ctrl-C interrupts; backspace edits. */
function promptHidden(prompt: string, io: Io): Promise<string> {
  const { stdin, stderr } = io;
  stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = "";
    let escape = false;
    const cleanup = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write("\n");
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (escape) {
          // skip an escape sequence (arrow keys and the like) up to its final letter
          if (/[A-Za-z~]/.test(ch)) escape = false;
          continue;
        }
        if (ch === "\r" || ch === "\n" || ch === "\u0004") {
          cleanup();
          resolve(value);
          return;
        }
        if (ch === "\u0003") {
          cleanup();
          reject(new CliError("interrupted", { exitCode: EXIT.interrupted }));
          return;
        }
        if (ch === "\u001b") escape = true;
        else if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else if (ch >= " ") value += ch;
      }
    };
    stdin.setEncoding("utf8");
    stdin.setRawMode(true);
    stdin.on("data", onData);
    stdin.resume();
  });
}

/**
 * A keystore password: from STOPLINE_KEYSTORE_PASSWORD; else prompted without echo when stdin is a terminal (twice
 * when `confirm`, for a new keystore); else the first line of stdin. An empty password is refused.
 */
export async function readPassword(io: Io, opts: { prompt: string; confirm?: boolean }): Promise<string> {
  const fromEnv = io.env[ENV.password];
  let password: string | undefined;
  if (fromEnv !== undefined && fromEnv !== "") password = fromEnv;
  else if (io.stdin.isTTY) {
    password = await promptHidden(opts.prompt, io);
    if (opts.confirm && password !== "") {
      const again = await promptHidden("Repeat the password: ", io);
      if (again !== password) throw new CliError("error: the two passwords differ; nothing was written.");
    }
  } else {
    password = await readLine(io.stdin);
    if (password === undefined) {
      throw new UsageError(
        `a keystore password is needed and stdin is empty; set ${ENV.password} in the environment or pipe the password on stdin`,
      );
    }
  }
  if (password === "") throw new UsageError("the keystore password is empty; choose a non-empty password");
  return password;
}

/**
 * The signer of owner actions (the owner, or the guardian for pause and revoke): the keystore of `--owner-keystore`
 * (or STOPLINE_OWNER_KEYSTORE), decrypted with a password read by {@link readPassword}, else STOPLINE_OWNER_KEY.
 */
export async function loadOwnerAccount(io: Io, keystore: string | undefined): Promise<LocalAccount> {
  const path = keystore ?? io.env[ENV.ownerKeystore];
  if (path) {
    const password = await readPassword(io, { prompt: `Password for ${path}: ` });
    return (await loadAgentKeyPair(path, password)).account;
  }
  const raw = io.env[ENV.ownerKey];
  if (raw === undefined || raw === "") {
    throw new UsageError(`this command signs as the owner, and no owner key was given; ${KEY_ADVICE}`);
  }
  try {
    return new AgentKey(raw.trim() as `0x${string}`).account;
  } catch {
    throw new UsageError(`${ENV.ownerKey} is not a private key (0x followed by 64 hex digits; value not shown)`);
  }
}

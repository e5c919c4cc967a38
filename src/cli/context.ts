// What every command gets: its parsed flags, the global ones (--rpc-url, --account, --factory, --json,
// --owner-keystore) with their environment fallbacks, viem clients made on demand, and output helpers.
import { readFileSync } from "node:fs";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";

import {
  type Address,
  type Chain,
  type Hash,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  isAddress,
} from "viem";

import { agentIdFromNonceKey, isAgentId } from "../utils/agentId.js";
import { CliError, UsageError } from "./errors.js";
import { toJson, waitForTransaction } from "./output.js";
import { ENV, type Io, loadOwnerAccount, looksLikePrivateKey } from "./secrets.js";

/** Flags every command takes. */
export const GLOBAL_OPTIONS = {
  "rpc-url": { type: "string" },
  account: { type: "string" },
  factory: { type: "string" },
  "owner-keystore": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsOptionsConfig;

export const GLOBAL_HELP = `Global flags:
  --rpc-url <url>          JSON-RPC endpoint (http or https); env ${ENV.rpcUrl}
  --account <address>      the Stopline account; env ${ENV.account}
  --factory <address>      the AgentAccountFactory (deploy); env ${ENV.factory}
  --owner-keystore <file>  sign with this encrypted keystore (password prompted, piped on stdin, or
                           env ${ENV.password}); env ${ENV.ownerKeystore}; default: env ${ENV.ownerKey}
  --json                   machine-readable output on stdout, no progress on stderr
  -h, --help               this help`;

export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** One command: its help text, its own flags, and what it does. Returns the exit code (default 0). */
export type Command = {
  name: string;
  summary: string;
  help: string;
  options: ParseArgsOptionsConfig;
  /** How many positional arguments it takes (default 0). */
  positionals?: number;
  run: (ctx: Context) => Promise<number | void>;
};

export type ProcessIo = Io & { stdout: NodeJS.WritableStream };

/** Parses a command's flags with node:util parseArgs (strict), turning its errors into usage errors. */
export function parseCommandArgs(command: Command, argv: string[]): { values: Values; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const err = e as Error & { code?: string };
    const m = /'(-[^' ]*)/.exec(err.message);
    const raw = m?.[1] ?? "";
    const flag = looksLikePrivateKey(raw.replace(/^-+/, "")) ? "(64 hex digits, not shown)" : raw;
    if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown flag ${flag}`);
    if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      throw new UsageError(
        /argument missing/.test(err.message) ? `${flag} needs a value` : `${flag} does not take a value`,
      );
    }
    if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") throw new UsageError("unexpected argument");
    throw new UsageError(err.message.split("\n")[0]);
  }
  const max = command.positionals ?? 0;
  if (parsed.positionals.length > max && !parsed.values.help) {
    throw new UsageError(
      max === 0
        ? `takes no arguments (got "${shown(parsed.positionals[0])}")`
        : `takes at most ${max} argument${max === 1 ? "" : "s"}`,
    );
  }
  return { values: parsed.values as Values, positionals: parsed.positionals };
}

/** A flag value fit for an error message: a private key's worth of hex is never echoed. */
export function shown(value: string): string {
  return looksLikePrivateKey(value)
    ? "(64 hex digits, not shown)"
    : value.length > 80
      ? `${value.slice(0, 77)}...`
      : value;
}

/** A public address given to `flag`; refuses what looks like a private key without echoing it. */
export function parseAddressFlag(flag: string, value: string): Address {
  if (looksLikePrivateKey(value)) {
    throw new UsageError(
      `--${flag} looks like a private key (64 hex digits); it takes an address. Never put a private key on the command line`,
    );
  }
  if (!isAddress(value.trim(), { strict: true })) {
    throw new UsageError(
      `--${flag} "${shown(value)}" is not an address (20 bytes of hex, checksummed or all lowercase)`,
    );
  }
  return getAddress(value.trim());
}

/** An agent id: 32 bytes of hex, or its nonce key as a decimal number (`1` is 0x00…01). */
export function parseAgentId(value: string): Hex {
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const n = BigInt(v);
    if (n > 0n && n < 1n << 192n) return agentIdFromNonceKey(n);
  } else if (isAgentId(v.toLowerCase())) return v.toLowerCase() as Hex;
  throw new UsageError(
    `--agent-id "${shown(v)}" is not an agent id: give 32 bytes of hex whose low 192 bits are not all zero, or a number from 1 to 2^192-1`,
  );
}

export class Context {
  private _public: PublicClient | undefined;

  constructor(
    readonly command: Command,
    readonly values: Values,
    readonly positionals: string[],
    readonly io: ProcessIo,
  ) {}

  get json(): boolean {
    return this.values.json === true;
  }

  str(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === "string" ? v : undefined;
  }

  list(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? (v as string[]) : [];
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  require(name: string, what: string): string {
    const v = this.str(name);
    if (v === undefined || v === "") throw new UsageError(`--${name} is missing: give ${what}`);
    return v;
  }

  rpcUrl(): string {
    const url = this.str("rpc-url") ?? this.io.env[ENV.rpcUrl];
    if (!url) throw new UsageError(`no RPC endpoint: pass --rpc-url <url> or set ${ENV.rpcUrl}`);
    if (!/^https?:\/\//i.test(url)) throw new UsageError(`--rpc-url must be an http:// or https:// URL`);
    return url;
  }

  transport(): Transport {
    return http(this.rpcUrl(), { retryCount: 1, timeout: 30_000 });
  }

  publicClient(): PublicClient {
    this._public ??= createPublicClient({ transport: this.transport(), pollingInterval: 1000 });
    return this._public;
  }

  /** The Stopline account (--account or STOPLINE_ACCOUNT). */
  account(): Address {
    const v = this.str("account") ?? this.io.env[ENV.account];
    if (!v) throw new UsageError(`no Stopline account: pass --account <address> or set ${ENV.account}`);
    return parseAddressFlag("account", v);
  }

  /** The Stopline account when one was given, else undefined. */
  maybeAccount(): Address | undefined {
    const v = this.str("account") ?? this.io.env[ENV.account];
    return v ? parseAddressFlag("account", v) : undefined;
  }

  factory(): Address {
    const v = this.str("factory") ?? this.io.env[ENV.factory];
    if (!v) throw new UsageError(`no factory: pass --factory <address> or set ${ENV.factory}`);
    return parseAddressFlag("factory", v);
  }

  /** The owner's (or guardian's) signer. */
  signer(): Promise<LocalAccount> {
    return loadOwnerAccount(this.io, this.str("owner-keystore"));
  }

  /** A wallet client of the signer, on the chain the RPC serves. */
  async walletClient(): Promise<WalletClient<Transport, Chain, LocalAccount>> {
    const account = await this.signer();
    const id = await this.publicClient().getChainId();
    const chain = defineChain({
      id,
      name: `chain ${id}`,
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [this.rpcUrl()] } },
    });
    return createWalletClient({ account, chain, transport: this.transport(), pollingInterval: 1000 });
  }

  /** Writes the command's result: `json` with --json, else `text`. */
  print(text: string, json: unknown): void {
    this.io.stdout.write(`${this.json ? toJson(json) : text}\n`);
  }

  /** A remark for people on stderr (silent with --json). */
  note(text: string): void {
    if (!this.json) this.io.stderr.write(`${text}\n`);
  }

  /** Waits for `hash` with progress on stderr, and fails (exit 1) if it reverted. */
  async mined(hash: Hash, label: string): Promise<TransactionReceipt> {
    const receipt = await waitForTransaction(this.publicClient(), hash, {
      label,
      quiet: this.json,
      stderr: this.io.stderr,
    });
    if (receipt.status !== "success") {
      const { explainTransaction } = await import("../errors/lookup.js");
      const why = await explainTransaction(this.publicClient(), { hash }).catch(() => undefined);
      if (why?.violation) throw new CliError("", { violation: why.violation });
      throw new CliError(`error: transaction ${hash} reverted in block ${receipt.blockNumber}`);
    }
    return receipt;
  }
}

/** An agent key's address: `--<keyFlag> <address>`, or the address field of the keystore file `--<keystoreFlag>`. */
export function agentKeyAddress(ctx: Context, keyFlag: string, keystoreFlag: string): Address {
  const key = ctx.str(keyFlag);
  const file = ctx.str(keystoreFlag);
  if (key !== undefined && file !== undefined) throw new UsageError(`give --${keyFlag} or --${keystoreFlag}, not both`);
  if (key !== undefined) return parseAddressFlag(keyFlag, key);
  if (file === undefined) {
    throw new UsageError(
      `--${keyFlag} is missing: give the agent key's address, or --${keystoreFlag} <file> written by stopline keygen`,
    );
  }
  let address: unknown;
  try {
    address = (JSON.parse(readFileSync(file, "utf8")) as { address?: unknown }).address;
  } catch {
    throw new UsageError(`--${keystoreFlag} ${file} cannot be read as a keystore (JSON) file`);
  }
  if (typeof address !== "string" || !isAddress(`0x${address.replace(/^0x/i, "")}`, { strict: false })) {
    throw new UsageError(`--${keystoreFlag} ${file} holds no address field; pass --${keyFlag} <address> instead`);
  }
  return getAddress(`0x${address.replace(/^0x/i, "")}`);
}

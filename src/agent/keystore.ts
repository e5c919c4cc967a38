// Encrypted agent key files in the Web3 Secret Storage v3 format (the geth / ethers / MetaMask keystore): scrypt key
// derivation, AES-128-CTR encryption and a keccak-256 MAC. Files are written with mode 0600 and refused when group or
// others can read them. Node.js only (node:crypto, node:fs). No key, password or derived key is ever logged or put in
// an error.
import {
  createCipheriv,
  createDecipheriv,
  pbkdf2,
  randomBytes,
  randomUUID,
  scrypt,
  timingSafeEqual,
} from "node:crypto";
import { chmod, link, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";

import { type Hex, bytesToHex, concat, getAddress, hexToBytes, keccak256 } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";

import { KeystoreError } from "./errors.js";
import { AgentKey } from "./keys.js";

const scryptAsync = promisify(scrypt) as (
  password: Uint8Array,
  salt: Uint8Array,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;
const pbkdf2Async = promisify(pbkdf2);

/** scrypt cost used by default: N = 2^17, r = 8, p = 1 (ethers' default; about 128 MiB and a fraction of a second). */
export const DEFAULT_SCRYPT_N = 2 ** 17;
/** Largest scrypt N accepted when reading a file (geth's "standard" is 2^18): bounds memory and time. */
const MAX_SCRYPT_N = 2 ** 20;

export type KeystoreV3 = {
  version: 3;
  id: string;
  address: string;
  crypto: {
    cipher: "aes-128-ctr";
    cipherparams: { iv: string };
    ciphertext: string;
    kdf: "scrypt" | "pbkdf2";
    kdfparams:
      | { dklen: number; n: number; r: number; p: number; salt: string }
      | { dklen: number; c: number; prf: "hmac-sha256"; salt: string };
    mac: string;
  };
};

export type EncryptAgentKeyOptions = {
  /** scrypt N (a power of two). Default 2^17. Lower it only for tests. */
  scryptN?: number | undefined;
};

const strip0x = (h: string) => h.replace(/^0x/i, "");
const hex = (b: Uint8Array) => strip0x(bytesToHex(b));
const normalise = (password: string) => new TextEncoder().encode(password.normalize("NFKC"));

function macOf(derived: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return hexToBytes(keccak256(concat([derived.subarray(16, 32), ciphertext])));
}

/**
 * Encrypts an agent private key into a Web3 Secret Storage v3 JSON string (scrypt, aes-128-ctr, keccak-256 MAC).
 * Readable by geth, ethers (`decryptKeystoreJson`) and `decryptAgentKey`.
 */
export async function encryptAgentKey(
  privateKey: Hex | AgentKey,
  password: string,
  options: EncryptAgentKeyOptions = {},
): Promise<string> {
  const key = privateKey instanceof AgentKey ? privateKey : new AgentKey(privateKey);
  const n = options.scryptN ?? DEFAULT_SCRYPT_N;
  if (!Number.isInteger(n) || n < 2 || (n & (n - 1)) !== 0 || n > MAX_SCRYPT_N) {
    throw new KeystoreError(`scrypt N must be a power of two between 2 and 2^20, got ${n}.`, {
      path: "(memory)",
      reason: "invalid-input",
      fix: "Leave scryptN unset (2^17) unless you are writing a test.",
    });
  }
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const derived = await scryptAsync(normalise(password), salt, 32, { N: n, r: 8, p: 1, maxmem: 256 * n * 8 + 2 ** 24 });
  const cipher = createCipheriv("aes-128-ctr", derived.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(hexToBytes(key.privateKey)), cipher.final()]);
  const json: KeystoreV3 = {
    version: 3,
    id: randomUUID(),
    address: strip0x(key.address).toLowerCase(),
    crypto: {
      cipher: "aes-128-ctr",
      cipherparams: { iv: hex(iv) },
      ciphertext: hex(ciphertext),
      kdf: "scrypt",
      kdfparams: { dklen: 32, n, r: 8, p: 1, salt: hex(salt) },
      mac: hex(macOf(derived, ciphertext)),
    },
  };
  derived.fill(0);
  return JSON.stringify(json);
}

function invalid(path: string, what: string): KeystoreError {
  return new KeystoreError(`The keystore ${path} is not a valid Web3 Secret Storage v3 file: ${what}.`, {
    path,
    reason: "invalid-file",
    fix: "Point to the JSON file written by `stopline keygen` / saveAgentKey (or by geth / ethers).",
  });
}

const isHexString = (v: unknown, bytes?: number): v is string =>
  typeof v === "string" &&
  /^(0x)?[0-9a-fA-F]*$/.test(v) &&
  strip0x(v).length % 2 === 0 &&
  (bytes === undefined || strip0x(v).length === bytes * 2);

/**
 * Decrypts a Web3 Secret Storage v3 JSON string (scrypt or pbkdf2, aes-128-ctr). A wrong password throws
 * `KeystoreError` with `reason: "wrong-password"`.
 */
export async function decryptAgentKey(json: string, password: string, path = "(memory)"): Promise<AgentKey> {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw invalid(path, "it is not JSON");
  }
  if (parsed.version !== 3) throw invalid(path, `version is ${String(parsed.version)}, expected 3`);
  const c = (parsed.crypto ?? parsed.Crypto) as KeystoreV3["crypto"] | undefined;
  if (!c || typeof c !== "object") throw invalid(path, "no crypto section");
  if (c.cipher !== "aes-128-ctr") throw invalid(path, `cipher ${String(c.cipher)} is not supported (aes-128-ctr is)`);
  if (!isHexString(c.cipherparams?.iv, 16)) throw invalid(path, "cipherparams.iv must be 16 bytes of hex");
  if (!isHexString(c.ciphertext, 32)) throw invalid(path, "ciphertext must be 32 bytes of hex");
  if (!isHexString(c.mac, 32)) throw invalid(path, "mac must be 32 bytes of hex");
  const kp = c.kdfparams as Record<string, unknown> | undefined;
  if (!kp || !isHexString(kp.salt) || kp.dklen !== 32) throw invalid(path, "kdfparams need a hex salt and dklen 32");
  const salt = hexToBytes(`0x${strip0x(kp.salt)}`);
  const pw = normalise(password);

  let derived: Uint8Array;
  if (c.kdf === "scrypt") {
    const { n, r, p } = kp as { n: number; r: number; p: number };
    const ok = (v: unknown, max: number) => Number.isInteger(v) && (v as number) > 0 && (v as number) <= max;
    if (!ok(n, MAX_SCRYPT_N) || (n & (n - 1)) !== 0 || !ok(r, 32) || !ok(p, 16)) {
      throw invalid(path, "scrypt parameters out of range (n a power of two up to 2^20, r up to 32, p up to 16)");
    }
    derived = await scryptAsync(pw, salt, 32, { N: n, r, p, maxmem: 256 * n * r * p + 2 ** 24 });
  } else if (c.kdf === "pbkdf2") {
    const { c: rounds, prf } = kp as { c: number; prf: string };
    if (prf !== "hmac-sha256" || !Number.isInteger(rounds) || rounds < 1 || rounds > 10_000_000) {
      throw invalid(path, "pbkdf2 needs prf hmac-sha256 and 1 to 10^7 rounds");
    }
    derived = await pbkdf2Async(pw, salt, rounds, 32, "sha256");
  } else {
    throw invalid(path, `kdf ${String(c.kdf)} is not supported (scrypt and pbkdf2 are)`);
  }

  const ciphertext = hexToBytes(`0x${strip0x(c.ciphertext)}`);
  const expected = hexToBytes(`0x${strip0x(c.mac)}`);
  if (!timingSafeEqual(macOf(derived, ciphertext), expected)) {
    throw new KeystoreError(`Wrong password for the agent keystore ${path}.`, {
      path,
      reason: "wrong-password",
      fix:
        "Enter the password the key was saved with. If it is lost, the key cannot be recovered: have the owner " +
        "rotate the agent to a new key (rotateAgentKey) and save that one.",
    });
  }
  const decipher = createDecipheriv(
    "aes-128-ctr",
    derived.subarray(0, 16),
    hexToBytes(`0x${strip0x(c.cipherparams.iv)}`),
  );
  const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  derived.fill(0);
  let key: AgentKey;
  try {
    key = new AgentKey(bytesToHex(plain));
  } catch {
    throw invalid(path, "the decrypted key is not a valid secp256k1 key");
  } finally {
    plain.fill(0);
  }
  if (typeof parsed.address === "string" && parsed.address !== "") {
    let stated: string | undefined;
    try {
      stated = getAddress(`0x${strip0x(parsed.address)}`);
    } catch {
      throw invalid(path, "the address field is not an address");
    }
    if (stated !== key.address) throw invalid(path, `it says ${stated} but holds the key of ${key.address}`);
  }
  return key;
}

export type SaveAgentKeyOptions = EncryptAgentKeyOptions & {
  /** Replace an existing file (default false: saving never silently destroys another key). */
  overwrite?: boolean | undefined;
};

/**
 * Encrypts an agent key with `password` and writes it to `path` as a Web3 Secret Storage v3 file with mode 0600
 * (owner read/write only). Refuses to replace an existing file unless `overwrite` is set.
 *
 * @returns The key's address.
 *
 * @example
 * const key = createAgentKey();
 * await saveAgentKey("./agent-key.json", key, process.env.AGENT_KEY_PASSWORD!);
 */
export async function saveAgentKey(
  path: string,
  privateKey: Hex | AgentKey,
  password: string,
  options: SaveAgentKeyOptions = {},
): Promise<{ address: `0x${string}`; path: string }> {
  if (typeof password !== "string" || password.length === 0) {
    throw new KeystoreError("Refusing to save an agent key with an empty password.", {
      path,
      reason: "invalid-input",
      fix: "Choose a password (from an environment variable or a prompt, never the command line).",
    });
  }
  const key = privateKey instanceof AgentKey ? privateKey : new AgentKey(privateKey);
  const json = await encryptAgentKey(key, password, options);
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, json, { mode: 0o600, flag: "wx" });
    await chmod(tmp, 0o600);
    if (options.overwrite) {
      await rename(tmp, path);
    } else {
      await link(tmp, path); // fails with EEXIST instead of replacing
      await unlink(tmp);
    }
  } catch (error) {
    await unlink(tmp).catch(() => {});
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      throw new KeystoreError(`The file ${path} already exists; not replacing it.`, {
        path,
        reason: "file-exists",
        fix: "Choose another path, or pass { overwrite: true } if the old key is no longer needed.",
      });
    }
    if (code === "ENOENT") {
      throw new KeystoreError(`The folder ${dirname(path)} does not exist.`, {
        path,
        reason: "invalid-input",
        fix: "Create the folder first (mkdir -p, mode 0700).",
        cause: error as Error,
      });
    }
    throw error;
  }
  return { address: key.address, path };
}

export type LoadAgentKeyOptions = {
  /** Read the file even if group or others may read it (default false). Ignored on Windows. */
  allowInsecurePermissions?: boolean | undefined;
};

/**
 * Reads and decrypts an agent keystore file. Refuses a file that group or others can read (fix: `chmod 600`), and
 * throws `KeystoreError` (`reason: "wrong-password"`) for a wrong password.
 *
 * @returns The viem account of the key, ready for `toStoplineAgentAccount({ key })` or a wallet client.
 *
 * @example
 * const key = await loadAgentKey("./agent-key.json", process.env.AGENT_KEY_PASSWORD!);
 * const account = await toStoplineAgentAccount({ client, address, agentId, key });
 */
export async function loadAgentKey(
  path: string,
  password: string,
  options: LoadAgentKeyOptions = {},
): Promise<PrivateKeyAccount> {
  return (await loadAgentKeyPair(path, password, options)).account;
}

/** As `loadAgentKey`, but returns the `AgentKey` (whose `privateKey` getter allows re-encrypting it). */
export async function loadAgentKeyPair(
  path: string,
  password: string,
  options: LoadAgentKeyOptions = {},
): Promise<AgentKey> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (error) {
    throw new KeystoreError(`Cannot read the agent keystore ${path}.`, {
      path,
      reason: "invalid-file",
      fix: "Check the path (stopline keygen writes the file it names).",
      cause: error as Error,
    });
  }
  if (process.platform !== "win32" && (mode & 0o077) !== 0 && !options.allowInsecurePermissions) {
    throw new KeystoreError(
      `The agent keystore ${path} can be read by other users (mode ${(mode & 0o777).toString(8).padStart(3, "0")}).`,
      { path, reason: "insecure-permissions", fix: `chmod 600 ${path}` },
    );
  }
  return decryptAgentKey(await readFile(path, "utf8"), password, path);
}

// The package as users get it: `npm pack` (whose prepack script runs `npm run build`), then the tarball installed into
// an empty folder outside the repo. Shared by test/package.test.ts and test/docs-snippets.test.ts: it is done once per
// test run (the promise is kept), and the folder is removed when the process exits.
//
// Installing offline: `npm install --offline <tarball> <repo>/node_modules/viem <repo>/node_modules/ethers`. npm takes
// the tarball's one dependency (solady) from its cache and links the two folder arguments (a symlink, as for any local
// folder dependency), so viem and ethers are the exact versions the repo tests with and nothing is downloaded. The
// stopline package itself is a real copy under <tmp>/node_modules/stopline: an import it makes that is not declared
// (a dev-only package, a file left out of `files`) fails there.
import { execFile } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, sep } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The repo (the worktree this test runs in). */
export const REPO = realpathSync(join(import.meta.dirname, "..", ".."));

/** The environment child processes get: this Node (24) first on PATH, so that `npm` and its scripts run on it. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const path = [dirname(process.execPath), process.env.PATH ?? ""].join(delimiter);
  const keep = ["HOME", "TMPDIR", "LANG", "TERM", "npm_config_cache"];
  const env: NodeJS.ProcessEnv = { PATH: path };
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}

export type PackedFile = { path: string; size: number; mode: number };

export type PackedStopline = {
  /** Where the tarball sits (a temp folder outside the repo). */
  packDir: string;
  tarball: string;
  /** What npm put in the tarball (paths relative to the package root). */
  files: PackedFile[];
  /** The empty folder the tarball was installed into; scripts run there. */
  appDir: string;
  /** The installed package's root (<appDir>/node_modules/stopline). */
  installedDir: string;
  /** The package.json inside the tarball. */
  manifest: Record<string, unknown>;
  /** When `npm pack` started (dist/ must be newer: the prepack build ran). */
  packStartedAt: number;
};

let packed: Promise<PackedStopline> | undefined;

/** Packs and installs once per process. */
export function packedStopline(): Promise<PackedStopline> {
  packed ??= packAndInstall();
  return packed;
}

async function packAndInstall(): Promise<PackedStopline> {
  const root = mkdtempSync(join(tmpdir(), "stopline-pack-"));
  process.once("exit", () => rmSync(root, { recursive: true, force: true }));
  if (root.startsWith(REPO + sep)) throw new Error(`the temp folder ${root} is inside the repo`);
  const packDir = join(root, "pack");
  const appDir = join(root, "app");

  mkdirSync(packDir);
  const env = childEnv();
  const packStartedAt = Date.now();
  // `npm pack` runs the prepack script (`npm run build`), whose output also lands on stdout before npm's JSON
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", packDir, "--no-fund"], {
    cwd: REPO,
    env,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`npm pack failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  });
  const jsonStart = stdout.search(/^\[\s*$/m);
  if (jsonStart === -1) throw new Error(`npm pack printed no JSON:\n${stdout}`);
  const [info] = JSON.parse(stdout.slice(jsonStart)) as [{ filename: string; files: PackedFile[] }];
  const tarball = join(packDir, info.filename);

  // an empty ESM project outside the repo
  mkdirSync(appDir);
  writeFileSync(
    join(appDir, "package.json"),
    JSON.stringify({ name: "stopline-consumer", private: true, type: "module" }, null, 2),
  );
  await run(
    "npm",
    [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      "--no-package-lock",
      tarball,
      join(REPO, "node_modules", "viem"),
      join(REPO, "node_modules", "ethers"),
    ],
    { cwd: appDir, env, maxBuffer: 16 * 1024 * 1024 },
  ).catch((e: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`npm install of the tarball failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  });
  const installedDir = join(appDir, "node_modules", "stopline");
  if (lstatSync(installedDir).isSymbolicLink()) throw new Error("stopline was linked, not installed from the tarball");
  const manifest = JSON.parse(readFileSync(join(installedDir, "package.json"), "utf8")) as Record<string, unknown>;
  return {
    packDir,
    tarball,
    files: info.files,
    appDir,
    installedDir,
    manifest,
    packStartedAt,
  };
}

/** Runs `node <file>` (this Node) in `cwd` with `env`; resolves with its output and exit code, never rejects. */
export async function runNode(
  file: string,
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [file], {
      cwd: opts.cwd,
      env: opts.env,
      timeout: opts.timeoutMs ?? 30_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof err.code === "number" ? err.code : 1,
      stdout: err.stdout ?? "",
      stderr: `${err.stderr ?? ""}\n${err.message}`,
    };
  }
}

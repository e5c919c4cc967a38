// The stopline command line: finds the command, parses its flags, runs it, and turns failures into exit codes.
import { readFileSync } from "node:fs";

import {
  type Command,
  Context,
  GLOBAL_HELP,
  GLOBAL_OPTIONS,
  type ProcessIo,
  parseCommandArgs,
  shown,
} from "./context.js";
import { EXIT, UsageError, describeFailure } from "./errors.js";
import { toJson } from "./output.js";
import { refuseSecretFlags } from "./secrets.js";

/** The commands, loaded only when run. */
const COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<{ default: Command }> }>> = {
  keygen: { summary: "create an agent key in an encrypted keystore file", load: () => import("./commands/keygen.js") },
  deploy: { summary: "create the owner's Stopline account (idempotent)", load: () => import("./commands/deploy.js") },
  grant: { summary: "grant an agent key a policy", load: () => import("./commands/grant.js") },
  update: { summary: "change an agent's policy", load: () => import("./commands/update.js") },
  rotate: { summary: "replace an agent's key", load: () => import("./commands/rotate.js") },
  revoke: { summary: "revoke an agent for good", load: () => import("./commands/revoke.js") },
  pause: { summary: "pause every agent of the account", load: () => import("./commands/pause.js") },
  unpause: { summary: "let the agents act again", load: () => import("./commands/unpause.js") },
  status: { summary: "show an agent's limits, spending and state", load: () => import("./commands/status.js") },
  check: { summary: "ask whether a payment would pass now", load: () => import("./commands/check.js") },
  decode: {
    summary: "explain revert data, a transaction or a UserOperation",
    load: () => import("./commands/decode.js"),
  },
};

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    return pkg.version;
  } catch {
    return "unknown";
  }
}

const MAIN_HELP = `stopline: manage a Stopline account's agents from the command line

Usage: stopline <command> [flags]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(9)}${c.summary}`)
  .join("\n")}

${GLOBAL_HELP}

Secrets never go on the command line: the owner key comes from STOPLINE_OWNER_KEY or --owner-keystore.
Exit codes: 0 done, 1 refused or failed, 2 wrong usage. Run \`stopline <command> --help\` for a command's flags.
Reference: docs/cli.md`;

/** Splits off the command name; global flags may come before it (`stopline --json status ...`). */
function splitCommand(argv: string[]): { name: string | undefined; rest: string[] } {
  const withValue = new Set(
    Object.entries(GLOBAL_OPTIONS)
      .filter(([, o]) => o.type === "string")
      .map(([k]) => `--${k}`),
  );
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") break;
    if (withValue.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith("-")) return { name: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { name: undefined, rest: argv };
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: string[], io: ProcessIo): Promise<number> {
  const { name, rest } = splitCommand(argv);
  const json = rest.includes("--json");
  try {
    refuseSecretFlags(argv);
    if (name === undefined || name === "help") {
      if (rest.includes("--version") || rest.includes("-v")) {
        io.stdout.write(`${version()}\n`);
        return EXIT.ok;
      }
      if (name === "help" && rest[0] && COMMANDS[rest[0]]) {
        io.stdout.write(`${(await COMMANDS[rest[0]].load()).default.help}\n\n${GLOBAL_HELP}\n`);
        return EXIT.ok;
      }
      if (name === undefined && !rest.includes("--help") && !rest.includes("-h")) {
        io.stderr.write(`${MAIN_HELP}\n`);
        return EXIT.usage;
      }
      io.stdout.write(`${MAIN_HELP}\n`);
      return EXIT.ok;
    }
    const entry = COMMANDS[name];
    if (!entry) {
      throw new UsageError(`unknown command "${shown(name)}"`);
    }
    const command = (await entry.load()).default;
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help) {
      io.stdout.write(`${command.help}\n\n${GLOBAL_HELP}\n`);
      return EXIT.ok;
    }
    const code = await command.run(new Context(command, values, positionals, io));
    return code ?? EXIT.ok;
  } catch (error) {
    const failure = describeFailure(error, name && COMMANDS[name] ? name : undefined);
    if (json) io.stdout.write(`${toJson({ ok: false, error: failure.json })}\n`);
    io.stderr.write(`${failure.line}\n`);
    return failure.exitCode;
  }
}

import { resolve } from "node:path";

import { createAgentKey } from "../../agent/keys.js";
import { saveAgentKey } from "../../agent/keystore.js";
import type { Command } from "../context.js";
import { record } from "../output.js";
import { ENV, readPassword } from "../secrets.js";

const command: Command = {
  name: "keygen",
  summary: "create an agent key in an encrypted keystore file",
  help: `Usage: stopline keygen --out <file> [--force]

Creates a new agent key and saves it encrypted (Web3 Secret Storage v3: scrypt, AES-128-CTR; file mode 0600).
Prints only the key's address and the file's path: give the address to the owner (stopline grant --key, or
--keystore <file>, which reads the address without the password). The private key is never printed.

The password comes from ${ENV.password}, else a prompt without echo (asked twice) when stdin is a terminal,
else the first line of stdin.

Flags:
  --out <file>   where to write the keystore (refused if it exists)
  --force        replace an existing file (its key is lost unless saved elsewhere)

Example:
  stopline keygen --out agent.json`,
  options: { out: { type: "string", short: "o" }, force: { type: "boolean" } },
  async run(ctx) {
    const path = resolve(ctx.require("out", "the keystore file to write, e.g. --out agent.json"));
    const password = await readPassword(ctx.io, { prompt: `Password for the new keystore ${path}: `, confirm: true });
    const saved = await saveAgentKey(path, createAgentKey(), password, { overwrite: ctx.flag("force") });
    ctx.print(
      record([
        ["address", saved.address],
        ["keystore", saved.path],
      ]),
      { address: saved.address, path: saved.path },
    );
  },
};

export default command;

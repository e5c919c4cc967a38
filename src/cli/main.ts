#!/usr/bin/env node
// stopline: the command line of the Stopline toolkit (docs/cli.md).
import { EXIT } from "./errors.js";
import { main } from "./run.js";

process.on("SIGINT", () => process.exit(EXIT.interrupted));
process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});

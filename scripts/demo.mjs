// Launcher of `npm run demo` (plain Node, no build step). `hardhat run` takes no flags of its own for the script, so
// this reads them and runs scripts/demo.ts:
//
//   npm run demo                                      on a fresh in-process Hardhat network
//   npm run demo -- --rpc-url http://127.0.0.1:8545   against a running node (anvil, `npx hardhat node`), through the
//                                                     `demo` network of hardhat.config.ts, whose URL is the
//                                                     STOPLINE_DEMO_RPC_URL variable set here
//
// The exit code is the demo's: 0 when every step went as the story says.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { URL, fileURLToPath } from "node:url";

const USAGE = `Usage: npm run demo [-- --rpc-url <http(s) URL of a node such as anvil or \`npx hardhat node\`>]`;

function parse(argv) {
  let rpcUrl;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") return { help: true };
    if (arg === "--rpc-url") {
      rpcUrl = argv[++i];
      if (rpcUrl === undefined) throw new Error("--rpc-url needs a URL, e.g. --rpc-url http://127.0.0.1:8545");
    } else if (arg.startsWith("--rpc-url=")) rpcUrl = arg.slice("--rpc-url=".length);
    else throw new Error(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (rpcUrl !== undefined) {
    let url;
    try {
      url = new URL(rpcUrl);
    } catch {
      throw new Error(`--rpc-url ${JSON.stringify(rpcUrl)} is not a URL, e.g. http://127.0.0.1:8545`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`--rpc-url must be an http:// or https:// URL, not ${url.protocol}`);
    }
  }
  return { rpcUrl };
}

let options;
try {
  options = parse(process.argv.slice(2));
} catch (e) {
  console.error(`npm run demo: ${e.message}\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const hardhat = join(dirname(createRequire(import.meta.url).resolve("hardhat/package.json")), "dist/src/cli.js");
const args = [hardhat, "run", "scripts/demo.ts"];
const env = { ...process.env };
if (options.rpcUrl !== undefined) {
  args.push("--network", "demo");
  env.STOPLINE_DEMO_RPC_URL = options.rpcUrl;
}

// Same Node as this launcher (npm runs it with the project's Node 24), same terminal: colours only on a TTY.
const child = spawn(process.execPath, args, { cwd: root, env, stdio: "inherit" });
const forward = (signal) => child.kill(signal);
process.on("SIGINT", forward);
process.on("SIGTERM", forward);
child.on("exit", (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});

#!/usr/bin/env node
// Installs the project's dependencies whatever the machine's Node is.
//
// Hardhat 3 needs Node >= 22, and under Node 20 npm silently skips the native binding of Hardhat's
// simulator (EDR), after which every Hardhat command fails. So on Node < 22 the install itself runs
// under Node 24 fetched from the npm registry; `node` 24 is also a devDependency, so every later
// `npm run ...` / `npm test` runs on it (npm puts node_modules/.bin first on PATH).
"use strict";
const { spawnSync } = require("node:child_process");
const { join } = require("node:path");

const major = Number(process.versions.node.split(".")[0]);
const cmd = major >= 22 ? ["npm", ["ci"]] : ["npx", ["-y", "-p", "node@24", "--", "npm", "ci"]];
console.log(`stopline setup: Node ${process.versions.node}; running: ${cmd[0]} ${cmd[1].join(" ")}`);
const result = spawnSync(cmd[0], cmd[1], { stdio: "inherit", shell: process.platform === "win32" });
if (result.status !== 0) {
  console.error(
    `stopline setup: install failed (exit ${result.status}). Check your network access to the npm registry and retry.`,
  );
  process.exit(result.status ?? 1);
}
// `npm ci` ran the `prepare` script, which applies patches/ to node_modules (scripts/apply-patches.cjs: Alto's safe mode
// needs one for EntryPoint v0.8). Make sure it did.
const patches = spawnSync(process.execPath, [join(__dirname, "apply-patches.cjs"), "--check"], {
  stdio: "inherit",
});
if (patches.status !== 0) {
  console.error("stopline setup: the patches in patches/ are not applied; run: node scripts/apply-patches.cjs");
  process.exit(patches.status ?? 1);
}
// Compile the contracts now, so that the first `npm run demo` or `npm test` does not wait for the compiler.
// `npm run` puts node_modules/.bin (with Node 24) first on PATH.
const build = spawnSync("npm", ["run", "build:contracts", "--silent"], {
  stdio: "inherit",
  shell: process.platform === "win32",
});
if (build.status !== 0) {
  console.error(
    `stopline setup: compiling the contracts failed (exit ${build.status}); see the compiler output above.`,
  );
  process.exit(build.status ?? 1);
}
console.log("stopline setup: done. Next: npm run demo, or npm test.");

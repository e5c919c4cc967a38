// Generates the ethers v6 (TypeChain) bindings shipped as `stopline/ethers`, from the deployable contracts only (test
// contracts stay out of the package). The artifacts are first copied into one flat folder so that TypeChain writes no
// sub-folder index, whose extensionless imports would not resolve under Node's ESM rules.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { basename } from "node:path";

const ARTIFACTS = [
  "artifacts/contracts/AgentAccount.sol/AgentAccount.json",
  "artifacts/contracts/AgentAccountFactory.sol/AgentAccountFactory.json",
  "artifacts/contracts/interfaces/IAgentGuardrails.sol/IAgentGuardrails.json",
  "artifacts/contracts/tokens/TestUSDC.sol/TestUSDC.json",
];
const ABIS = "types/ethers-abis";
const OUT = "types/ethers-package";

rmSync(ABIS, { recursive: true, force: true });
rmSync(OUT, { recursive: true, force: true });
mkdirSync(ABIS, { recursive: true });
for (const a of ARTIFACTS) copyFileSync(a, `${ABIS}/${basename(a)}`);
const r = spawnSync(
  "typechain",
  ["--target", "ethers-v6", "--node16-modules", "--out-dir", OUT, ...ARTIFACTS.map((a) => `${ABIS}/${basename(a)}`)],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);

// `npm run coverage`: runs the tests that execute the contracts in-process with Hardhat's built-in coverage
// (`hardhat test --coverage`, configured by hardhat.coverage.config.ts); then package.json runs the gate
// (scripts/coverage-check.ts).
// Reports: coverage/lcov.info, coverage/html/; the instrumented build goes to coverage/artifacts and coverage/cache.
//
// Which tests: every Solidity test (test/*.t.sol, default fuzz and invariant profile) and every mocha test
// (test/*.test.ts) except those listed below, which run the contracts on external processes (anvil, Alto, a packed
// install) that Hardhat cannot instrument, or which trace validation opcode by opcode and so would see the coverage
// probes' own calls. They add nothing to the report and only cost time; `npm test` runs them.
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));

export const NOT_IN_COVERAGE: Readonly<Record<string, string>> = {
  "test/cli.test.ts": "the CLI against anvil",
  "test/deploy-ignition.test.ts": "Ignition deployments on anvil",
  "test/package.test.ts": "the packed package installed outside the repo",
  "test/docs-snippets.test.ts": "README and guide snippets against the packed package on anvil",
  "test/demo.test.ts": "`npm run demo` as a child process",
  "test/erc7562.test.ts": "opcode traces of validation (the coverage probes are calls of their own)",
};

/** End-to-end tests (`test/e2e-*.test.ts`) run on anvil and other processes: never in the coverage run. */
const isEndToEnd = (file: string): boolean => /^test\/e2e-[^/]*\.test\.ts$/.test(file);

export function coverageTestFiles(): string[] {
  const files = readdirSync(join(ROOT, "test"))
    .filter((f) => f.endsWith(".t.sol") || f.endsWith(".test.ts"))
    .map((f) => `test/${f}`)
    .filter((f) => !(f in NOT_IN_COVERAGE) && !isEndToEnd(f))
    .sort();
  // Solidity tests first: the report is the same, and a fuzz failure shows up before the slower mocha run.
  return [...files.filter((f) => f.endsWith(".t.sol")), ...files.filter((f) => f.endsWith(".test.ts"))];
}

function run(): number {
  // Hit counts of an earlier run would add up with this one's: start from nothing (the instrumented build stays).
  for (const old of ["data", "lcov.info", "html"])
    rmSync(join(ROOT, "coverage", old), { recursive: true, force: true });
  const files = coverageTestFiles();
  console.log(
    `coverage: ${files.length} test files (not run here: test/e2e-*.test.ts, ${Object.keys(NOT_IN_COVERAGE).join(", ")})`,
  );
  const hardhat = join(ROOT, "node_modules", ".bin", "hardhat");
  const result = spawnSync(hardhat, ["test", "--config", "hardhat.coverage.config.ts", "--coverage", ...files], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (result.error !== undefined) {
    console.error(`coverage: could not start ${hardhat}: ${result.error.message}`);
    return 1;
  }
  if (result.status !== 0) {
    console.error(`coverage: the test run failed (exit status ${result.status ?? result.signal}); no gate applied`);
    return 1;
  }
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = run();
}

// The coverage gate itself (scripts/coverage-check.ts) on hand-made reports: it passes at the thresholds and fails just
// below them, ignores contracts/test/, and derives the arms of an `if` from statement hit counts as documented.
import { expect } from "chai";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { MIN_BRANCHES, MIN_LINES, main, parseLcov } from "../scripts/coverage-check.js";

const require = createRequire(import.meta.url);

/** An lcov record for `file` with `hit` of `found` lines run and, optionally, branch records. */
function record(file: string, found: number, hit: number, arms?: { found: number; hit: number }): string {
  const lines = Array.from({ length: found }, (_, i) => `DA:${i + 1},${i < hit ? 1 : 0}`);
  const branches =
    arms === undefined ? [] : Array.from({ length: arms.found }, (_, i) => `BRDA:1,0,${i},${i < arms.hit ? 1 : "-"}`);
  return ["SF:" + file, ...lines, ...branches, `LH:${hit}`, `LF:${found}`, "end_of_record"].join("\n");
}

describe("coverage gate (scripts/coverage-check.ts)", function () {
  let dir: string;
  let logs: string[];
  const realLog = console.log;
  const realError = console.error;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "stopline-coverage-"));
    logs = [];
    console.log = (...a: unknown[]) => void logs.push(a.join(" "));
    console.error = (...a: unknown[]) => void logs.push(a.join(" "));
  });
  afterEach(function () {
    console.log = realLog;
    console.error = realError;
    rmSync(dir, { recursive: true, force: true });
  });

  const gate = (...records: string[]) => {
    writeFileSync(join(dir, "lcov.info"), ["TN:", ...records, ""].join("\n"));
    return main(dir);
  };

  it("has the thresholds of issue 5", function () {
    expect([MIN_LINES, MIN_BRANCHES]).to.deep.equal([98, 95]);
  });

  it("passes at exactly 98% of lines and 95% of branches", function () {
    expect(gate(record("contracts/A.sol", 100, 98, { found: 20, hit: 19 }))).to.equal(0);
    expect(logs.join("\n")).to.contain("coverage gate passed");
  });

  it("fails just below 98% of lines (97.98%) and names the lines not run", function () {
    const code = gate(record("contracts/A.sol", 4999, 4898, { found: 20, hit: 20 }));
    expect(code).to.equal(1);
    const out = logs.join("\n");
    expect(out).to.contain("lines 97.98% < 98%");
    expect(out).to.contain("contracts/A.sol: lines 4899-4999 never ran");
  });

  it("fails just below 95% of branches (94.95%) and names the arms not taken", function () {
    expect(gate(record("contracts/A.sol", 10, 10, { found: 2000, hit: 1899 }))).to.equal(1);
    expect(logs.join("\n")).to.contain("branches 94.95% < 95%");
    expect(logs.join("\n")).to.contain("contracts/A.sol:1: branch arm never taken");
  });

  it("leaves contracts/test/ and files outside contracts/ out of the totals", function () {
    const code = gate(
      record("contracts/A.sol", 10, 10, { found: 2, hit: 2 }),
      record("contracts/test/Mock.sol", 50, 0, { found: 10, hit: 0 }),
      record("test/Some.t.sol", 50, 0),
    );
    expect(code).to.equal(0);
    expect(logs.join("\n")).to.match(/total\s+100\.00 \(10\/10\)\s+100\.00 \(2\/2\)/);
    expect(logs.join("\n")).to.not.contain("Mock.sol");
  });

  it("fails when there is no report, or nothing under contracts/", function () {
    expect(main(dir)).to.equal(1);
    expect(gate(record("contracts/test/Mock.sol", 1, 1))).to.equal(1);
  });

  it("derives the arms of an `if` from statement hits when the report has no branch records", function () {
    // contracts/libraries/AccountOwner.sol has one `if (...) return address(0);` followed by two statements
    const file = "contracts/libraries/AccountOwner.sol";
    const { addStatementCoverageInstrumentation } = require("@nomicfoundation/edr") as {
      addStatementCoverageInstrumentation: (
        s: string,
        n: string,
        v: string,
      ) => { metadata: Array<{ tag: Uint8Array; startUtf16: number }> };
    };
    const source = readFileSync(file, "utf8");
    const tags = addStatementCoverageInstrumentation(source, `project/${file}`, "0.8.30")
      .metadata.sort((a, b) => a.startUtf16 - b.startUtf16)
      .map((m) => Buffer.from(m.tag).toString("hex"));
    expect(tags.length, "the if, its return, and two statements after it").to.equal(4);
    const [ifTag, bodyTag, after1, after2] = tags;
    const lcov = parseLcov(record(file, 3, 3));
    expect([...lcov.keys()]).to.deep.equal([file]);
    const run = (hits: Record<string, number>) => {
      rmSync(join(dir, "data"), { recursive: true, force: true });
      mkdirSync(join(dir, "data", "mocha"), { recursive: true });
      writeFileSync(join(dir, "data", "mocha", "run.json"), JSON.stringify(hits));
      logs = [];
      return gate(record(file, 3, 3));
    };
    // the `if` ran in 3 transactions, its body in 1: both arms taken
    expect(run({ [ifTag]: 3, [bodyTag]: 1, [after1]: 2, [after2]: 2 })).to.equal(0);
    expect(logs.join("\n")).to.contain("100.00 (2/2)");
    // the body ran every time the `if` did: the false arm is not proven
    expect(run({ [ifTag]: 2, [bodyTag]: 2 })).to.equal(1);
    expect(logs.join("\n")).to.contain(`${file}:14: if: false arm never taken`);
    // the body never ran
    expect(run({ [ifTag]: 2, [after1]: 2, [after2]: 2 })).to.equal(1);
    expect(logs.join("\n")).to.contain(`${file}:14: if: true arm never taken`);
  });
});

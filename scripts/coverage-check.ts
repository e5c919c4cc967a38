// The coverage gate: reads the report of a `--coverage` run (coverage/lcov.info and the raw hit counts Hardhat keeps in
// coverage/data/), prints a table per contract file and the totals, and exits with status 1 when the product contracts
// (contracts/, without the test helpers in contracts/test/) fall below the thresholds, naming every line and branch
// that no test reaches.
//
//   npm run coverage                      (runs the tests with --coverage, then this check)
//   node scripts/coverage-check.ts        (checks the last run again)
//
// Lines come from the lcov report. Branches: Hardhat 3 instruments statements only and writes no branch records
// (BRDA) into the lcov report. When the report has none, the arms are derived from the statement hit counts Hardhat
// keeps in coverage/data/, with the parse tree of each file from solc:
//   - `if`: the true arm is taken when the first statement of its body ran; the false arm when the first statement of
//     its `else` ran or, without an `else`, when the `if` itself has a higher count than its body;
//   - `try`: each clause is an arm, taken when its first statement ran.
// EDR reports each statement at most once per transaction (per run, for a Solidity test), so a count is the number of
// transactions that ran the statement. The rule for an `if` without `else` is therefore conservative: its false arm
// counts as taken only when some transaction ran the `if` and never its body (one that takes both arms, in a loop
// say, shows nothing). It never reports an arm that did not run.
// Conditional expressions (`c ? a : b`), short-circuit operators and inline assembly have no statement of their own
// to count, so they are not arms here (the fuzz tests in test/*.t.sol exercise the pure ones); the table says how
// many there are. If a future Hardhat writes branch records, those are used instead.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const MIN_LINES = 98;
export const MIN_BRANCHES = 95;

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const require = createRequire(import.meta.url);

/** What the gate measures: product contracts only. */
export function isGated(file: string): boolean {
  return file.startsWith("contracts/") && !file.startsWith("contracts/test/") && file.endsWith(".sol");
}

interface LcovFile {
  lines: Map<number, number>;
  branches: Array<{ line: number; taken: boolean }>;
}

export function parseLcov(text: string): Map<string, LcovFile> {
  const files = new Map<string, LcovFile>();
  let current: LcovFile | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("SF:")) {
      const file = line.slice(3).replaceAll("\\", "/");
      current = files.get(file) ?? { lines: new Map(), branches: [] };
      files.set(file, current);
    } else if (line === "end_of_record") {
      current = undefined;
    } else if (current !== undefined && line.startsWith("DA:")) {
      const [n, count] = line.slice(3).split(",");
      const lineNo = Number(n);
      current.lines.set(lineNo, (current.lines.get(lineNo) ?? 0) + Number(count));
    } else if (current !== undefined && line.startsWith("BRDA:")) {
      const [n, , , taken] = line.slice(5).split(",");
      current.branches.push({ line: Number(n), taken: taken !== "-" && Number(taken) > 0 });
    }
  }
  return files;
}

interface AstNode {
  nodeType: string;
  src: string;
  [key: string]: unknown;
}

interface Statement {
  tag: string;
  start: number;
  end: number;
}

interface Arm {
  line: number;
  label: string;
  taken: boolean;
}

interface BranchResult {
  arms: Arm[];
  unmeasured: string[];
  notCounted: string[];
}

/** Hit counts per statement tag, summed over every test runner's data files. */
function readHits(dataDir: string): Map<string, number> {
  const hits = new Map<string, number>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".json")) {
        const entries = JSON.parse(readFileSync(path, "utf8")) as Record<string, number>;
        for (const [tag, count] of Object.entries(entries)) hits.set(tag, (hits.get(tag) ?? 0) + count);
      }
    }
  };
  if (existsSync(dataDir)) walk(dataDir);
  return hits;
}

function children(node: AstNode): AstNode[] {
  const out: AstNode[] = [];
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) {
      for (const v of value) if (v !== null && typeof v === "object" && "nodeType" in v) out.push(v as AstNode);
    } else if (value !== null && typeof value === "object" && "nodeType" in value) {
      out.push(value as AstNode);
    }
  }
  return out;
}

/** Derives branch arms of one file from the statement hits (see the header). */
function deriveBranches(
  file: string,
  hits: Map<string, number>,
  solcVersion: string,
  anyLineRan: boolean,
): BranchResult {
  // Both modules ship with the project's dev dependencies (EDR with Hardhat, solc for its WebAssembly compiler).
  const { addStatementCoverageInstrumentation } = require("@nomicfoundation/edr") as {
    addStatementCoverageInstrumentation: (
      source: string,
      sourceName: string,
      version: string,
    ) => { metadata: Array<{ kind: string; tag: Uint8Array; startUtf16: number; endUtf16: number }> };
  };
  const solc = require("solc") as { compile: (input: string) => string };

  const source = readFileSync(join(ROOT, file), "utf8");
  // Hardhat instruments each project file under the source name `project/<path>`; the tags depend on it.
  const statements: Statement[] = addStatementCoverageInstrumentation(source, `project/${file}`, solcVersion)
    .metadata.filter((m) => m.kind === "statement")
    .map((m) => ({ tag: Buffer.from(m.tag).toString("hex"), start: m.startUtf16, end: m.endUtf16 }));
  if (anyLineRan && !statements.some((s) => hits.has(s.tag))) {
    // The lcov report says this file ran, yet none of its statements has a count: Hardhat changed how it names
    // statements. Say so rather than report every arm as missed.
    throw new Error(`coverage-check: no statement hit of ${file} matches Hardhat's tags; cannot derive branches`);
  }

  const output = JSON.parse(
    solc.compile(
      JSON.stringify({
        language: "Solidity",
        sources: { [file]: { content: source } },
        settings: { stopAfter: "parsing", outputSelection: { "*": { "": ["ast"] } } },
      }),
    ),
  ) as { sources?: Record<string, { ast: AstNode }>; errors?: Array<{ severity: string; formattedMessage: string }> };
  const failures = (output.errors ?? []).filter((e) => e.severity === "error");
  if (failures.length > 0 || output.sources?.[file] === undefined) {
    throw new Error(`solc could not parse ${file}:\n${failures.map((e) => e.formattedMessage).join("\n")}`);
  }

  const bytes = Buffer.from(source, "utf8");
  const toUtf16 = (byteOffset: number): number => bytes.subarray(0, byteOffset).toString("utf8").length;
  const lineOf = (utf16: number): number => source.slice(0, utf16).split("\n").length;
  const startOf = (node: AstNode): number => toUtf16(Number(node.src.split(":")[0]));

  /** The instrumented statement that begins at `node`: the innermost range holding its start, with nothing but
   *  whitespace and comments before it (a statement's range begins where the previous one ends). */
  const statementAt = (node: AstNode): Statement | undefined => {
    const at = startOf(node);
    const holding = statements
      .filter((s) => s.start <= at && at < s.end)
      .sort((a, b) => a.end - a.start - (b.end - b.start));
    const own = holding[0];
    if (own === undefined) return undefined;
    const before = source
      .slice(own.start, at)
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/\/\/[^\n]*/g, "");
    return before.trim() === "" ? own : undefined;
  };
  /** The statement that runs first when `node` (a statement or a block) is entered. */
  const entryOf = (node: AstNode): Statement | undefined => {
    if (node.nodeType === "Block" || node.nodeType === "UncheckedBlock") {
      const inner = (node.statements as AstNode[] | undefined) ?? [];
      return inner.length === 0 ? undefined : entryOf(inner[0]);
    }
    return statementAt(node);
  };
  const count = (s: Statement): number => hits.get(s.tag) ?? 0;

  const result: BranchResult = { arms: [], unmeasured: [], notCounted: [] };
  const visit = (node: AstNode): void => {
    if (node.nodeType === "IfStatement") {
      const line = lineOf(startOf(node));
      const self = statementAt(node);
      const whenTrue = entryOf(node.trueBody as AstNode);
      const falseBody = node.falseBody as AstNode | null | undefined;
      if (self === undefined || whenTrue === undefined) {
        result.unmeasured.push(`${line} (if)`);
      } else {
        result.arms.push({ line, label: "if: true", taken: count(whenTrue) > 0 });
        if (falseBody !== null && falseBody !== undefined) {
          const whenFalse = entryOf(falseBody);
          if (whenFalse === undefined) result.unmeasured.push(`${line} (else)`);
          else result.arms.push({ line, label: "if: else", taken: count(whenFalse) > 0 });
        } else {
          result.arms.push({ line, label: "if: false", taken: count(self) > count(whenTrue) });
        }
      }
    } else if (node.nodeType === "TryStatement") {
      const line = lineOf(startOf(node));
      const clauses = (node.clauses as AstNode[] | undefined) ?? [];
      clauses.forEach((clause, i) => {
        const entry = entryOf(clause.block as AstNode);
        if (entry === undefined) result.unmeasured.push(`${line} (try clause ${i})`);
        else result.arms.push({ line, label: i === 0 ? "try: success" : "try: catch", taken: count(entry) > 0 });
      });
    } else if (node.nodeType === "Conditional") {
      result.notCounted.push(`${lineOf(startOf(node))}`);
    }
    for (const child of children(node)) visit(child);
  };
  visit(output.sources[file].ast);
  return result;
}

function percent(hit: number, found: number): number {
  return found === 0 ? 100 : (hit * 100) / found;
}

function ranges(lines: number[]): string {
  const sorted = [...lines].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return out.join(", ");
}

export function main(coverageDir = join(ROOT, "coverage")): number {
  const lcovPath = join(coverageDir, "lcov.info");
  if (!existsSync(lcovPath)) {
    console.error(`coverage-check: ${relative(ROOT, lcovPath)} not found; run \`npm run coverage\` first`);
    return 1;
  }
  const lcov = parseLcov(readFileSync(lcovPath, "utf8"));
  const gated = [...lcov.keys()].filter(isGated).sort();
  if (gated.length === 0) {
    console.error("coverage-check: the lcov report has no file under contracts/ (outside contracts/test/)");
    return 1;
  }
  const fromLcov = gated.some((f) => lcov.get(f)!.branches.length > 0);
  const hits = fromLcov ? new Map<string, number>() : readHits(join(coverageDir, "data"));
  if (!fromLcov && hits.size === 0) {
    console.error("coverage-check: no hit counts in coverage/data; run `npm run coverage` first");
    return 1;
  }
  const solcVersion = (require("solc/package.json") as { version: string }).version;

  let linesHit = 0;
  let linesFound = 0;
  let armsHit = 0;
  let armsFound = 0;
  let notCounted = 0;
  const misses: string[] = [];
  const rows: string[][] = [];
  for (const file of gated) {
    const { lines, branches } = lcov.get(file)!;
    const missedLines = [...lines].filter(([, c]) => c === 0).map(([n]) => n);
    const fileLinesHit = lines.size - missedLines.length;
    let arms: Arm[];
    let fileNotCounted: string[] = [];
    if (fromLcov) {
      arms = branches.map((b) => ({ line: b.line, label: "branch", taken: b.taken }));
    } else {
      const derived = deriveBranches(file, hits, solcVersion, fileLinesHit > 0);
      if (derived.unmeasured.length > 0) {
        const where = derived.unmeasured.join(", ");
        console.error(`coverage-check: ${file}: branches with no statement to count at lines ${where}`);
        return 1;
      }
      arms = derived.arms;
      fileNotCounted = derived.notCounted;
    }
    const missedArms = arms.filter((a) => !a.taken);
    linesHit += fileLinesHit;
    linesFound += lines.size;
    armsHit += arms.length - missedArms.length;
    armsFound += arms.length;
    notCounted += fileNotCounted.length;
    rows.push([
      file,
      `${percent(fileLinesHit, lines.size).toFixed(2)} (${fileLinesHit}/${lines.size})`,
      `${percent(arms.length - missedArms.length, arms.length).toFixed(2)} (${arms.length - missedArms.length}/${arms.length})`,
      missedLines.length === 0 ? "-" : ranges(missedLines),
    ]);
    if (missedLines.length > 0) misses.push(`  ${file}: lines ${ranges(missedLines)} never ran`);
    for (const a of missedArms) misses.push(`  ${file}:${a.line}: ${a.label} arm never taken`);
  }

  const header = ["file", "lines %", "branches %", "lines not run"];
  const totalLines = percent(linesHit, linesFound);
  const totalArms = percent(armsHit, armsFound);
  const total = [
    "total",
    `${totalLines.toFixed(2)} (${linesHit}/${linesFound})`,
    `${totalArms.toFixed(2)} (${armsHit}/${armsFound})`,
    "",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length), total[i].length));
  const fmt = (r: string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  console.log(fmt(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(fmt(r));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  console.log(fmt(total));
  console.log(
    fromLcov
      ? "branches: from the lcov branch records"
      : `branches: if/else and try/catch arms derived from statement hit counts; ${notCounted} conditional expression(s) not counted`,
  );

  const failed: string[] = [];
  if (totalLines < MIN_LINES) failed.push(`lines ${totalLines.toFixed(2)}% < ${MIN_LINES}%`);
  if (totalArms < MIN_BRANCHES) failed.push(`branches ${totalArms.toFixed(2)}% < ${MIN_BRANCHES}%`);
  if (failed.length > 0) {
    console.error(`\ncoverage gate FAILED: ${failed.join(", ")}. Not reached by any test:`);
    console.error(misses.join("\n"));
    return 1;
  }
  console.log(`\ncoverage gate passed: lines >= ${MIN_LINES}%, branches >= ${MIN_BRANCHES}%`);
  if (misses.length > 0) console.log(`still not reached:\n${misses.join("\n")}`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main();
}

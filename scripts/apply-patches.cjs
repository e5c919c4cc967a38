#!/usr/bin/env node
// Applies the patches in patches/ to installed dev dependencies. Run by the `prepare` script, so `npm ci` and
// `npm install` in this repository run it (and so does `npm run setup`, which runs `npm ci`); npm never runs `prepare`
// for someone who installs the published package, and this file is not in it.
//
// A patch is a unified diff named `<package, "/" as "+">+<version>.patch` (the naming patch-package uses), whose paths
// are `a/node_modules/<package>/...` and `b/node_modules/<package>/...`. Each hunk must match exactly (no fuzz).
// Running it twice is fine: a file whose hunks already read as the patched text is left alone. A package that is not
// installed is skipped; a package at another version, or a file that matches neither side, is an error (reinstall with
// `npm ci`, or renew the patch).
//
//   node scripts/apply-patches.cjs          apply what is missing
//   node scripts/apply-patches.cjs --check  exit 1 unless every patch is applied (changes nothing)
"use strict";
const { existsSync, readFileSync, readdirSync, writeFileSync } = require("node:fs");
const { join, normalize, sep } = require("node:path");

const ROOT = join(__dirname, "..");
const PATCHES = join(ROOT, "patches");
const checkOnly = process.argv.includes("--check");

/** Splits text into lines that keep their "\n" (the last one may have none). */
const linesOf = (text) => text.split(/(?<=\n)/).filter((l) => l !== "");

/** The files of a unified diff: path (after `b/`) and hunks with their old and new lines (terminators kept). */
function parseDiff(text, name) {
  const files = [];
  let file;
  let hunk;
  let last; // the side(s) the previous hunk line went to, for "\ No newline at end of file"
  for (const line of text.split("\n")) {
    if (line.startsWith("diff ") || line.startsWith("--- ") || line === "") {
      if (line.startsWith("diff ")) hunk = undefined;
      continue;
    }
    if (line.startsWith("+++ ")) {
      const path = line.slice(4).replace(/\t.*$/, "");
      if (!path.startsWith("b/")) throw new Error(`${name}: unexpected file header "${line}"`);
      file = { path: path.slice(2), hunks: [] };
      files.push(file);
      hunk = undefined;
      continue;
    }
    const header = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (header) {
      if (!file) throw new Error(`${name}: hunk before any file header`);
      hunk = { oldStart: Number(header[1]), newStart: Number(header[3]), old: [], new: [] };
      file.hunks.push(hunk);
      continue;
    }
    if (!hunk) throw new Error(`${name}: unexpected line "${line}"`);
    if (line.startsWith("\\")) {
      // the previous line has no newline at the end of the file
      for (const side of last) side[side.length - 1] = side[side.length - 1].replace(/\n$/, "");
      continue;
    }
    const body = `${line.slice(1)}\n`;
    if (line[0] === " ") {
      hunk.old.push(body);
      hunk.new.push(body);
      last = [hunk.old, hunk.new];
    } else if (line[0] === "-") {
      hunk.old.push(body);
      last = [hunk.old];
    } else if (line[0] === "+") {
      hunk.new.push(body);
      last = [hunk.new];
    } else {
      throw new Error(`${name}: unexpected line "${line}"`);
    }
  }
  return files;
}

/** Replaces each hunk's `from` lines by its `to` lines; undefined if any hunk does not match exactly. */
function applyHunks(lines, hunks, from, to, startOf) {
  const out = [...lines];
  let shift = 0;
  for (const h of hunks) {
    // a hunk with no `from` lines starts after line `start`, any other at line `start` (1-based)
    const at = (h[from].length === 0 ? startOf(h) : startOf(h) - 1) + shift;
    const found = out.slice(at, at + h[from].length);
    if (found.length !== h[from].length || found.some((l, i) => l !== h[from][i])) return undefined;
    out.splice(at, h[from].length, ...h[to]);
    shift += h[to].length - h[from].length;
  }
  return out;
}

let failed = false;
const patches = existsSync(PATCHES)
  ? readdirSync(PATCHES)
      .filter((f) => f.endsWith(".patch"))
      .sort()
  : [];
for (const name of patches) {
  const m = /^(.+)\+([^+]+)\.patch$/.exec(name);
  if (!m) throw new Error(`patches/${name}: name it <package, "/" as "+">+<version>.patch`);
  const pkg = m[1].replace(/\+/g, "/");
  const version = m[2];
  const pkgDir = join(ROOT, "node_modules", ...pkg.split("/"));
  if (!existsSync(join(pkgDir, "package.json"))) {
    console.log(`apply-patches: ${pkg} is not installed; skipping patches/${name}`);
    continue;
  }
  const installed = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version;
  if (installed !== version) {
    console.error(`apply-patches: patches/${name} is for ${pkg} ${version}, but ${installed} is installed`);
    failed = true;
    continue;
  }
  for (const file of parseDiff(readFileSync(join(PATCHES, name), "utf8"), name)) {
    const rel = normalize(file.path);
    if (!rel.startsWith(join("node_modules", ...pkg.split("/")) + sep) || rel.split(sep).includes("..")) {
      throw new Error(`patches/${name}: ${file.path} is outside node_modules/${pkg}`);
    }
    const target = join(ROOT, rel);
    const lines = linesOf(readFileSync(target, "utf8"));
    if (applyHunks(lines, file.hunks, "new", "old", (h) => h.newStart)) {
      console.log(`apply-patches: ${file.path} is already patched (patches/${name})`);
      continue;
    }
    const patched = applyHunks(lines, file.hunks, "old", "new", (h) => h.oldStart);
    if (!patched) {
      console.error(
        `apply-patches: ${file.path} matches neither side of patches/${name}; reinstall it (npm ci) or renew the patch`,
      );
      failed = true;
    } else if (checkOnly) {
      console.error(`apply-patches: ${file.path} is not patched yet; run node scripts/apply-patches.cjs`);
      failed = true;
    } else {
      writeFileSync(target, patched.join(""));
      console.log(`apply-patches: patched ${file.path} (patches/${name})`);
    }
  }
}
process.exit(failed ? 1 : 0);

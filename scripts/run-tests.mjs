#!/usr/bin/env node
// Runs the test suites with Node's own test runner (TypeScript through tsx).
//   node scripts/run-tests.mjs [unit|integration|e2e ...]   (default: all that exist)
// unit: no outside services. integration: real SQLite and PostgreSQL, real processes and
// HTTP servers on loopback. e2e: real VS Code (code-server) and Chromium.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const suites = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const wanted = suites.length ? suites : ["unit", "integration", "e2e"];

function findTests(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (/\.test\.ts$/.test(name)) out.push(p);
  }
  return out.sort();
}

// One run of the test runner over every file, so its closing summary counts the whole suite.
const files = wanted.flatMap((suite) => findTests(path.join(root, "test", suite)));
if (files.length === 0) {
  console.error(`no test files found for: ${wanted.join(", ")}`);
  process.exit(1);
}
console.log(`running ${files.length} test files (${wanted.join(", ")})`);
const res = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", ...files.map((f) => path.relative(root, f))],
  { cwd: root, stdio: "inherit", env: { ...process.env, NODE_ENV: "test" } },
);
process.exit(res.status ?? 1);

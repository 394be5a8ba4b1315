/**
 * The layers' boundaries, checked on the sources: the contract imports nothing, the extension
 * imports nothing from the backend, lower backend layers import nothing from `api/`, routes
 * reach the pool only through its facade, no SQL lives outside `store/`, and only the
 * transition owner writes an instance's `state`.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(__dirname, "../..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

/** Every module a file imports, resolved to a path relative to the repo root. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), "utf8");
  const specs = [...text.matchAll(/(?:from|import)\s+"([^"]+)"/g)].map((m) => m[1]!);
  return specs.filter((s) => s.startsWith(".")).map((s) => path.relative(ROOT, path.resolve(ROOT, path.dirname(file), s)));
}

function offenders(files: string[], bad: (imported: string) => boolean): string[] {
  return files.flatMap((f) => importsOf(f).filter(bad).map((i) => `${f} imports ${i}`));
}

test("the contract imports nothing outside itself", () => {
  assert.deepEqual(offenders(sources("contract"), (i) => !i.startsWith("contract")), []);
});

test("the extension imports nothing from the backend", () => {
  // The one exception: a node:net-only helper both sides share (see its header).
  const shared = new Set(["backend/net/free-port"]);
  assert.deepEqual(offenders(sources("extension"), (i) => i.startsWith("backend") && !shared.has(i)), []);
});

test("backend layers below the API import nothing from api/", () => {
  const lower = sources("backend").filter((f) => !f.startsWith("backend/api/") && f !== "backend/server.ts" && f !== "backend/cli.ts");
  assert.deepEqual(offenders(lower, (i) => i.startsWith("backend/api")), []);
});

test("only the transition owner writes an instance's state", () => {
  const backend = sources("backend").filter((f) => !f.includes("/migrations/"));
  // The one UPDATE of the instances table lives in the store's writes module...
  const updaters = backend.filter((f) => /updateTable\(\s*["']instances["']/.test(readFileSync(path.join(ROOT, f), "utf8")));
  assert.deepEqual(updaters, ["backend/store/instances/writes.ts"]);
  // ...whose state-writing entry point only the transition owner calls.
  const stateWriters = backend.filter((f) => f !== "backend/store/instances/writes.ts" && readFileSync(path.join(ROOT, f), "utf8").includes("writeStateGuarded"));
  assert.deepEqual(stateWriters, ["backend/pool/transitions.ts"]);
  // And no raw SQL sets it anywhere.
  const raw = backend.filter((f) => /set\s+state\s*=/i.test(readFileSync(path.join(ROOT, f), "utf8")));
  assert.deepEqual(raw, []);
});

test("the HTTP layer reaches the pool only through its facade", () => {
  const api = sources("backend/api");
  assert.deepEqual(offenders(api, (i) => i.startsWith("backend/store") || i.startsWith("backend/providers") || i === "backend/pool/service" || i === "backend/pool/context"), []);
  const reaching = api.filter((f) => /\bpool\.(ctx|db|loop)\b|\bctx\.(provider|db)\b/.test(readFileSync(path.join(ROOT, f), "utf8")));
  assert.deepEqual(reaching, []);
});

test("no SQL outside store/", () => {
  // warm-policy.ts still reads the events itself: it is being reworked by the warm-pool issue
  // (#16), which moves its two queries into store/events.ts.
  const pending = new Set(["backend/cost/warm-policy.ts"]);
  const sqlOutside = sources("backend").filter(
    (f) => !f.startsWith("backend/store/") && !pending.has(f) && /\.(selectFrom|updateTable|insertInto|deleteFrom)\(|\bsql`/.test(readFileSync(path.join(ROOT, f), "utf8")),
  );
  assert.deepEqual(sqlOutside, []);
});

test("only the jobs' transition owner writes a job's state", () => {
  const backend = sources("backend").filter((f) => !f.includes("/migrations/"));
  const writers = backend.filter((f) => f !== "backend/store/jobs.ts" && readFileSync(path.join(ROOT, f), "utf8").includes("writeJobStateGuarded"));
  assert.deepEqual(writers, ["backend/jobs/transitions.ts"]);
  // updateJob's patch type has no state; the store's one UPDATE that sets it is writeJobStateGuarded.
  const text = readFileSync(path.join(ROOT, "backend/store/jobs.ts"), "utf8");
  assert.equal([...text.matchAll(/state: to/g)].length, 1);
});

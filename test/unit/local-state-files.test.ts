/** The local provider's coalesced, atomic state-file writes (backend/providers/local/state-files.ts). */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { StateFiles } from "../../backend/providers/local/state-files";
import { tempDir } from "../support/builders";

test("many writes to one file collapse into few, end with the newest, and every caller's promise resolves", async () => {
  const dir = tempDir("state-files-");
  const file = path.join(dir, "a.json");
  const files = new StateFiles();
  const writes = Array.from({ length: 50 }, (_, i) => files.write(file, JSON.stringify({ n: i })));
  assert.deepEqual(JSON.parse(files.read(file)!), { n: 49 }, "a read sees the newest content before it lands");
  await Promise.all(writes);
  assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { n: 49 });
  assert.deepEqual(readdirSync(dir), ["a.json"], "no temp file is left behind");
});

test("a synchronous write during an async one stays the file's content", async () => {
  const dir = tempDir("state-files-");
  const file = path.join(dir, "b.json");
  const files = new StateFiles();
  const pending = files.write(file, '{"v":"async"}');
  files.writeSync(file, '{"v":"sync"}');
  await pending;
  await files.settle(file);
  assert.equal(readFileSync(file, "utf8"), '{"v":"sync"}');
});

test("removing a file waits for its writes, so a late rename cannot bring it back", async () => {
  const dir = tempDir("state-files-");
  const file = path.join(dir, "c.json");
  const files = new StateFiles();
  void files.write(file, "{}");
  await files.remove(file);
  await files.settleAll();
  assert.equal(existsSync(file), false);
  assert.equal(files.read(file), null);
});

test("a failed write rejects its callers and leaves no temp file", async () => {
  const dir = tempDir("state-files-");
  const file = path.join(dir, "missing-dir", "d.json");
  const files = new StateFiles();
  await assert.rejects(files.write(file, "{}"));
  assert.equal(files.read(file), null);
});

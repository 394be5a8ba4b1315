/** The local provider's state-file writes (backend/providers/local/state-files.ts). */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { IN_PLACE_LIMIT, StateFiles } from "../../backend/providers/local/state-files";
import { tempDir } from "../support/builders";

test("writeSync replaces the file whole and leaves no temp file", () => {
  const dir = tempDir("state-files-");
  const file = path.join(dir, "a.json");
  const files = new StateFiles();
  files.writeSync(file, '{"n":1}');
  files.writeSync(file, '{"n":2}');
  assert.deepEqual(JSON.parse(files.read(file)!), { n: 2 });
  assert.deepEqual(readdirSync(dir), ["a.json"]);
});

test("rewrite in place: shorter content is padded to the old length (still valid JSON), longer content extends the file", () => {
  const dir = tempDir("state-files-");
  const file = path.join(dir, "b.json");
  const files = new StateFiles();
  const long = JSON.stringify({ ownerId: "a-rather-long-user-name", pid: 1 });
  files.writeSync(file, long);
  const inode = statSync(file).ino;
  files.rewrite(file, JSON.stringify({ ownerId: "u1", pid: 1 }));
  assert.equal(statSync(file).size, long.length, "nothing truncated");
  assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { ownerId: "u1", pid: 1 });
  const longer = JSON.stringify({ ownerId: "an-even-longer-user-name-than-before", pid: 1 });
  files.rewrite(file, longer);
  assert.equal(readFileSync(file, "utf8"), longer);
  assert.equal(statSync(file).ino, inode, "the same file, written in place");
  assert.deepEqual(readdirSync(dir), ["b.json"]);
});

test("a rewrite past one page goes through a temp file and a rename", () => {
  const dir = tempDir("state-files-");
  const file = path.join(dir, "c.json");
  const files = new StateFiles();
  files.writeSync(file, "{}");
  const inode = statSync(file).ino;
  const big = JSON.stringify({ pad: "x".repeat(IN_PLACE_LIMIT) });
  files.rewrite(file, big);
  assert.equal(readFileSync(file, "utf8"), big);
  assert.notEqual(statSync(file).ino, inode);
  assert.deepEqual(readdirSync(dir), ["c.json"]);
});

test("rewriting a file that is gone fails and creates nothing; remove and read of a missing file are quiet", () => {
  const dir = tempDir("state-files-");
  const file = path.join(dir, "d.json");
  const files = new StateFiles();
  assert.throws(() => files.rewrite(file, '{"a":1}'));
  assert.equal(existsSync(file), false);
  files.remove(file);
  assert.equal(files.read(file), null);
});

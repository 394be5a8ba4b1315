/** docs/architecture.md shows the transition table: it must list exactly the pairs the code allows. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { CREATIONS, TRANSITIONS } from "../../backend/pool/transitions";

test("the documented state machine is the one in the code", () => {
  const doc = readFileSync(path.resolve(__dirname, "../../docs/architecture.md"), "utf8");
  const documented = [...doc.matchAll(/^\| (\(new row\)|`[a-z]+`) \| `([a-z]+)` \| [^|]+\|$/gm)].map((m) => `${m[1]!.replace(/`/g, "")} -> ${m[2]}`).sort();
  const inCode = [
    ...Object.keys(CREATIONS).map((to) => `(new row) -> ${to}`),
    ...Object.entries(TRANSITIONS).flatMap(([from, tos]) => Object.keys(tos).map((to) => `${from} -> ${to}`)),
  ].sort();
  assert.deepEqual(documented, inCode);
});

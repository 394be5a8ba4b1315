import assert from "node:assert/strict";
import { test } from "node:test";
import { forEachInstance } from "../../backend/pool/lifecycle/step";
import type { PoolContext } from "../../backend/pool/context";
import { silentLogger } from "../../backend/log";

const ctx = { log: silentLogger() } as unknown as PoolContext;

test("a step over many instances lets other work in between batches, and still does every one in order", async () => {
  const items = Array.from({ length: 100 }, (_, i) => ({ id: `i-${i}` }));
  const order: string[] = [];
  let otherRanAfter = -1;
  // A request arriving while the step runs (queued behind the step's synchronous work).
  setImmediate(() => (otherRanAfter = order.length));
  await forEachInstance(ctx, "test", items, async (item) => {
    order.push(item.id);
  });
  assert.deepEqual(order, items.map((i) => i.id));
  assert.ok(otherRanAfter > 0 && otherRanAfter < 100, `the other work ran after ${otherRanAfter} of 100 instances`);
});

test("one failing instance does not stop the others", async () => {
  const done: string[] = [];
  await forEachInstance(ctx, "test", [{ id: "a" }, { id: "b" }, { id: "c" }], async (item) => {
    if (item.id === "b") throw new Error("broken");
    done.push(item.id);
  });
  assert.deepEqual(done, ["a", "c"]);
});

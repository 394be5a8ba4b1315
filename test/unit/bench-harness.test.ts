/** The benchmark's own arithmetic: percentiles, the spread over rounds, and the uncached-token order. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { coldOrder } from "../../bench/pool-target";
import { percentile, spread, summarise } from "../../bench/stats";

test("percentiles and the median and spread over rounds", () => {
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
  assert.equal(percentile(xs, 50), 51);
  assert.equal(percentile(xs, 99), 100);
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3 });
  assert.deepEqual(spread([4, 1, 2, 3]), { median: 2.5, min: 1, max: 4 });
  assert.ok(Number.isNaN(spread([NaN]).median));
  assert.deepEqual(summarise([{ a: 1, b: "x" }, { a: 3, b: "y" }]), { a: { median: 2, min: 1, max: 3 } });
});

test("an uncached token is not used again before every other token has been", () => {
  const users = 50;
  const perUser = 4;
  const tokens = Array.from({ length: users }, (_, u) => Array.from({ length: perUser }, (_, k) => `t-${u}-${k}`));
  const order = coldOrder(tokens);
  assert.equal(order.length, users * perUser);
  assert.equal(new Set(order.map((o) => o.token)).size, users * perUser);
  // Cycled round robin, the gap between two uses of a token is every other token once.
  const cycled = [...order, ...order];
  const last = new Map<string, number>();
  cycled.forEach(({ token }, i) => {
    if (last.has(token)) assert.equal(i - last.get(token)!, users * perUser);
    last.set(token, i);
  });
  // Each heartbeat goes to its token's own user.
  for (const { user, token } of order) assert.ok(token.startsWith(`t-${user}-`));
});

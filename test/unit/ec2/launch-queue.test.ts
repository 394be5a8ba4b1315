import assert from "node:assert/strict";
import { test } from "node:test";
import { PoolError } from "../../../backend/errors";
import { EC2_RUN_INSTANCES_BUDGET, LaunchQueue, QUEUE_DEFAULTS, type QueueClock } from "../../../backend/providers/ec2/launch-queue";

/** A clock whose sleep moves time on at once, so a 25 s rush runs in milliseconds. */
function fakeClock(): QueueClock & { t: number } {
  const c = { t: 0, now: () => c.t, sleep: async (ms: number) => { await new Promise((r) => setImmediate(r)); c.t += ms; } };
  return c;
}

const throttle = () => Object.assign(new Error("Request limit exceeded."), { name: "RequestLimitExceeded", $metadata: { httpStatusCode: 503 } });

test("a rush of 50 launches is served in arrival order, inside EC2's burst of 5 and 2 per second", async () => {
  assert.deepEqual(EC2_RUN_INSTANCES_BUDGET, { burst: 5, refillPerSecond: 2 });
  assert.deepEqual(QUEUE_DEFAULTS, { burst: 4, refillPerSecond: 1.8 });
  const clock = fakeClock();
  const q = new LaunchQueue({ clock });
  const startedAt: Array<[number, number]> = [];
  await Promise.all(Array.from({ length: 50 }, (_, i) => q.run(async () => startedAt.push([i, clock.t]))));
  assert.deepEqual(startedAt.map(([i]) => i), Array.from({ length: 50 }, (_, i) => i));
  const times = startedAt.map(([, t]) => t);
  assert.deepEqual(times.slice(0, 5), [0, 0, 0, 0, 556]);
  // The remaining 46 come at 1.8 per second: the last after about 25.6 s.
  assert.ok(times[49]! >= 25_500 && times[49]! <= 25_700, `last at ${times[49]}`);
  // Checked against EC2's own bucket (5, refilled at 2/s): every call would have found a token.
  let tokens = 5;
  let last = 0;
  for (const t of times) {
    tokens = Math.min(5, tokens + ((t - last) / 1000) * 2);
    last = t;
    assert.ok(tokens >= 1, `no token at ${t} ms`);
    tokens -= 1;
  }
});

test("RequestLimitExceeded is retried with backoff and the bucket is emptied", async () => {
  const clock = fakeClock();
  const q = new LaunchQueue({ clock, baseBackoffMs: 500 });
  let calls = 0;
  const result = await q.run(async () => {
    calls++;
    if (calls <= 2) throw throttle();
    return "ok";
  });
  assert.equal(result, "ok");
  assert.equal(calls, 3);
  assert.equal(q.stats.throttled, 2);
  assert.ok(clock.t >= 500 + 1000, `waited ${clock.t} ms`);
});

test("other errors pass through at once; endless throttling ends as PROVIDER_THROTTLED", async () => {
  const q = new LaunchQueue({ clock: fakeClock(), maxThrottleRetries: 3 });
  await assert.rejects(q.run(async () => { throw Object.assign(new Error("no"), { name: "UnauthorizedOperation", $metadata: {} }); }), /no/);
  await assert.rejects(q.run(async () => { throw throttle(); }), (e: unknown) => e instanceof PoolError && e.code === "PROVIDER_THROTTLED");
  assert.equal(q.stats.throttled, 4);
});

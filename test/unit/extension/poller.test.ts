import assert from "node:assert/strict";
import { test } from "node:test";
import { Poller } from "../../../extension/core/poller";
import { FakeClock, flush } from "./fakes";

function gatedTask() {
  let inFlight = 0;
  let maxInFlight = 0;
  let runs = 0;
  const gates: (() => void)[] = [];
  return {
    get runs() {
      return runs;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    release() {
      gates.shift()?.();
    },
    task: () =>
      new Promise<void>((resolve) => {
        runs++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        gates.push(() => {
          inFlight--;
          resolve();
        });
      }),
  };
}

test("polls only while visible", async () => {
  const clock = new FakeClock();
  let runs = 0;
  const p = new Poller(async () => void runs++, () => 10_000, clock);
  await clock.advance(60_000);
  assert.equal(runs, 0, "hidden: nothing");
  p.setVisible(true);
  await flush();
  assert.equal(runs, 1, "one refresh when it shows");
  await clock.advance(30_000);
  assert.equal(runs, 4);
  p.setVisible(false);
  await clock.advance(60_000);
  assert.equal(runs, 4, "hidden again: nothing");
  assert.equal(clock.pending, 0);
  p.dispose();
});

test("never two requests in flight; a refresh asked meanwhile runs once afterwards", async () => {
  const clock = new FakeClock();
  const g = gatedTask();
  const p = new Poller(g.task, () => 1000, clock);
  p.setVisible(true);
  await flush();
  void p.refresh();
  void p.refresh();
  await clock.advance(5000); // the timer must not start a second request either
  assert.equal(g.runs, 1);
  g.release();
  await flush();
  assert.equal(g.runs, 2, "the coalesced refresh runs after the first");
  g.release();
  await flush();
  assert.equal(g.maxInFlight, 1);
  p.dispose();
  await clock.advance(10_000);
  assert.equal(g.runs, 2, "disposed: no more polls");
});

test("a failing task does not stop polling", async () => {
  const clock = new FakeClock();
  let runs = 0;
  const p = new Poller(async () => {
    runs++;
    throw new Error("backend down");
  }, () => 1000, clock);
  p.setVisible(true);
  await clock.advance(3000);
  assert.equal(runs, 4);
  p.dispose();
});

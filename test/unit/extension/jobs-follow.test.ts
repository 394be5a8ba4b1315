import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobLogChunk, JobView } from "../../../contract/jobs";
import { ExtensionError } from "../../../extension/core/errors";
import { JobStore } from "../../../extension/core/jobs/job-store";
import { LogFollower } from "../../../extension/core/jobs/log-follower";
import { FakeClock, RecordingLog } from "./fakes";
import { aChunk, aJob, ended } from "./job-fakes";

/** A log endpoint the test feeds answer by answer; it records each offset asked for and how many reads overlap. */
function scriptedLog(answers: (JobLogChunk | Error)[]) {
  const asked: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    asked,
    get maxInFlight() {
      return maxInFlight;
    },
    read: async (offset: number) => {
      asked.push(offset);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await Promise.resolve();
      inFlight--;
      const a = answers.shift();
      if (!a) throw new Error("no more answers scripted");
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

describe("LogFollower", () => {
  it("appends each chunk once, asks from the last nextOffset (opaque ones too), and stops when complete", async () => {
    const clock = new FakeClock();
    const log = scriptedLog([aChunk(0, "a\n", false, 777), aChunk(777, ""), aChunk(777, "b\n", false, 900), aChunk(900, "c\n", true)]);
    let text = "";
    let completed = 0;
    const f = new LogFollower({ read: log.read, onText: (t) => (text += t), onComplete: () => completed++, clock });
    f.start();
    await clock.advance(60_000);
    assert.equal(text, "a\nb\nc\n");
    assert.deepEqual(log.asked, [0, 777, 777, 900]);
    assert.equal(completed, 1);
    assert.equal(f.state, "complete");
    assert.equal(log.maxInFlight, 1, "never two reads at once");
    assert.equal(clock.pending, 0, "no timer left");
  });

  it("waits longer while nothing comes, and quickly again once text flows", async () => {
    const clock = new FakeClock();
    const log = scriptedLog([aChunk(0, ""), aChunk(0, ""), aChunk(0, ""), aChunk(0, ""), aChunk(0, "x"), aChunk(1, "", true)]);
    const f = new LogFollower({ read: log.read, onText: () => undefined, onComplete: () => undefined, clock, idleStepsMs: [100, 1000, 5000] });
    f.start();
    await clock.advance(1); // first read now
    assert.equal(log.asked.length, 1);
    await clock.advance(999); // waits 1000 after the 1st empty
    assert.equal(log.asked.length, 2);
    await clock.advance(4999);
    assert.equal(log.asked.length, 2, "then 5000 after the 2nd");
    await clock.advance(1);
    assert.equal(log.asked.length, 3);
    await clock.advance(10_000);
    await clock.advance(200); // after "x": back to the first step
    assert.equal(log.asked.length, 6);
    f.dispose();
  });

  it("retries failures with backoff, reporting once per streak, and stops for good on a final error", async () => {
    const clock = new FakeClock();
    const down = new ExtensionError("BACKEND_UNREACHABLE", "the backend at http://x does not answer");
    const log = scriptedLog([aChunk(0, "a"), down, down, aChunk(1, "b"), new ExtensionError("JOB_NOT_FOUND", "No job job-0001 of yours.", { status: 404 })]);
    const errors: [string, boolean][] = [];
    let text = "";
    const f = new LogFollower({ read: log.read, onText: (t) => (text += t), onComplete: () => assert.fail("not complete"), onError: (e, final) => errors.push([e.code, final]), clock, retryStepsMs: [1000, 3000] });
    f.start();
    await clock.advance(60_000);
    assert.equal(text, "ab");
    assert.deepEqual(log.asked, [0, 1, 1, 1, 2]);
    assert.deepEqual(errors, [["BACKEND_UNREACHABLE", false], ["JOB_NOT_FOUND", true]]);
    assert.equal(f.state, "stopped");
    assert.equal(clock.pending, 0);
  });

  it("stops for good, with the backend's reason and what to do, when the log was removed after its retention", async () => {
    const clock = new FakeClock();
    const log = scriptedLog([new ExtensionError("JOB_LOG_EXPIRED", 'The log of job "job-0001" was removed (purpose "rstudio" keeps job logs 30 days after a job ends).', { status: 410 })]);
    const errors: [string, boolean, string][] = [];
    const f = new LogFollower({ read: log.read, onText: () => assert.fail("no text"), onComplete: () => assert.fail("not complete"), onError: (e, final) => errors.push([e.code, final, e.message]), clock });
    f.start();
    await clock.advance(60_000);
    assert.deepEqual(log.asked, [0], "no retry: the log will not come back");
    assert.equal(errors.length, 1);
    assert.deepEqual(errors[0]!.slice(0, 2), ["JOB_LOG_EXPIRED", true]);
    assert.match(errors[0]![2], /30 days after a job ends.*Jobs list still shows how it ended/);
    assert.equal(f.state, "stopped");
  });

  it("dispose stops it at once: no more reads, no timer, no text after", async () => {
    const clock = new FakeClock();
    const log = scriptedLog(Array.from({ length: 50 }, () => aChunk(0, "")));
    let text = "";
    const f = new LogFollower({ read: log.read, onText: (t) => (text += t), onComplete: () => undefined, clock });
    f.start();
    await clock.advance(5000);
    const reads = log.asked.length;
    f.dispose();
    await clock.advance(60_000);
    assert.equal(log.asked.length, reads);
    assert.equal(clock.pending, 0);
    assert.equal(text, "");
    assert.ok(f.done);
  });
});

describe("JobStore", () => {
  it("keeps the list, knows when a job is active, and upserts without a round trip", async () => {
    let list: JobView[] = [ended({ jobId: "a" })];
    const store = new JobStore({ jobs: async () => list }, new RecordingLog());
    let changes = 0;
    store.onDidChange(() => changes++);
    await store.refresh();
    assert.equal(store.hasActive, false);
    store.upsert(aJob({ jobId: "b", state: "queued" }));
    assert.equal(store.hasActive, true);
    assert.deepEqual(store.jobs.map((j) => j.jobId), ["b", "a"]);
    list = [ended({ jobId: "a" }), ended({ jobId: "b" })];
    await store.refresh();
    assert.equal(store.hasActive, false);
    assert.equal(changes, 3);
  });

  it("a failed refresh keeps the list and says why once; signed out empties it quietly", async () => {
    const log = new RecordingLog();
    let fail: Error | null = null;
    const store = new JobStore({ jobs: async () => { if (fail) throw fail; return [aJob()]; } }, log);
    await store.refresh();
    fail = new ExtensionError("BACKEND_UNREACHABLE", "the backend at http://x does not answer");
    await store.refresh();
    await store.refresh();
    assert.equal(store.jobs.length, 1);
    assert.match(store.error!.message, /^Failed to list your jobs: the backend at http:\/\/x does not answer\./);
    assert.equal(log.lines.length, 1);
    fail = new ExtensionError("NOT_SIGNED_IN", "you are not signed in");
    await store.refresh();
    assert.equal(store.jobs.length, 0);
    assert.equal(log.lines.length, 1);
  });
});

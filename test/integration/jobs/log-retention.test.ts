/**
 * The sweep of old local job logs (backend/jobs/log-sweep.ts) on SQLite and PostgreSQL, with a
 * clock the test moves (the jobs run `sh -c echo` / `sleep` through the real local runner, no R):
 * a log past its purpose's retention is removed and its log route answers 410 JOB_LOG_EXPIRED
 * (already before the sweep, so the answer does not depend on when the hourly sweep ran), a
 * recent one and a running job's are kept, a directory with no job row goes by its files' age,
 * anything that is not a job directory stays, and a backend restarted after a sweep that
 * stopped half-way finishes it at startup without touching the rest.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { jobsPurposeSchema } from "../../../backend/config/jobs";
import { DAY_MS } from "../../../backend/jobs/log-retention";
import { sweepJobLogs } from "../../../backend/jobs/log-sweep";
import { getJob } from "../../../backend/store/jobs";
import { aPurpose, ManualClock } from "../../support/builders";
import { addUsers, closeJobsTest, startJobsBackend, type JobsBackend } from "../../support/jobs";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../../support/stores";

const purposes = [
  aPurpose({ name: "short", max: 2, idleTimeoutSeconds: 600, jobs: jobsPurposeSchema.parse({ logRetentionDays: 1 }) }),
  aPurpose({ name: "long", max: 2, idleTimeoutSeconds: 600, jobs: jobsPurposeSchema.parse({ logRetentionDays: 30 }) }),
];

for (const kind of STORE_KINDS) {
  describe(`local job log retention (${kind})`, { skip: skipFor(kind) }, () => {
    let ts: TestStore | null = null;
    let b: JobsBackend | null = null;

    afterEach(async () => {
      await closeJobsTest(b, ts);
      b = null;
      ts = null;
    });

    it("sweeps ended-old logs, keeps recent and running ones, and a restart mid-sweep finishes it", async () => {
      ts = await createTestStore(kind);
      const dataDir = ts.dataDir;
      await addUsers(ts.store, ["ann"]);
      const clock = new ManualClock(Date.now());
      const start = () => startJobsBackend({ store: ts!.store, dataDir, provider: "instant", purposes, start: false, clock });
      b = await start();
      const round = async () => {
        await b!.pool.jobs.round();
        await b!.pool.loop.tick();
        await b!.pool.loop.launcher.settle();
        await b!.pool.jobs.round();
      };
      const submit = async (purpose: string, command: string[]) => {
        const r = await b!.api("POST", "/v1/jobs", "ann", { purpose, command });
        assert.equal(r.status, 201, r.text);
        return r.body.jobId as string;
      };
      const old1 = await submit("short", ["sh", "-c", "echo old-1"]);
      const old2 = await submit("short", ["sh", "-c", "echo old-2"]);
      const recent = await submit("long", ["sh", "-c", "echo recent"]);
      const running = await submit("long", ["sleep", "120"]);
      const stateOf = async (id: string) => (await getJob(ts!.store.db, id))!.state;
      for (let i = 0; i < 100; i++) {
        await round();
        const states = await Promise.all([old1, old2, recent, running].map(stateOf));
        if (states.join() === "succeeded,succeeded,succeeded,running") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const id of [old1, old2, recent]) assert.equal(await stateOf(id), "succeeded", id);
      assert.equal(await stateOf(running), "running");
      const runner = b.pool.jobsCtx.runners.logStore!()!;
      const dirOf = (id: string) => path.join(dataDir, "local-jobs", id);
      assert.equal((await b.api("GET", `/v1/jobs/${old1}/log`, "ann")).body.text, "old-1\n");
      clock.advance(59 * 60_000);
      assert.equal(await b.pool.jobs.sweeper.maybeSweep(), null, "the startup sweep ran less than an hour ago (on the pool's clock)");

      // Not ours, and unknown job directories (a restored older database): one old, one written recently.
      const orphanOld = "job-00000000000000aa";
      const orphanNew = "job-00000000000000bb";
      for (const name of [orphanOld, orphanNew, "notes"]) {
        mkdirSync(dirOf(name), { recursive: true });
        writeFileSync(path.join(dirOf(name), "output.log"), "x".repeat(100));
      }

      // Two days on: the "short" logs (1 day) are past their retention, the "long" ones (30 days) are not.
      clock.advance(2 * DAY_MS);
      const past = new Date(clock.now() - 31 * DAY_MS);
      utimesSync(path.join(dirOf(orphanOld), "output.log"), past, past);
      utimesSync(dirOf(orphanOld), past, past);
      const before = await b.api("GET", `/v1/jobs/${old1}/log`, "ann");
      assert.equal(before.status, 410, "expired by the rule before any sweep ran");
      assert.equal(before.body.error.code, "JOB_LOG_EXPIRED");

      // A sweep that stopped half-way: old2's log file is gone, its directory is not; old1 untouched.
      rmSync(path.join(dirOf(old2), "output.log"));
      await b.close();
      b = await start();
      await b.pool.jobs.round(); // its first round sweeps (the running job may be ended by its max runtime meanwhile: then it ended just now)
      for (const id of [old1, old2, orphanOld]) assert.equal(existsSync(dirOf(id)), false, `${id} removed`);
      for (const id of [recent, running, orphanNew, "notes"]) assert.equal(existsSync(dirOf(id)), true, `${id} kept`);

      for (const id of [old1, old2]) {
        const log = await b.api("GET", `/v1/jobs/${id}/log`, "ann");
        assert.equal(log.status, 410, log.text);
        assert.equal(log.body.error.code, "JOB_LOG_EXPIRED");
        assert.match(log.body.error.message, /keeps job logs 1 day after a job ends/);
        const followed = await b.api("GET", `/v1/jobs/${id}/log?follow=1`, "ann");
        assert.equal(followed.status, 410, "the streamed form answers the same error before it starts");
        const view = await b.api("GET", `/v1/jobs/${id}`, "ann");
        assert.equal(view.status, 200, "the job itself stays");
        assert.equal(view.body.state, "succeeded");
        assert.equal(view.body.exitCode, 0);
      }
      assert.equal((await b.api("GET", `/v1/jobs/${recent}/log`, "ann")).body.text, "recent\n");

      // Idempotent: a second sweep finds nothing more to remove.
      const again = await sweepJobLogs(b.pool.jobsCtx);
      assert.deepEqual({ removed: again!.removed }, { removed: 0 });
      assert.ok(again!.kept >= 4);
      // A directory removed by hand before its retention also answers "gone", not an empty log.
      await runner.removeLogDir(recent);
      const gone = await b.api("GET", `/v1/jobs/${recent}/log`, "ann");
      assert.equal(gone.status, 410, gone.text);

      // A full sweep's figures: an hour on, the recent job's retention passed too (31 days).
      clock.advance(30 * DAY_MS);
      mkdirSync(dirOf(recent), { recursive: true });
      writeFileSync(path.join(dirOf(recent), "output.log"), "y".repeat(1000));
      const swept = await b.pool.jobs.sweeper.maybeSweep();
      assert.ok(swept && swept.removed >= 2 && swept.bytes >= 1000 + 100, JSON.stringify(swept));
    });
  });
}

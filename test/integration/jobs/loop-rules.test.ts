/**
 * The jobs loop's rules on a clock the test moves (no R needed: the jobs run `sleep` through the
 * local runner): a job's instance is never reaped while the job runs; a keep-alive hold ends at
 * its cap; a runner that needs no instance (the ECS seam) runs jobs with its own cost, which the
 * ledger and the cost report carry once the job ended.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, afterEach, describe, it } from "node:test";
import { fixedJobRunners } from "../../../backend/jobs/runners";
import type { JobRunner, JobSpec, RunStatus } from "../../../backend/jobs/runner";
import { Ledger } from "../../../backend/cost/ledger";
import { getInstance } from "../../../backend/store/instances";
import { aPurpose, ManualClock } from "../../support/builders";
import { addUsers, closeJobsTest, startJobsBackend, type JobsBackend } from "../../support/jobs";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../../support/stores";
import { jobsPurposeSchema } from "../../../backend/config/jobs";

const MIN = 60_000;

/** A stand-in for a runner that starts jobs elsewhere (like ECS): in memory, priced per second. */
class FakeRemoteRunner implements JobRunner {
  readonly kind = "ecs" as const;
  readonly needsInstance = false;
  readonly status_ = new Map<string, RunStatus>();
  async start(job: JobSpec) {
    this.status_.set(job.jobId, { status: "running" });
    return `task/${job.jobId}`;
  }
  async status(job: JobSpec) {
    return this.status_.get(job.jobId)!;
  }
  async readLog() {
    return { text: "remote log\n", nextOffset: 11, complete: true };
  }
  async cancel(job: JobSpec) {
    this.status_.set(job.jobId, { status: "lost", reason: "stopped" });
  }
  costSoFar(_job: JobSpec, _ref: string, startedAt: number, endedAt: number | null, now: number) {
    return (((endedAt ?? now) - startedAt) / 1000) * 0.001;
  }
}

for (const kind of STORE_KINDS) {
  describe(`jobs loop rules on a manual clock (${kind})`, { skip: skipFor(kind) }, () => {
    let ts: TestStore;
    let b: JobsBackend | null = null;
    const clock = new ManualClock(Date.now());
    const round = async () => {
      await b!.pool.jobs.round();
      await b!.pool.loop.tick();
      await b!.pool.loop.launcher.settle();
      await b!.pool.jobs.round();
    };

    afterEach(async () => {
      await closeJobsTest(b, ts);
      b = null;
    });
    after(() => undefined);

    it("never reaps a job's instance while the job runs, and releases it when the job is cancelled", async () => {
      ts = await createTestStore(kind);
      await addUsers(ts.store, ["ann"]);
      b = await startJobsBackend({ store: ts.store, dataDir: ts.dataDir, provider: "instant", purposes: [aPurpose({ max: 2, idleTimeoutSeconds: 600 })], start: false, clock });
      const res = await b.api("POST", "/v1/jobs", "ann", { command: ["sleep", "60"] });
      assert.equal(res.status, 201, res.text);
      for (let i = 0; i < 3; i++) await round();
      const job = (await b.api("GET", `/v1/jobs/${res.body.jobId}`, "ann")).body;
      assert.equal(job.state, "running", JSON.stringify(job));
      // Two hours pass, ten minutes at a time: each round keeps the deadline ahead, the reaper never takes it.
      for (let i = 0; i < 12; i++) {
        clock.advance(10 * MIN);
        await round();
        const inst = (await getInstance(ts.store.db, job.instanceId))!;
        assert.equal(inst.state, "running");
        assert.equal(inst.ownerId, "ann");
        assert.ok(inst.idleDeadline! > clock.now(), "the idle deadline stays ahead");
      }
      assert.equal((await b.api("GET", `/v1/jobs/${job.jobId}`, "ann")).body.state, "running");
      const cancelled = await b.api("DELETE", `/v1/jobs/${job.jobId}`, "ann");
      assert.equal(cancelled.body.state, "cancelled");
      assert.equal((await getInstance(ts.store.db, job.instanceId))!.state, "releasing");
      assert.ok(cancelled.body.cost > 0, "two hours of the instance are billed to the job");
    });

    it("ends a keep-alive hold at its cap, even while the process still runs", async () => {
      ts = await createTestStore(kind);
      await addUsers(ts.store, ["ann"]);
      b = await startJobsBackend({ store: ts.store, dataDir: ts.dataDir, provider: "instant", purposes: [aPurpose({ max: 2, idleTimeoutSeconds: 600 })], start: false, clock });
      const claim = await b.api("POST", "/v1/claims", "ann", {});
      await round();
      const id = claim.body.instance.instanceId as string;
      const sleeper = spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
      try {
        const set = await b.api("POST", `/v1/instances/${id}/keep-alive`, "ann", { pid: sleeper.pid, maxHours: 1 });
        assert.equal(set.status, 200, set.text);
        clock.advance(50 * MIN);
        await round();
        assert.equal((await b.api("GET", `/v1/instances/${id}/keep-alive`, "ann")).body.endedReason, null);
        assert.equal((await getInstance(ts.store.db, id))!.ownerId, "ann", "held past its idle timeout");
        clock.advance(11 * MIN);
        await round();
        const ended = (await b.api("GET", `/v1/instances/${id}/keep-alive`, "ann")).body;
        assert.equal(ended.endedReason, "cap");
        assert.ok(ended.costSoFar > 0);
        const events = await ts.store.db.selectFrom("events").select(["kind", "reason"]).where("instance_id", "=", id).where("kind", "like", "keep-alive%").execute();
        assert.deepEqual(events.map((e) => [e.kind, e.reason]), [["keep-alive-set", `pid ${sleeper.pid}`], ["keep-alive-ended", "cap"]]);
      } finally {
        sleeper.kill("SIGKILL");
      }
    });

    it("runs jobs on a runner without instances (the ECS seam) with the runner's cost, in the ledger and the report", async () => {
      ts = await createTestStore(kind);
      await addUsers(ts.store, ["ann"]);
      const remote = new FakeRemoteRunner();
      const purposes = [aPurpose({ name: "batch", max: 1, jobs: jobsPurposeSchema.parse({ runner: "ecs", ecs: { cluster: "c", taskDefinition: "t", container: "r" }, maxRunningPerUser: 5 }) })];
      b = await startJobsBackend({ store: ts.store, dataDir: ts.dataDir, provider: "instant", purposes, start: false, clock, runners: fixedJobRunners(remote) });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await b.api("POST", "/v1/jobs", "ann", { purpose: "batch", script: "1" })).body.jobId);
      await round();
      for (const id of ids) {
        const j: { state: string; runner: string; instanceId: string | null } = (await b.api("GET", `/v1/jobs/${id}`, "ann")).body;
        assert.equal(j.state, "running", "not bound by the purpose's instance max");
        assert.equal(j.runner, "ecs");
        assert.equal(j.instanceId, null);
      }
      clock.advance(100_000);
      remote.status_.set(ids[0]!, { status: "exited", exitCode: 0 });
      await round();
      const done = (await b.api("GET", `/v1/jobs/${ids[0]}`, "ann")).body;
      assert.equal(done.state, "succeeded");
      assert.ok(Math.abs(done.cost - 0.1) < 1e-6, `100 s at 0.001/s: ${done.cost}`);
      assert.equal((await b.api("GET", `/v1/jobs/${ids[0]}/log`, "ann")).body.text, "remote log\n");
      const lines = await new Ledger(ts.store.db, b.config).lines({ from: clock.now() - 3600_000, to: clock.now() + 1 }, clock.now(), { ownerId: "ann" });
      assert.deepEqual(lines.filter((l) => l.kind === "job").map((l) => [l.account, l.purpose, Math.round(l.cost * 1e6) / 1e6]), [["ann", "batch", 0.1]]);
      const report = await b.pool.costReport({ month: new Date(clock.now()).toISOString().slice(0, 7), by: "user" });
      assert.deepEqual(report.jobs, [{ user: "ann", jobs: 3, cost: 0.1 }]);
      const cancelled = await b.api("DELETE", `/v1/jobs/${ids[1]}`, "ann");
      assert.equal(cancelled.body.state, "cancelled");
      assert.equal(remote.status_.get(ids[1]!)!.status, "lost", "the runner was asked to stop it");
    });
  });
}

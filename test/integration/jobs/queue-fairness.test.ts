/**
 * The jobs queue under load, with real R (issue #18): 20 jobs of 5 users on a pool of at most
 * 4 instances. Jobs wait in `queued` with their place; at most 4 run at once; no instance ever
 * runs two jobs (nor an instance its user works in); each start goes to a user with the fewest
 * jobs running among those waiting. Also: a job past its maximum runtime is cancelled.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { updateJob } from "../../../backend/store/jobs";
import { aPurpose } from "../../support/builders";
import { addUsers, jobEnded, closeJobsTest, rSkip, startJobsBackend, until, type JobsBackend } from "../../support/jobs";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../../support/stores";

const USERS = ["u1", "u2", "u3", "u4", "u5"];

for (const kind of STORE_KINDS) {
  describe(`jobs queue and fairness (${kind})`, { skip: skipFor(kind) || rSkip() }, () => {
    let ts: TestStore;
    let b: JobsBackend;

    before(async () => {
      ts = await createTestStore(kind);
      await addUsers(ts.store, [...USERS, "carol"]);
      b = await startJobsBackend({ store: ts.store, dataDir: ts.dataDir, provider: "instant", purposes: [aPurpose({ max: 4, hourlyPrice: 0.6 })], start: false });
    });
    after(() => closeJobsTest(b, ts));

    it("runs 20 jobs of 5 users on 4 instances: queued with places, at most 4 at once, one job per instance, fair starts", async () => {
      // u1 also works interactively: no job may land on that instance.
      const claim = await b.api("POST", "/v1/claims", "u1", {});
      assert.equal(claim.status, 201);
      const interactive = claim.body.instance.instanceId as string;
      const submissions = USERS.flatMap((u) => Array.from({ length: 4 }, (_, i) => ({ u, i })));
      const results = await Promise.all(submissions.map(({ u, i }) => b.api("POST", "/v1/jobs", u, { script: `Sys.sleep(1.5); cat("${u}-${i}\\n")` })));
      for (const r of results) assert.equal(r.status, 201, r.text);
      const ids = results.map((r) => r.body.jobId as string);
      // Every job is queued, with its place, before the loops start (so the history shows what the scheduler saw).
      const waiting = (await b.api("GET", "/v1/jobs", "u3")).body.jobs;
      assert.equal(waiting.length, 4);
      for (const j of waiting) assert.ok(j.state === "queued" && Number.isInteger(j.queuePosition) && j.queuePosition >= 1 && j.queuePosition <= 20, JSON.stringify(j));
      const places = (await Promise.all(USERS.map(async (u) => (await b.api("GET", "/v1/jobs", u)).body.jobs.map((j: any) => j.queuePosition)))).flat().sort((x: number, y: number) => x - y);
      assert.deepEqual(places, Array.from({ length: 20 }, (_, i) => i + 1), "places 1..20, each once");
      b.pool.start();

      let maxActive = 0;
      const sampler = (async () => {
        for (;;) {
          const jobs = await ts.store.db.selectFrom("jobs").select(["id", "state", "instance_id", "owner_id"]).execute();
          const active = jobs.filter((j) => j.state === "starting" || j.state === "running");
          maxActive = Math.max(maxActive, active.length);
          const instances = active.map((j) => j.instance_id);
          assert.equal(new Set(instances).size, instances.length, "two active jobs share an instance");
          assert.ok(!instances.includes(interactive), "a job landed on an interactive instance");
          for (const u of USERS) assert.ok(active.filter((j) => j.owner_id === u).length <= 2, `${u} runs more than maxRunningPerUser`);
          if (jobs.every((j) => ["succeeded", "failed", "cancelled"].includes(j.state))) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      for (const r of results) {
        const done = await jobEnded(b, r.body.ownerId, r.body.jobId, 180_000);
        assert.equal(done.state, "succeeded", JSON.stringify(done));
      }
      await sampler;
      assert.ok(maxActive <= 4, `at most 4 at once, saw ${maxActive}`);
      assert.ok(maxActive >= 2, `the pool was used in parallel, saw ${maxActive}`);

      const rows = await ts.store.db.selectFrom("jobs").select(["id", "instance_id"]).where("id", "in", ids).execute();
      assert.equal(new Set(rows.map((r) => r.instance_id)).size, 20, "every job had an instance of its own");

      // Replay the history: each start went to a user with the fewest running among those waiting.
      const events = await ts.store.db.selectFrom("events").select(["id", "kind", "user_id", "details"]).where("kind", "like", "job-%").orderBy("id").execute();
      const running = new Map<string, number>();
      const queuedBy = new Map<string, number>();
      let starts = 0;
      for (const e of events) {
        const u = e.user_id!;
        if (e.kind === "job-queued") queuedBy.set(u, (queuedBy.get(u) ?? 0) + 1);
        if (e.kind === "job-starting") {
          const fewest = Math.min(...[...queuedBy].filter(([, n]) => n > 0).map(([w]) => running.get(w) ?? 0));
          assert.ok((running.get(u) ?? 0) <= fewest, `start #${starts + 1} went to ${u} with ${running.get(u) ?? 0} running while a waiting user had ${fewest}`);
          queuedBy.set(u, queuedBy.get(u)! - 1);
          running.set(u, (running.get(u) ?? 0) + 1);
          starts++;
        }
        if (["job-succeeded", "job-failed", "job-cancelled"].includes(e.kind)) running.set(u, (running.get(u) ?? 0) - 1);
      }
      assert.equal(starts, 20);
      await b.api("DELETE", `/v1/instances/${interactive}`, "u1");
    });

    it("cancels a job that passes its purpose's maximum runtime", async () => {
      const res = await b.api("POST", "/v1/jobs", "carol", { script: "Sys.sleep(120)" });
      await until("running", async () => (await b.api("GET", `/v1/jobs/${res.body.jobId}`, "carol")).body.state === "running");
      // The deadline (6 h by default) is brought to now, as if the time had passed.
      await updateJob(ts.store.db, res.body.jobId, { deadlineAt: Date.now() - 1 });
      const done = await jobEnded(b, "carol", res.body.jobId);
      assert.equal(done.state, "cancelled");
      assert.equal(done.stateReason, "max runtime 21600 s");
    });
  });
}

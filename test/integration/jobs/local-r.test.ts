/**
 * Batch jobs with real R on the local provider (issue #18), on SQLite and PostgreSQL: a job
 * that writes its result into the instance's home, one that fails, one cancelled mid-run, one
 * that outlives a backend restart, bad input that changes nothing, and the keep-alive hold.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { PoolError } from "../../../backend/errors";
import { staticPolicies } from "../../../backend/pool/context";
import { getInstance, updateInstance } from "../../../backend/store/instances";
import { aPurpose } from "../../support/builders";
import { addUsers, jobEnded, killJobProcesses, rSkip, startJobsBackend, until, type JobsBackend } from "../../support/jobs";
import { killLocalInstances } from "../../support/local";
import { createTestStore, skipFor, STORE_KINDS, type TestStore } from "../../support/stores";
import { jobsPurposeSchema } from "../../../backend/config/jobs";
import { groupHasLiveMembers } from "../../../backend/jobs/runners/local";

const policies = {
  ...staticPolicies,
  async checkClaimAllowed(userId: string) {
    if (userId === "broke") throw new PoolError("BUDGET_EXCEEDED", "broke has spent this month's budget of 10 USD");
  },
};

const purposes = [
  aPurpose({ name: "rstudio", max: 3, hourlyPrice: 1.2, idleTimeoutSeconds: 600 }),
  aPurpose({ name: "small", max: 1, hourlyPrice: 0.5, jobs: jobsPurposeSchema.parse({ maxScriptBytes: 2048, maxActivePerUser: 1 }) }),
];

/** Alive and not a zombie (a killed child of this test process waits to be reaped for a moment). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !["Z", "X"].includes(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]!);
  } catch {
    return false;
  }
}

function pidOf(dataDir: string, jobId: string): number {
  return (JSON.parse(readFileSync(path.join(dataDir, "local-jobs", jobId, "process.json"), "utf8")) as { pid: number }).pid;
}

for (const kind of STORE_KINDS) {
  describe(`jobs with real R on the local provider (${kind})`, { skip: skipFor(kind) || rSkip() }, () => {
    let ts: TestStore;
    let b: JobsBackend;
    const secret = "backend-secret-must-not-leak";

    before(async () => {
      process.env.ARENA_POOL_SERVICE_KEY = secret;
      ts = await createTestStore(kind);
      await addUsers(ts.store, ["alice", "bob", "broke"]);
      b = await startJobsBackend({ store: ts.store, dataDir: ts.dataDir, purposes, policies });
    });
    after(async () => {
      delete process.env.ARENA_POOL_SERVICE_KEY;
      await b?.close();
      if (ts) {
        killJobProcesses(ts.dataDir);
        killLocalInstances(ts.dataDir);
        await ts.cleanup();
      }
    });

    it("runs a script in the instance's home: its result file is there, it exits 0, the instance is released", async () => {
      const script = [
        'input <- read.csv("data/input.csv")',
        'cfg <- Sys.getenv("MODEL_CONFIG")',
        'writeLines(c(cfg, sum(input$x), Sys.getenv("ARENA_POOL_SERVICE_KEY"), getwd()), "result.txt")',
        'cat("model fitted\\n")',
      ].join("\n");
      const res = await b.api("POST", "/v1/jobs", "alice", {
        script,
        scriptName: "model.R",
        env: { MODEL_CONFIG: '{"alpha":0.5}' },
        files: [{ path: "data/input.csv", contentBase64: Buffer.from("x\n1\n2\n39\n").toString("base64") }],
      });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.state, "queued");
      assert.equal(res.body.scriptName, "model.R");
      const done = await jobEnded(b, "alice", res.body.jobId);
      assert.equal(done.state, "succeeded", JSON.stringify(done));
      assert.equal(done.exitCode, 0);
      assert.ok(done.startedAt && done.endedAt);
      assert.ok(done.instanceId);
      const home = b.homeOf(done.instanceId);
      const lines = readFileSync(path.join(home, "result.txt"), "utf8").trim().split("\n");
      assert.equal(lines[0], '{"alpha":0.5}');
      assert.equal(lines[1], "42");
      assert.equal(lines[2], "", "the backend's environment never reaches the job");
      assert.equal(path.resolve(lines[3]!), path.resolve(home), "the working directory is the instance's home");
      const log = await b.api("GET", `/v1/jobs/${done.jobId}/log?offset=0`, "alice");
      assert.equal(log.status, 200);
      assert.match(log.body.text, /model fitted/);
      assert.equal(log.body.complete, true);
      assert.equal(log.body.nextOffset, Buffer.byteLength(log.body.text));
      const tail = await b.api("GET", `/v1/jobs/${done.jobId}/log?offset=${log.body.nextOffset}`, "alice");
      assert.equal(tail.body.text, "");
      // Released through the pool's release path, and billed to alice.
      const inst = await until("instance released", async () => {
        const i = await getInstance(ts.store.db, done.instanceId);
        return i && (i.state === "releasing" || i.state === "terminated") ? i : null;
      });
      assert.equal(inst.stateReason, "job-ended");
      const final = await until("cost stored", async () => {
        const j = (await b.api("GET", `/v1/jobs/${done.jobId}`, "alice")).body;
        return j.cost > 0 ? j : null;
      });
      assert.ok(final.cost >= 0.019, `at least the 60 s minimum at 1.2/h: ${final.cost}`);
      // The admin report shows the job's cost on alice, inside her row.
      const report = await b.pool.costReport({ month: new Date().toISOString().slice(0, 7), by: "user" });
      const aliceJobs = report.jobs?.find((j) => j.user === "alice");
      assert.ok(aliceJobs && aliceJobs.jobs >= 1 && aliceJobs.cost >= final.cost - 1e-6, JSON.stringify(report.jobs));
      assert.ok(report.rows.find((r) => r.key === "alice")!.total >= aliceJobs.cost - 1e-6);
      const kinds = (await ts.store.db.selectFrom("events").select(["kind", "details"]).where("kind", "like", "job-%").execute())
        .filter((e) => JSON.parse(e.details ?? "{}").jobId === done.jobId)
        .map((e) => e.kind);
      assert.deepEqual(kinds, ["job-queued", "job-starting", "job-running", "job-succeeded"]);
      const listed = (await b.api("GET", "/v1/instances", "alice")).body.instances.find((i: any) => i.instanceId === done.instanceId);
      assert.equal(listed.jobId, done.jobId, "her instance list marks the job's instance");
      // Alice's interactive claim never gets the job's instance.
      const claim = await b.api("POST", "/v1/claims", "alice", {});
      assert.notEqual(claim.body.instance.instanceId, done.instanceId);
      await b.api("DELETE", `/v1/instances/${claim.body.instance.instanceId}`, "alice");
    });

    it("a script that exits 3 fails with exit code 3, and its log streams with follow until it ends", async () => {
      const res = await b.api("POST", "/v1/jobs", "alice", { script: 'cat("step 1\\n"); Sys.sleep(1); cat("step 2\\n"); quit(status = 3)' });
      assert.equal(res.status, 201, res.text);
      const streamed = await fetch(`${b.url}/v1/jobs/${res.body.jobId}/log?follow=1`, { headers: b.as("alice") });
      assert.equal(streamed.status, 200);
      assert.match(streamed.headers.get("content-type") ?? "", /text\/plain/);
      const text = await streamed.text();
      assert.match(text, /step 1\nstep 2\n/);
      const done = await jobEnded(b, "alice", res.body.jobId);
      assert.equal(done.state, "failed");
      assert.equal(done.exitCode, 3);
      assert.equal(done.stateReason, "exit 3");
    });

    it("cancels a running job: its process group is gone and its instance released", async () => {
      const res = await b.api("POST", "/v1/jobs", "alice", { script: 'cat("started\\n"); Sys.sleep(120); cat("never\\n")' });
      const id = res.body.jobId as string;
      await until("running with output", async () => (await b.api("GET", `/v1/jobs/${id}/log`, "alice")).body?.text?.includes("started"));
      const pid = pidOf(ts.dataDir, id);
      assert.ok(alive(pid));
      const cancelled = await b.api("DELETE", `/v1/jobs/${id}`, "alice");
      assert.equal(cancelled.status, 200, cancelled.text);
      assert.equal(cancelled.body.state, "cancelled");
      assert.equal(cancelled.body.stateReason, "cancelled by user");
      assert.equal(alive(pid), false, "the wrapper is killed");
      assert.equal(groupHasLiveMembers(pid), false, "and Rscript with it: nothing of its process group runs");
      const inst = (await getInstance(ts.store.db, cancelled.body.instanceId))!;
      assert.ok(["releasing", "terminated"].includes(inst.state), inst.state);
      const again = await b.api("DELETE", `/v1/jobs/${id}`, "alice");
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, "JOB_ENDED");
      const log = await b.api("GET", `/v1/jobs/${id}/log`, "alice");
      assert.equal(log.body.complete, true);
      assert.doesNotMatch(log.body.text, /never/);
    });

    it("a job outlives a backend restart: its exit and log are recovered by the next backend", async () => {
      const res = await b.api("POST", "/v1/jobs", "alice", { script: 'cat("before\\n"); Sys.sleep(3); cat("after\\n"); writeLines("ok", "restart.txt")' });
      const id = res.body.jobId as string;
      await until("running", async () => (await b.api("GET", `/v1/jobs/${id}/log`, "alice")).body?.text?.includes("before"));
      const pid = pidOf(ts.dataDir, id);
      await b.close();
      assert.ok(alive(pid), "the job runs on without the backend");
      await until("the job to finish while the backend is down", async () => !alive(pid), 30_000);
      b = await startJobsBackend({ store: ts.reopen(), dataDir: ts.dataDir, purposes, policies });
      const done = await jobEnded(b, "alice", id);
      assert.equal(done.state, "succeeded", JSON.stringify(done));
      assert.equal(done.exitCode, 0);
      const log = await b.api("GET", `/v1/jobs/${id}/log`, "alice");
      assert.equal(log.body.text, "before\nafter\n");
      assert.equal(log.body.complete, true);
      assert.ok(existsSync(path.join(b.homeOf(done.instanceId), "restart.txt")));
    });

    it("refuses bad input with a stable code and changes nothing", async () => {
      const mine = await b.api("POST", "/v1/jobs", "alice", { purpose: "small", script: "Sys.sleep(30)" });
      assert.equal(mine.status, 201);
      // The lifecycle and the jobs loop keep writing for that job: wait until it runs, then count what a request could add.
      await until("running", async () => (await b.api("GET", `/v1/jobs/${mine.body.jobId}`, "alice")).body.state === "running");
      const count = async () => [
        (await ts.store.db.selectFrom("jobs").select("id").execute()).length,
        (await ts.store.db.selectFrom("events").select("id").where("kind", "in", ["job-queued", "launch-requested", "assigned"]).execute()).length,
        (await ts.store.db.selectFrom("instances").select("id").execute()).length,
      ];
      const before = await count();
      const cases: Array<[string, unknown, number, string, string?]> = [
        ["unknown purpose", { purpose: "nope", script: "1" }, 400, "UNKNOWN_PURPOSE"],
        ["neither script nor command", { args: ["x"] }, 400, "INVALID_REQUEST"],
        ["both script and command", { script: "1", command: ["echo"] }, 400, "INVALID_REQUEST"],
        ["a file outside the home", { script: "1", files: [{ path: "../../etc/x", contentBase64: "" }] }, 400, "INVALID_REQUEST"],
        ["an absolute file path", { script: "1", files: [{ path: "/etc/x", contentBase64: "" }] }, 400, "INVALID_REQUEST"],
        ["a bad script name", { script: "1", scriptName: "../x.R" }, 400, "INVALID_REQUEST"],
        ["a pool variable in env", { script: "1", env: { RSTUDIO_POOL_JOB: "x" } }, 400, "INVALID_REQUEST"],
        ["an unknown field", { script: "1", shell: true }, 400, "INVALID_REQUEST"],
        ["too large for the purpose", { purpose: "small", script: "x".repeat(3000) }, 413, "SCRIPT_TOO_LARGE"],
        ["over the per-user active limit", { purpose: "small", script: "1" }, 429, "JOB_LIMIT"],
        ["malformed JSON", '{"script": ', 400, "INVALID_JSON"],
        ["budget exhausted", { script: "1" }, 402, "BUDGET_EXCEEDED", "broke"],
      ];
      for (const [what, body, status, code, user] of cases) {
        const r = await b.api("POST", "/v1/jobs", user ?? "alice", body);
        assert.equal(r.status, status, `${what}: ${r.text}`);
        assert.equal(r.body.error.code, code, what);
        assert.ok(r.body.error.message.length > 10, what);
      }
      const huge = await fetch(`${b.url}/v1/jobs`, { method: "POST", headers: b.as("alice"), body: JSON.stringify({ script: "x".repeat(2 * 1024 * 1024) }) });
      assert.equal(huge.status, 413);
      assert.equal(((await huge.json()) as any).error.code, "SCRIPT_TOO_LARGE");
      // Another user's job (and one that does not exist) is not found, for every route.
      for (const [method, p] of [["GET", ""], ["GET", "/log"], ["GET", "/log?follow=1"], ["DELETE", ""]] as const) {
        const other = await b.api(method, `/v1/jobs/${mine.body.jobId}${p}`, "bob");
        assert.equal(other.status, 404, `${method} ${p}`);
        assert.equal(other.body.error.code, "JOB_NOT_FOUND");
        const none = await b.api(method, `/v1/jobs/job-0000000000000000${p}`, "alice");
        assert.equal(none.body.error.code, "JOB_NOT_FOUND");
      }
      assert.equal((await b.api("GET", `/v1/jobs/${mine.body.jobId}/log?offset=-1`, "alice")).body.error.code, "INVALID_REQUEST");
      assert.equal((await b.api("GET", "/v1/jobs", "bob")).body.jobs.length, 0, "bob sees none of alice's jobs");
      const unauth = await fetch(`${b.url}/v1/jobs`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
      assert.equal(unauth.status, 401);
      assert.deepEqual(await count(), before, "no job and no event was written");
      assert.equal((await b.api("DELETE", `/v1/jobs/${mine.body.jobId}`, "alice")).body.state, "cancelled");
    });

    it("keeps an interactive instance alive while a process runs, and lets go when it ends", async () => {
      const claim = await b.api("POST", "/v1/claims", "alice", {});
      const id = claim.body.instance.instanceId as string;
      const sleeper = spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
      sleeper.unref();
      try {
        for (const [body, code] of [[{ pid: -1, maxHours: 1 }, "INVALID_REQUEST"], [{ pid: sleeper.pid }, "MISSING_FIELD"], [{ pid: sleeper.pid, maxHours: 1000 }, "INVALID_REQUEST"]] as const) {
          const bad = await b.api("POST", `/v1/instances/${id}/keep-alive`, "alice", body);
          assert.equal(bad.body.error.code, code, JSON.stringify(body));
        }
        const other = await b.api("POST", `/v1/instances/${id}/keep-alive`, "bob", { pid: sleeper.pid, maxHours: 1 });
        assert.equal(other.status, 404);
        assert.equal(other.body.error.code, "INSTANCE_NOT_FOUND");
        assert.equal((await b.api("GET", `/v1/instances/${id}/keep-alive`, "alice")).body.error.code, "NOT_FOUND", "no hold yet");
        const set = await b.api("POST", `/v1/instances/${id}/keep-alive`, "alice", { pid: sleeper.pid, maxHours: 2 });
        assert.equal(set.status, 200, set.text);
        assert.equal(set.body.pid, sleeper.pid);
        assert.equal(set.body.endedReason, null);
        assert.ok(Math.abs(Date.parse(set.body.until) - Date.now() - 2 * 3600_000) < 60_000);
        assert.equal(set.body.currency, "USD");
        assert.equal((await b.api("GET", `/v1/instances/${id}/keep-alive`, "bob")).body.error.code, "INSTANCE_NOT_FOUND");
        // An idle deadline about to pass is pushed ahead while the process lives.
        await updateInstance(ts.store.db, id, { idleDeadline: Date.now() + 500 });
        const held = await until("deadline pushed", async () => {
          const i = await getInstance(ts.store.db, id);
          return i && i.idleDeadline! > Date.now() + 200_000 ? i : null;
        });
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal((await getInstance(ts.store.db, id))!.ownerId, "alice", "not reaped");
        assert.ok(held);
        process.kill(sleeper.pid!, "SIGKILL");
        const ended = await until("hold ended", async () => {
          const v = (await b.api("GET", `/v1/instances/${id}/keep-alive`, "alice")).body;
          return v.endedReason ? v : null;
        });
        assert.equal(ended.endedReason, "process-ended");
        assert.ok(ended.costSoFar > 0, "the instance's cost since the hold began");
        const del = await b.api("DELETE", `/v1/instances/${id}/keep-alive`, "alice");
        assert.equal(del.body.endedReason, "process-ended", "ending an ended hold keeps its reason");
      } finally {
        try {
          process.kill(sleeper.pid!, "SIGKILL");
        } catch {
          /* gone */
        }
        await b.api("DELETE", `/v1/instances/${id}`, "alice");
      }
    });
  });
}

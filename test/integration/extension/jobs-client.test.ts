/**
 * The extension's jobs plumbing against the real backend (in-process Pool and HTTP app, the
 * local provider, real Rscript jobs): BackendClient's job calls, the LogFollower reading a real
 * job's log to its end, the JobStore and JobWatcher announcing it with the backend's cost, a
 * cancel, errors with their codes, and a keep-alive hold on a real process through the client.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { aPurpose, tempDir } from "../../support/builders";
import { addUsers, killJobProcesses, rSkip, startJobsBackend, until, type JobsBackend } from "../../support/jobs";
import { killLocalInstances } from "../../support/local";
import { createTestStore, type TestStore } from "../../support/stores";
import { BackendClient } from "../../../extension/core/backend-client";
import { systemClock } from "../../../extension/core/emitter";
import { ExtensionError } from "../../../extension/core/errors";
import { formatMoney } from "../../../extension/core/format";
import { jobEndedNotice, JobWatcher } from "../../../extension/core/jobs/job-events";
import { JobStore } from "../../../extension/core/jobs/job-store";
import { LogFollower } from "../../../extension/core/jobs/log-follower";
import { scriptJobRequest } from "../../../extension/core/jobs/run-input";
import { RecordingLog } from "../../unit/extension/fakes";

describe("the extension's jobs client against the real backend", { skip: rSkip() }, () => {
  let ts: TestStore;
  let b: JobsBackend;
  const dataDir = tempDir("ext-jobs-");
  let client: BackendClient;

  before(async () => {
    ts = await createTestStore("sqlite");
    await addUsers(ts.store, ["erin", "frank"]);
    b = await startJobsBackend({ store: ts.store, dataDir, purposes: [aPurpose({ name: "rstudio", max: 2, hourlyPrice: 36, idleTimeoutSeconds: 600 })] });
    const token = b.as("erin").authorization!.slice("Bearer ".length);
    client = new BackendClient({ baseUrl: () => b.url, token: async () => token, log: new RecordingLog() });
  });
  after(async () => {
    await b?.close();
    killJobProcesses(dataDir);
    killLocalInstances(dataDir);
    await ts?.cleanup();
  });

  it("submits a script, follows its log to the end, and announces it ended with the backend's cost", async () => {
    const script = 'cat("config", Sys.getenv("MODEL_CONFIG"), "\\n")\nfor (i in 1:3) { cat("step", i, "\\n"); Sys.sleep(0.5) }\n';
    const job = await client.submitJob(scriptJobRequest("/w/model.R", script, "rstudio", { MODEL_CONFIG: "m1" }));
    assert.equal(job.scriptName, "model.R");
    assert.ok(["queued", "starting", "running"].includes(job.state), job.state);
    const store = new JobStore(client, new RecordingLog());
    const watcher = new JobWatcher();
    watcher.track(job);
    const announced: string[] = [];
    store.onDidChange((jobs) => {
      for (const j of watcher.update(jobs)) announced.push(jobEndedNotice(j).message);
    });
    let text = "";
    const done = new Promise<void>((resolve, reject) => {
      const f = new LogFollower({ read: (o, s) => client.jobLog(job.jobId, o, s), onText: (t) => (text += t), onComplete: resolve, onError: (e, final) => final && reject(new Error(e.message)), clock: systemClock, idleStepsMs: [200, 500] });
      f.start();
    });
    await done;
    assert.equal(text, "config m1 \nstep 1 \nstep 2 \nstep 3 \n");
    const ended = await client.job(job.jobId);
    assert.equal(ended.state, "succeeded");
    assert.equal(ended.exitCode, 0);
    await store.refresh();
    assert.equal(announced.length, 1);
    assert.ok(ended.cost > 0);
    assert.match(announced[0]!, new RegExp(`^Job model\\.R \\(rstudio\\) succeeded: exit code 0, ran \\d+s, cost ${formatMoney(ended.cost, "USD").replace(/[$.]/g, "\\$&")}\\.$`));
    assert.ok(store.jobs.some((j) => j.jobId === job.jobId));
  });

  it("cancels a running job; a second cancel, another user's job and a bad purpose are errors with their codes", async () => {
    const job = await client.submitJob(scriptJobRequest("slow.R", 'cat("up\\n"); Sys.sleep(120)', "rstudio", {}));
    await until("the job to print", async () => (await client.jobLog(job.jobId, 0)).text.includes("up"));
    const cancelled = await client.cancelJob(job.jobId);
    assert.ok(["cancelled", "running"].includes(cancelled.state), cancelled.state);
    await until("cancelled", async () => (await client.job(job.jobId)).state === "cancelled");
    const code = async (p: Promise<unknown>) => p.then(() => "ok", (e) => (e instanceof ExtensionError ? e.code : String(e)));
    assert.equal(await code(client.cancelJob(job.jobId)), "JOB_ENDED");
    const frank = new BackendClient({ baseUrl: () => b.url, token: async () => b.as("frank").authorization!.slice(7) });
    assert.equal(await code(frank.job(job.jobId)), "JOB_NOT_FOUND");
    assert.equal(await code(client.submitJob(scriptJobRequest("x.R", "1", "gpu", {}))), "UNKNOWN_PURPOSE");
  });

  it("keeps an instance while a process runs, through the client, until the process ends", async () => {
    const claimed = await client.claim("rstudio");
    const id = claimed.instance.instanceId;
    await until("running", async () => (await client.instance(id)).state === "running");
    const sleeper = spawn("sleep", ["600"], { stdio: "ignore" });
    try {
      const hold = await client.keepAlive(id, { pid: sleeper.pid!, maxHours: 2 });
      assert.equal(hold.pid, sleeper.pid);
      assert.equal(hold.endedReason, null);
      assert.equal((await client.keepAliveStatus(id)).endedReason, null);
      sleeper.kill("SIGKILL");
      const ended = await until("the hold to end", async () => {
        const v = await client.keepAliveStatus(id);
        return v.endedReason ? v : null;
      }, 90_000);
      assert.equal(ended.endedReason, "process-ended");
      const again = await client.keepAlive(id, { pid: process.pid, maxHours: 1 });
      const stopped = await client.endKeepAlive(id);
      assert.equal(stopped.instanceId, again.instanceId);
      assert.equal(stopped.endedReason, "cancelled");
    } finally {
      sleeper.kill("SIGKILL");
      await client.release(id).catch(() => undefined);
    }
  });
});

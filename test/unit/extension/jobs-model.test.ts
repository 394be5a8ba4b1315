import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { holdEndedMessage, holdIndicator } from "../../../extension/core/jobs/hold-indicator";
import { jobEndedNotice, jobLogFooter, jobLogHeader, JobWatcher } from "../../../extension/core/jobs/job-events";
import { ENDED_SHOWN, jobRow, jobRows, jobsSummary } from "../../../extension/core/jobs/job-tree-model";
import { formatEnvInput, isRScript, parseEnvInput, scriptJobRequest, validateEnvInput, validateMaxHours, validatePid } from "../../../extension/core/jobs/run-input";
import { InstanceWatcher } from "../../../extension/core/instance-events";
import { anInstance } from "./fakes";
import { aHold, aJob, ended } from "./job-fakes";

const NOW = Date.parse("2026-11-23T10:00:00Z");

describe("Run R Script on Pool: the inputs", () => {
  it("knows an R script by its extension, either case", () => {
    assert.ok(isRScript("/w/model.R") && isRScript("a.r"));
    assert.ok(!isRScript("model.Rmd") && !isRScript("notes.txt") && !isRScript("R"));
  });

  it("parses NAME=value; NAME2=value, keeping = and escaped ; in values", () => {
    assert.deepEqual(parseEnvInput(""), { ok: true, env: {} });
    assert.deepEqual(parseEnvInput("  MODEL_CONFIG=small.yaml ;SEED=7; "), { ok: true, env: { MODEL_CONFIG: "small.yaml", SEED: "7" } });
    assert.deepEqual(parseEnvInput("Q=a=b;S=x\\;y"), { ok: true, env: { Q: "a=b", S: "x;y" } });
    assert.equal(formatEnvInput({ Q: "a=b", S: "x;y" }), "Q=a=b; S=x\\;y");
    assert.deepEqual(parseEnvInput(formatEnvInput({ Q: "a=b", S: "x;y" })), { ok: true, env: { Q: "a=b", S: "x;y" } });
  });

  it("says what is wrong with bad env input (the input box shows it)", () => {
    assert.match(validateEnvInput("MODEL_CONFIG")!, /not NAME=value/);
    assert.match(validateEnvInput("1X=2")!, /not a variable name/);
    assert.match(validateEnvInput("A=1; B C=2")!, /"B C" is not a variable name/);
    assert.equal(validateEnvInput("A=1"), undefined);
  });

  it("builds the job from the file: its text, its base name, the env only when given", () => {
    assert.deepEqual(scriptJobRequest("/home/a/proj/model.R", "cat(1)", "big-memory", { M: "x" }), { purpose: "big-memory", script: "cat(1)", scriptName: "model.R", env: { M: "x" } });
    assert.deepEqual(scriptJobRequest("C:\\\\p\\\\fit.r", "1", undefined, {}), { script: "1", scriptName: "fit.r" });
    assert.equal(scriptJobRequest("Untitled-1", "1", undefined, {}).scriptName, "Untitled-1.R");
    // The backend takes plain file names only.
    assert.equal(scriptJobRequest("/w/my model (v2).R", "1", undefined, {}).scriptName, "my_model__v2_.R");
    assert.equal(scriptJobRequest("/w/.hidden.R", "1", undefined, {}).scriptName, "hidden.R");
    assert.equal(scriptJobRequest("/w/é.R", "1", undefined, {}).scriptName, "script.R");
    assert.equal(scriptJobRequest(`/w/${"a".repeat(150)}.R`, "1", undefined, {}).scriptName!.length, 100);
  });

  it("checks the pid and the hours cap", () => {
    assert.equal(validatePid(" 12345 "), undefined);
    for (const bad of ["", "abc", "0", "1", "-5", "12.5", "99999999"]) assert.match(validatePid(bad)!, /Sys\.getpid\(\)/, bad);
    assert.equal(validateMaxHours("8"), undefined);
    assert.equal(validateMaxHours("0.5"), undefined);
    for (const bad of ["", "0", "-1", "x", "73"]) assert.ok(validateMaxHours(bad), bad);
  });
});

describe("the Jobs node", () => {
  it("a row shows the script, the state, how long and the cost; details add the rest", () => {
    const r = jobRow(aJob(), NOW);
    assert.equal(r.label, "model.R");
    assert.equal(r.description, "running · 59m · $0.0123");
    assert.equal(r.contextValue, "job.active");
    assert.equal(r.icon, "running");
    assert.deepEqual(r.details.map((d) => d.label), ["State", "Purpose", "Instance", "Submitted", "Running for", "Cancelled at", "Cost so far", "Job ID"]);
    const q = jobRow(aJob({ state: "queued", queuePosition: 2, startedAt: null, instanceId: null, cost: 0 }), NOW);
    assert.equal(q.description, "queued (#2 in line) · $0.00");
    assert.equal(q.icon, "queued");
    const f = jobRow(ended({ state: "failed", exitCode: 3, stateReason: "exit 3" }), NOW);
    assert.equal(f.description, "failed (exit 3) · 2m · $0.0123");
    assert.equal(f.contextValue, "job.ended");
    assert.ok(f.details.some((d) => d.label === "Ran" && d.value === "2m"));
    assert.match(jobRow(ended({ state: "cancelled", exitCode: null, stateReason: "max runtime 7200 s" }), NOW).description, /^cancelled \(max runtime 7200 s\)/);
    assert.equal(jobRow(aJob({ scriptName: null }), NOW).label, "job-0001");
  });

  it("orders running, starting, queued (by place), then the newest ended, at most ENDED_SHOWN of those", () => {
    const jobs = [
      ended({ jobId: "e-old", endedAt: "2026-11-23T08:00:00.000Z" }),
      aJob({ jobId: "q2", state: "queued", queuePosition: 2 }),
      aJob({ jobId: "q1", state: "queued", queuePosition: 1 }),
      ended({ jobId: "e-new", endedAt: "2026-11-23T09:30:00.000Z" }),
      aJob({ jobId: "s", state: "starting" }),
      aJob({ jobId: "r" }),
    ];
    assert.deepEqual(jobRows(jobs, NOW).map((r) => r.jobId), ["r", "s", "q1", "q2", "e-new", "e-old"]);
    const many = Array.from({ length: 15 }, (_, i) => ended({ jobId: `e${i}`, endedAt: new Date(NOW - i * 60_000).toISOString() }));
    assert.equal(jobRows(many, NOW).length, ENDED_SHOWN);
    assert.equal(jobRows(many, NOW)[0]!.jobId, "e0");
  });

  it("summarises the node: running, queued, ended", () => {
    assert.equal(jobsSummary([aJob(), aJob({ state: "starting" }), aJob({ state: "queued" }), ended(), ended()]), "2 running · 1 queued · 2 ended");
    assert.equal(jobsSummary([ended()]), "1 ended");
    assert.equal(jobsSummary([]), "");
  });
});

describe("when a job ends", () => {
  it("announces a job once when a list shows it ended after one showed it active; the first list is only a baseline", () => {
    const w = new JobWatcher();
    assert.deepEqual(w.update([ended({ jobId: "old" }), aJob({ jobId: "a" })]), [], "what ended before is no news");
    assert.deepEqual(w.update([aJob({ jobId: "a", state: "running" })]), []);
    const done = ended({ jobId: "a" });
    assert.deepEqual(w.update([done]), [done]);
    assert.deepEqual(w.update([done]), [], "once");
  });

  it("announces a job submitted here even when the first list already shows it ended", () => {
    const w = new JobWatcher();
    w.track(aJob({ jobId: "quick", state: "queued" }));
    const done = ended({ jobId: "quick" });
    assert.deepEqual(w.update([done]), [done]);
    w.clear();
    assert.deepEqual(w.update([aJob({ jobId: "z" })]), []);
  });

  it("the notification names the job, its state, exit code, how long it ran and its cost", () => {
    assert.deepEqual(jobEndedNotice(ended()), { level: "info", message: "Job model.R (big-memory) succeeded: exit code 0, ran 2m, cost $0.0123." });
    assert.deepEqual(jobEndedNotice(ended({ state: "failed", exitCode: 3, stateReason: "exit 3" })), {
      level: "error",
      message: "Job model.R (big-memory) failed: exit code 3, ran 2m, cost $0.0123. See its log for the error.",
    });
    assert.equal(jobEndedNotice(ended({ state: "failed", exitCode: null, stateReason: "instance lost" })).message, "Job model.R (big-memory) failed: instance lost, ran 2m, cost $0.0123. See its log for the error.");
    const c = jobEndedNotice(ended({ state: "cancelled", exitCode: null, stateReason: "cancelled by user", startedAt: null, cost: 0 }));
    assert.deepEqual(c, { level: "warning", message: "Job model.R (big-memory) was cancelled (cancelled by user), cost $0.00." });
  });

  it("the log channel opens and closes with a line on the job", () => {
    assert.equal(jobLogHeader(aJob({ state: "queued", queuePosition: 3 })), "--- job job-0001: model.R on big-memory (queued, #3 in line) ---");
    assert.equal(jobLogFooter(ended({ state: "failed", exitCode: 3 })), "--- job job-0001 failed: exit code 3, ran 2m, cost $0.0123 ---");
  });
});

describe("the keep-alive status bar item", () => {
  it("shows the pid, the time left to the cap and the cost so far; hidden without a hold", () => {
    const v = holdIndicator([aHold()], NOW)!;
    assert.equal(v.text, "$(pin) pid 4242 · cap 8h 00m · $0.84");
    assert.match(v.tooltip, /i-0123456789abcdef0: kept while R process 4242 runs, at most until 2026-11-23 18:00 UTC \(8h 00m left\); cost so far \$0\.84/);
    assert.match(v.tooltip, /Click to end a hold/);
    assert.equal(holdIndicator([], NOW), null);
    assert.equal(holdIndicator([aHold({ endedReason: "process-ended" })], NOW), null);
    assert.equal(holdIndicator([aHold(), aHold({ instanceId: "i-2", costSoFar: 0.16 })], NOW)!.text, "$(pin) 2 holds · $1.00");
  });

  it("says why a hold ended and what applies now", () => {
    assert.match(holdEndedMessage(aHold({ endedReason: "process-ended" }), "big-memory"), /^The keep-alive of big-memory \(i-0123456789abcdef0\) ended: R process 4242 has finished \(cost while held: \$0\.84\)\. The idle timeout applies again/);
    assert.match(holdEndedMessage(aHold({ endedReason: "cap" })), /reached its cap at 2026-11-23 18:00 UTC while R process 4242 still ran/);
    assert.match(holdEndedMessage(aHold({ endedReason: "instance-ended" })), /ended \(instance-ended\)/);
  });
});

describe("an instance a job ran on", () => {
  it("ending because its job ended is no instance news (the job's notification says it)", () => {
    const w = new InstanceWatcher();
    w.update([anInstance({ instanceId: "i-job" }), anInstance({ instanceId: "i-job2", jobId: "job-2" }), anInstance({ instanceId: "i-mine" })], NOW);
    const events = w.update(
      [
        anInstance({ instanceId: "i-job", state: "releasing", stateReason: "job-ended" }),
        anInstance({ instanceId: "i-job2", jobId: "job-2", state: "terminated", stateReason: "lost" }),
        anInstance({ instanceId: "i-mine", state: "terminated", stateReason: "max-lifetime" }),
      ],
      NOW,
    );
    assert.deepEqual(events.map((e) => e.kind === "ended" && e.instance.instanceId), ["i-mine"]);
  });
});

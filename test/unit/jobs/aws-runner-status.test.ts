/**
 * The AWS job runners' pure parts: how an SSM invocation and an ECS task (in the shapes the real
 * services answer) map to a job's run status, the log note where SSM cuts output, the refs a
 * restarted backend reads back, and the Run Command scripts' text (the user switch, no root
 * writes into the home, the job's environment built from nothing).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Task } from "@aws-sdk/client-ecs";
import type { JobSpec } from "../../../backend/jobs/runner";
import { cancelJobCommands, processProbeCommands, shq, startJobCommands } from "../../../backend/jobs/runners/ec2-job-script";
import { invocationLog, parseEc2Ref, statusOfInvocation, type Ec2RunRef } from "../../../backend/jobs/runners/ec2-ssm";
import { CANCEL_REASON, overridesFor, parseEcsRef, startedByOf, statusOfTask, type EcsRunRef } from "../../../backend/jobs/runners/ecs";
import { ecsJobsSchema } from "../../../backend/config/jobs";

const ref: Ec2RunRef = { v: 1, commandId: "11111111-2222-3333-4444-555555555555", instanceId: "i-0abc", sentAt: 1_000_000 };
const spec = (over: Partial<JobSpec> = {}): JobSpec => ({ jobId: "job-1", userId: "alice", purpose: "p", script: "cat(1)", scriptName: "model.R", command: null, args: [], env: {}, files: [], maxRuntimeSeconds: 600, ...over });

test("SSM invocation states map to run states", () => {
  const at = (over: Record<string, unknown>) => statusOfInvocation({ $metadata: {}, ...over }, ref, 1_010_000, 300_000);
  for (const s of ["Pending", "InProgress", "Delayed"]) assert.equal(at({ Status: s, ResponseCode: -1 }).status, "running", s);
  assert.deepEqual(at({ Status: "Success", ResponseCode: 0, ExecutionEndDateTime: "2026-12-02T01:00:00.000Z" }), { status: "exited", exitCode: 0, endedAt: Date.parse("2026-12-02T01:00:00.000Z") });
  assert.deepEqual(at({ Status: "Failed", ResponseCode: 3 }), { status: "exited", exitCode: 3 });
  assert.equal(at({ Status: "Failed", ResponseCode: -1 }).status, "lost", "the agent failed before the script ran");
  assert.deepEqual(at({ Status: "Failed", ResponseCode: 125, StandardErrorContent: "rstudio-pool: the user's home is not mounted at /srv/rstudio-home\n" }), { status: "lost", reason: "did not start: the user's home is not mounted at /srv/rstudio-home" });
  assert.deepEqual(at({ Status: "Failed", ResponseCode: 125, StandardErrorContent: "" }), { status: "exited", exitCode: 125 }, "a script's own exit 125 stays an exit code");
  assert.match(JSON.stringify(at({ Status: "Cancelled" })), /cancelled/);
  assert.match(JSON.stringify(at({ Status: "TimedOut", StatusDetails: "ExecutionTimedOut" })), /maximum runtime/);
  assert.match(JSON.stringify(at({ Status: "TimedOut", StatusDetails: "DeliveryTimedOut" })), /not delivered/);
  assert.equal(at({ Status: "Undeliverable" }).status, "lost");
  // Not visible yet: normal right after SendCommand, lost only after the grace period.
  assert.equal(statusOfInvocation(null, ref, 1_010_000, 300_000).status, "starting");
  assert.equal(statusOfInvocation(null, ref, 1_400_000, 300_000).status, "lost");
});

test("the invocation's log says where SSM cut it", () => {
  const full = invocationLog({ $metadata: {}, StandardOutputContent: "x".repeat(24_000), StandardErrorContent: "" }, "job-1");
  assert.match(full, /first 24000 characters[\s\S]*~\/\.rstudio-pool\/jobs\/job-1\/output\.log/);
  assert.equal(invocationLog({ $metadata: {}, StandardOutputContent: "short\n" }, "job-1"), "short\n");
  assert.equal(invocationLog({ $metadata: {}, StandardOutputContent: "a\n", StandardErrorContent: "boom" }, "job-1"), "a\n[stderr] boom\n");
});

test("refs round-trip and bad ones are refused", () => {
  assert.deepEqual(parseEc2Ref(JSON.stringify(ref)), ref);
  assert.throws(() => parseEc2Ref("12345"), { code: "INTERNAL" });
  assert.throws(() => parseEcsRef('{"v":1}'), { code: "INTERNAL" });
});

const ecsRef: EcsRunRef = { v: 1, taskArn: "arn:aws:ecs:us-east-1:123456789012:task/r-jobs/0123abcd", cluster: "r-jobs", container: "r" };
test("ECS task states map to run states (the shapes ECS answers)", () => {
  const t = (over: Partial<Task>) => statusOfTask({ taskArn: ecsRef.taskArn, ...over }, ecsRef);
  for (const s of ["PROVISIONING", "PENDING", "ACTIVATING"]) assert.equal(t({ lastStatus: s }).status, "starting");
  for (const s of ["RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"]) assert.equal(t({ lastStatus: s }).status, "running");
  const stoppedAt = new Date("2026-12-02T01:00:00Z");
  assert.deepEqual(t({ lastStatus: "STOPPED", stopCode: "EssentialContainerExited", stoppedReason: "Essential container in task exited", stoppedAt, containers: [{ name: "sidecar", exitCode: 0 }, { name: "r", exitCode: 3 }] }), { status: "exited", exitCode: 3, endedAt: stoppedAt.getTime() });
  const cancelled = t({ lastStatus: "STOPPED", stopCode: "UserInitiated", stoppedReason: `${CANCEL_REASON} (alice)`, containers: [{ name: "r", exitCode: 143 }] });
  assert.equal(cancelled.status, "lost");
  const pull = t({ lastStatus: "STOPPED", stopCode: "TaskFailedToStart", stoppedReason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)", containers: [{ name: "r", reason: "CannotPullContainerError: ref not found" }] });
  assert.deepEqual(pull, { status: "lost", reason: "task stopped without an exit code: CannotPullContainerError: ref not found" });
  assert.equal(statusOfTask(null, ecsRef).status, "lost");
});

test("ECS overrides: the job's env, the script compressed, the args as positional parameters", () => {
  const config = ecsJobsSchema.parse({ cluster: "c", taskDefinition: "td", container: "r" });
  const o = overridesFor(spec({ env: { MODEL_CONFIG: "{}" }, args: ["a b", "$(rm -rf /)"] }), config);
  const c = o.containerOverrides![0]!;
  assert.equal(c.name, "r");
  assert.deepEqual(c.command!.slice(0, 2), ["sh", "-c"]);
  assert.deepEqual(c.command!.slice(3), ["rstudio-pool-job", "a b", "$(rm -rf /)"], "args are argv, never shell text");
  assert.deepEqual(c.environment!.map((e) => e.name), ["MODEL_CONFIG", "RSTUDIO_POOL_JOB_ID", "RSTUDIO_POOL_SCRIPT_GZ_B64"]);
  assert.throws(() => overridesFor(spec({ env: { RSTUDIO_POOL_SCRIPT_GZ_B64: "x" } }), config), { code: "INVALID_REQUEST" });
  const cmd = overridesFor(spec({ script: null, command: ["python3", "-c", "print(1)"], args: ["x"] }), config).containerOverrides![0]!;
  assert.deepEqual(cmd.command, ["python3", "-c", "print(1)", "x"]);
  assert.equal(startedByOf("job/1 x"), "rstudio-pool-job_1_x");
});

test("Run Command scripts: as uid 1000, env from nothing, quoted values, size cap", () => {
  const [s] = startJobCommands(spec({ env: { MODEL_CONFIG: "it's $HOME `id`" }, args: ["--n", "1; rm -rf /"] }));
  assert.match(s!, /^# rstudio-pool-job start job-1\n/);
  assert.match(s!, /setpriv --reuid=1000 --regid=1000 --clear-groups --/);
  assert.match(s!, /as_user env -i "HOME=\$HOME_MOUNT" /);
  assert.ok(s!.includes(shq("MODEL_CONFIG=it's $HOME `id`")), "values are single-quoted, never expanded");
  assert.match(s!, /mountpoint -q "\$HOME_MOUNT"/, "never on the root disk");
  assert.doesNotMatch(s!, /chown|> *"\$HOME_MOUNT/, "root writes nothing into the home itself");
  assert.match(cancelJobCommands("job-1")[0]!, /run kill -TERM -- "-\$pg"/);
  assert.match(processProbeCommands(4242)[0]!, /kill -0 4242|probe 4242/);
  assert.throws(() => cancelJobCommands("job;rm"), { code: "INVALID_REQUEST" });
  assert.throws(() => startJobCommands(spec({ script: "x".repeat(60_000) })), { code: "SCRIPT_TOO_LARGE" });
});

/**
 * The EC2 job runner (backend/jobs/runners/ec2-ssm.ts) through the real SDK client against the
 * fake AWS server (SSM's and CloudWatch Logs' JSON 1.1 wire format), whose fake instance runs the
 * runner's Run Command scripts for real with bash and real Rscript in a scratch home
 * (test/support/aws/ssm-live-commands.ts). Covers: exit 0 with a result file in the home and the
 * job's own environment only; exit 3; cancel mid-run (the R process is gone); a new runner (a
 * restarted backend) finding status and log from the stored ref; live logs from CloudWatch; the
 * keep-alive probe; refused input. Skips loudly without Rscript; fails instead with R_REQUIRED=1
 * or CI=true.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { JobSpec, JobTarget, RunStatus } from "../../../backend/jobs/runner";
import { createEc2SsmRunner, parseEc2Ref, type Ec2SsmRunnerDeps } from "../../../backend/jobs/runners/ec2-ssm";
import { startFakeAws, TEST_CREDENTIALS, type FakeAws } from "../../support/aws/fake-aws-server";
import type { FakeInstance } from "../../support/aws/fake-world";
import { makeInstanceRoot, runJobScriptsOn, type FakeInstanceRoot } from "../../support/aws/ssm-live-commands";
import { untilWithin } from "../../support/until";

function rSkip(): string | false {
  if (spawnSync("Rscript", ["--version"], { stdio: "ignore" }).status === 0) return false;
  const reason = "EC2 job runner tests SKIPPED: Rscript not found (apt-get install -y r-base-core)";
  if (process.env.R_REQUIRED === "1" || process.env.CI === "true") throw new Error(`${reason} (R_REQUIRED=1 or CI=true)`);
  process.stderr.write(`\n!!! ${reason}\n\n`);
  return reason;
}
const skip = rSkip();

const INSTANCE = "i-0123456789abcdef0";
const target: JobTarget = { instanceId: "rsp-000000000000job1", providerId: INSTANCE };

function job(over: Partial<JobSpec> = {}): JobSpec {
  return { jobId: `job-${Math.random().toString(36).slice(2, 10)}`, userId: "alice", purpose: "big-memory", script: 'cat("hi\\n")', scriptName: "model.R", command: null, args: [], env: {}, files: [], maxRuntimeSeconds: 600, ...over };
}

function fakeInstance(id: string): FakeInstance {
  return { id, imageId: "ami-0aaaaaaaaaaaaaaa1", type: "r6i.2xlarge", state: "running", stateReason: null, lifecycle: null, zone: "us-east-1a", subnetId: "subnet-0a1", privateDns: "ip-10-0-0-1.ec2.internal", launchTime: new Date(), tags: { Pool: "test-pool" }, clientToken: "t", request: {}, ssmOnline: true };
}

const until = untilWithin(90_000, 200);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("EC2 job runner over SSM Run Command (fake SSM, real bash and R)", { skip }, () => {
  let fake: FakeAws;
  let inst: FakeInstanceRoot;
  let ssm: SSMClient;
  let logs: CloudWatchLogsClient;
  const deps = (over: Partial<Ec2SsmRunnerDeps> = {}): Ec2SsmRunnerDeps => ({ ssm, pollMs: 50, ...over });
  const ended = (runner: ReturnType<typeof createEc2SsmRunner>, spec: JobSpec, ref: string) =>
    until<RunStatus>(`job ${spec.jobId} to end`, async () => {
      const s = await runner.status(spec, ref, target);
      return s.status === "exited" || s.status === "lost" ? s : null;
    });

  before(async () => {
    fake = await startFakeAws();
    fake.world.instances.set(INSTANCE, fakeInstance(INSTANCE));
    inst = makeInstanceRoot("baked");
    runJobScriptsOn(fake.world, INSTANCE, inst);
    ssm = new SSMClient({ region: "us-east-1", endpoint: fake.url, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
    logs = new CloudWatchLogsClient({ region: "us-east-1", endpoint: fake.url, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  });
  after(async () => {
    ssm?.destroy();
    logs?.destroy();
    await fake?.close();
    inst?.close();
  });

  test("a job that writes a result to the home and exits 0, as the RStudio user, with only its own environment", async () => {
    const runner = createEc2SsmRunner(deps());
    const spec = job({
      script: [
        'cat("hello from R\\n")',
        'cat("config:", Sys.getenv("MODEL_CONFIG"), "\\n")',
        'cat("agent secret:[", Sys.getenv("SSM_AGENT_SECRET"), "]\\n", sep = "")',
        'cat("uid:", system("id -u", intern = TRUE), "\\n")',
        'writeLines(readLines("inputs/params.txt"), "result.txt")',
      ].join("\n"),
      env: { MODEL_CONFIG: '{"chains": 4, "it\'s": "quoted $HOME"}' },
      files: [{ path: "inputs/params.txt", contentBase64: Buffer.from("42\n").toString("base64") }],
    });
    const ref = await runner.start(spec, target);
    const parsed = parseEc2Ref(ref);
    assert.equal(parsed.instanceId, INSTANCE);
    const sent = fake.world.callsOf("SendCommand").at(-1)!.params as Record<string, unknown>;
    assert.deepEqual((sent.Parameters as Record<string, string[]>).executionTimeout, ["600"], "execution timeout = the job's maximum runtime");
    assert.equal(sent.DocumentName, "AWS-RunShellScript");

    const s = await ended(runner, spec, ref);
    assert.deepEqual({ status: s.status, exitCode: s.status === "exited" ? s.exitCode : null }, { status: "exited", exitCode: 0 });
    const log = await runner.readLog(spec, ref, target, 0);
    assert.equal(log.complete, true);
    assert.match(log.text, /hello from R/);
    assert.match(log.text, /config: \{"chains": 4, "it's": "quoted \$HOME"\}/, "the job's env arrives verbatim");
    assert.match(log.text, /agent secret:\[\]/, "nothing of the agent's environment");
    assert.equal(readFileSync(path.join(inst.home, "result.txt"), "utf8"), "42\n", "the result is in the user's home");
    const jobDir = path.join(inst.home, ".rstudio-pool/jobs", spec.jobId);
    assert.match(readFileSync(path.join(jobDir, "output.log"), "utf8"), /hello from R/, "the whole log is kept in the home too");
    assert.equal(readFileSync(path.join(jobDir, "exit-code"), "utf8").trim(), "0");
    if (inst.realUserSwitch) {
      assert.match(log.text, /uid: 1000/, "R runs as the RStudio user, not root");
      assert.equal(statSync(path.join(inst.home, "result.txt")).uid, 1000);
      assert.equal(statSync(path.join(jobDir, "model.R")).uid, 1000, "files are written as the user");
    } else {
      assert.match(readFileSync(inst.setprivLog, "utf8"), /--reuid=1000 --regid=1000 --clear-groups --/);
    }
    // Reading on from the end gives nothing more.
    const again = await runner.readLog(spec, ref, target, log.nextOffset);
    assert.deepEqual({ text: again.text, complete: again.complete }, { text: "", complete: true });
  });

  test("a job that fails with exit 3 reports exit code 3", async () => {
    const runner = createEc2SsmRunner(deps());
    const spec = job({ script: 'cat("about to fail\\n"); quit(status = 3)' });
    const ref = await runner.start(spec, target);
    const s = await ended(runner, spec, ref);
    assert.deepEqual(s.status === "exited" ? s.exitCode : s, 3);
    assert.match((await runner.readLog(spec, ref, target, 0)).text, /about to fail/);
  });

  test("cancel mid-run: CancelCommand, and the R process is gone", async () => {
    const runner = createEc2SsmRunner(deps());
    const spec = job({ script: 'cat("started\\n"); Sys.sleep(300); cat("never\\n")' });
    const ref = await runner.start(spec, target);
    const pidFile = path.join(inst.home, ".rstudio-pool/jobs", spec.jobId, "pid");
    const logFile = path.join(inst.home, ".rstudio-pool/jobs", spec.jobId, "output.log");
    await until("the job to start", async () => existsSync(logFile) && readFileSync(logFile, "utf8").includes("started"));
    // The first look may not see the invocation yet ("starting"); then it runs.
    await until("status running", async () => (await runner.status(spec, ref, target)).status === "running");
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    assert.ok(alive(pid));
    await runner.cancel(spec, ref, target);
    assert.equal(fake.world.callsOf("CancelCommand").length >= 1, true);
    const s = await ended(runner, spec, ref);
    assert.equal(s.status, "lost");
    assert.match(s.status === "lost" ? s.reason : "", /cancelled/);
    await until("the job's process to be gone", async () => !alive(pid), 60_000);
    assert.doesNotMatch(readFileSync(logFile, "utf8"), /never/);
    // Cancelling again (the queue retries after a restart) is harmless.
    await runner.cancel(spec, ref, target);
  });

  test("a restarted backend (a new runner, the stored ref) finds the job's state and log", async () => {
    const first = createEc2SsmRunner(deps());
    const spec = job({ script: 'for (i in 1:3) { cat("step", i, "\\n"); Sys.sleep(0.3) }; quit(status = 0)' });
    const ref = await first.start(spec, target);
    const stored = String(ref); // what the queue wrote to the database
    const second = createEc2SsmRunner(deps());
    const s = await ended(second, spec, stored);
    assert.equal(s.status === "exited" && s.exitCode, 0);
    const log = await second.readLog(spec, stored, target, 0);
    assert.match(log.text, /step 1[\s\S]*step 3/);
    assert.equal(log.complete, true);
  });

  test("with a CloudWatch log group, the log is read while the job runs, in full, by event offset", async () => {
    const runner = createEc2SsmRunner(deps({ logs, logGroup: "/rstudio-pool/jobs" }));
    const spec = job({ script: 'cat("first\\n"); Sys.sleep(1.5); for (i in 1:2000) cat(sprintf("line %04d of a long log\\n", i)); cat("last\\n")' });
    const ref = await runner.start(spec, target);
    assert.equal(parseEc2Ref(ref).logGroup, "/rstudio-pool/jobs", "the group is kept in the ref");
    const sent = fake.world.callsOf("SendCommand").at(-1)!.params as Record<string, unknown>;
    assert.deepEqual(sent.CloudWatchOutputConfig, { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: "/rstudio-pool/jobs" });
    const early = await until("the first line", async () => {
      const c = await runner.readLog(spec, ref, target, 0);
      return c.text ? c : null;
    });
    assert.match(early.text, /^first\n/);
    assert.equal(early.complete, false, "still running");
    let offset = early.nextOffset;
    let text = early.text;
    await until("the whole log", async () => {
      const c = await runner.readLog(spec, ref, target, offset);
      text += c.text;
      offset = c.nextOffset;
      return c.complete;
    });
    assert.equal(offset, 2002, "offset = events read");
    assert.ok(text.length > 24_000, "more than SSM's 24,000 characters, all of it");
    assert.match(text, /line 2000 of a long log\nlast\n$/);
  });

  test("without a log group, a long log is cut at 24,000 characters and says where the rest is", async () => {
    const runner = createEc2SsmRunner(deps());
    const spec = job({ script: 'for (i in 1:2000) cat(sprintf("line %04d of a long log\\n", i))' });
    const ref = await runner.start(spec, target);
    assert.equal((await runner.readLog(spec, ref, target, 0)).text, "", "nothing before it ends (SSM fills the output at the end)");
    await ended(runner, spec, ref);
    const log = await runner.readLog(spec, ref, target, 0);
    assert.match(log.text, /first 24000 characters[\s\S]*output\.log/);
    assert.ok(readFileSync(path.join(inst.home, ".rstudio-pool/jobs", spec.jobId, "output.log"), "utf8").includes("line 2000"));
  });

  test("a job whose files cannot be written never runs and is lost with the reason", async () => {
    const runner = createEc2SsmRunner(deps());
    writeFileSync(path.join(inst.home, "not-a-dir"), "a file\n");
    const spec = job({ script: 'writeLines("ran", "should-not-exist.txt")', files: [{ path: "not-a-dir/input.csv", contentBase64: "YQ==" }] });
    const ref = await runner.start(spec, target);
    const s = await ended(runner, spec, ref);
    assert.equal(s.status, "lost");
    assert.match(s.status === "lost" ? s.reason : "", /did not start: could not write not-a-dir\/input\.csv/);
    assert.ok(!existsSync(path.join(inst.home, "should-not-exist.txt")));
  });

  test("the keep-alive probe: kill -0 through Run Command", async () => {
    const runner = createEc2SsmRunner(deps());
    const sleeper = spawn("sleep", ["120"], { stdio: "ignore" });
    try {
      assert.equal(await runner.processAlive(target, sleeper.pid!), true);
    } finally {
      sleeper.kill("SIGKILL");
    }
    await new Promise((r) => sleeper.once("exit", r));
    assert.equal(await runner.processAlive(target, sleeper.pid!), false);
    await assert.rejects(runner.processAlive(target, 1), { code: "INVALID_REQUEST" });
  });

  test("container mode: the job runs through docker exec in the rstudio container as uid 1000, and cancel reaches it there", async () => {
    const id = "i-0c0c0c0c0c0c0c0c0";
    fake.world.instances.set(id, fakeInstance(id));
    const box = makeInstanceRoot("container");
    try {
      runJobScriptsOn(fake.world, id, box);
      const there: JobTarget = { instanceId: "rsp-000000000000job2", providerId: id };
      const runner = createEc2SsmRunner(deps());
      const spec = job({ script: 'cat("home:", Sys.getenv("HOME"), "\n"); writeLines("ok", "container-result.txt")', env: { MODEL_CONFIG: "c" } });
      const ref = await runner.start(spec, there);
      const s = await until<RunStatus>("the container job to end", async () => {
        const x = await runner.status(spec, ref, there);
        return x.status === "exited" || x.status === "lost" ? x : null;
      });
      assert.deepEqual(s.status === "exited" ? s.exitCode : s, 0, (await runner.readLog(spec, ref, there, 0)).text);
      const docker = readFileSync(path.join(box.root, "docker.log"), "utf8");
      assert.match(docker, /^exec -u 1000:1000 rstudio env -i HOME=\/home\/rstudio .*MODEL_CONFIG=c.* setsid -w bash -c /m);
      assert.equal(readFileSync(path.join(box.home, "container-result.txt"), "utf8"), "ok\n");
      if (box.realUserSwitch) assert.equal(statSync(path.join(box.home, "container-result.txt")).uid, 1000);

      const long = job({ script: 'cat("started\n"); Sys.sleep(300)' });
      const longRef = await runner.start(long, there);
      const logFile = path.join(box.home, ".rstudio-pool/jobs", long.jobId, "output.log");
      await until("the container job to start", async () => existsSync(logFile) && readFileSync(logFile, "utf8").includes("started"));
      const pid = Number(readFileSync(path.join(box.home, ".rstudio-pool/jobs", long.jobId, "pid"), "utf8"));
      assert.equal(await runner.processAlive(there, pid), true, "the probe asks inside the container");
      await runner.cancel(long, longRef, there);
      await until("the container job's process to be gone", async () => !alive(pid), 60_000);
      assert.match(readFileSync(path.join(box.root, "docker.log"), "utf8"), /exec -u 1000:1000 rstudio kill -TERM -- -\d+/);
    } finally {
      box.close();
    }
  });

  test("refused input changes nothing on the instance", async () => {
    const runner = createEc2SsmRunner(deps());
    const before = fake.world.callsOf("SendCommand").length;
    await assert.rejects(runner.start(job({ script: "x <- 1\n".repeat(10_000) }), target), { code: "SCRIPT_TOO_LARGE" });
    await assert.rejects(runner.start(job({ env: { "BAD NAME": "x" } }), target), { code: "INVALID_REQUEST" });
    await assert.rejects(runner.start(job({ files: [{ path: "../../etc/passwd", contentBase64: "" }] }), target), { code: "INVALID_REQUEST" });
    await assert.rejects(runner.start(job({ scriptName: "../x.R" }), target), { code: "INVALID_REQUEST" });
    await assert.rejects(runner.start(job(), { instanceId: "rsp-x", providerId: null }), { code: "INTERNAL" });
    assert.equal(fake.world.callsOf("SendCommand").length, before);
  });
});

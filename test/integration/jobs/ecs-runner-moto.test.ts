/**
 * The ECS job runner (backend/jobs/runners/ecs.ts) against moto's ECS and CloudWatch Logs, an
 * emulator we did not write: cluster and task definition made the way a platform team would,
 * RunTask with the job's overrides, DescribeTasks, the log read from the container's awslogs
 * stream, StopTask, the cost. moto runs no containers, so the test plays the container: it runs
 * the task's real command override (decode the script, Rscript it) with the override's
 * environment, and puts what it printed into the stream itself. What moto answers differently
 * from ECS (tasks RUNNING at once, container exit code 0 after any stop, no MISSING failure for
 * an unknown task) is handled by the runner and asserted here. Skips loudly without moto (fails
 * with MOTO_REQUIRED=1 or CI=true); the container's command needs Rscript (R_REQUIRED / CI).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { DescribeSubnetsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { CreateClusterCommand, DescribeTasksCommand, type ECSClient, ListTasksCommand, RegisterTaskDefinitionCommand, StopTaskCommand, type Task } from "@aws-sdk/client-ecs";
import { ecsJobsSchema } from "../../../backend/config/jobs";
import type { JobSpec } from "../../../backend/jobs/runner";
import { createJobAwsClients } from "../../../backend/jobs/runners/aws-clients";
import { createEcsRunner, parseEcsRef, SCRIPT_ENV } from "../../../backend/jobs/runners/ecs";
import { TEST_CREDENTIALS } from "../../support/aws/fake-aws-server";
import { motoSkip, startMoto, type MotoStack } from "../../support/aws/moto";

const skip = motoSkip();
const hasR = spawnSync("Rscript", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasR && (process.env.R_REQUIRED === "1" || process.env.CI === "true")) throw new Error("Rscript not found (R_REQUIRED=1 or CI=true): the ECS test runs the task's command");

function job(over: Partial<JobSpec> = {}): JobSpec {
  return { jobId: `job-${randomBytes(4).toString("hex")}`, userId: "alice@example.org", purpose: "simulations", script: 'cat("hi\\n")', scriptName: "model.R", command: null, args: [], env: {}, files: [], maxRuntimeSeconds: 3600, ...over };
}

describe("ECS job runner on moto", { skip }, () => {
  let moto: MotoStack;
  let ecs: ECSClient;
  let logs: CloudWatchLogsClient;
  let ec2: EC2Client;
  let subnet: string;
  const config = () =>
    ecsJobsSchema.parse({ cluster: "r-jobs", taskDefinition: "r-model", container: "r", subnets: [subnet], securityGroups: [], logGroup: "/ecs/r-jobs", logStreamPrefix: "jobs", vcpu: 4, memoryGb: 16 });
  const runner = () => createEcsRunner(config(), { ecs, logs });
  const describeTask = async (arn: string): Promise<Task> => (await ecs.send(new DescribeTasksCommand({ cluster: "r-jobs", tasks: [arn] }))).tasks![0]!;

  /** Plays the container: runs the command override with its environment; returns what it printed. */
  function runContainer(task: Task): { stdout: string; status: number | null } {
    const o = task.overrides!.containerOverrides!.find((c) => c.name === "r")!;
    const env = Object.fromEntries((o.environment ?? []).map((e) => [e.name!, e.value!]));
    const [cmd, ...args] = o.command!;
    const r = spawnSync(cmd!, args, { env: { PATH: process.env.PATH, ...env }, encoding: "utf8", timeout: 60_000 });
    return { stdout: `${r.stdout}${r.stderr}`, status: r.status };
  }

  async function putLines(stream: string, lines: string[]) {
    await logs.send(new CreateLogStreamCommand({ logGroupName: "/ecs/r-jobs", logStreamName: stream })).catch(() => undefined);
    const t = Date.now();
    await logs.send(new PutLogEventsCommand({ logGroupName: "/ecs/r-jobs", logStreamName: stream, logEvents: lines.map((message, i) => ({ timestamp: t + i, message })) }));
  }

  before(async () => {
    moto = await startMoto();
    const common = { region: "us-east-1", endpoint: moto.motoUrl, credentials: TEST_CREDENTIALS, maxAttempts: 1 };
    // The clients as the backend makes them (backend/jobs/runners/aws-clients.ts), pointed at moto.
    const jobClients = createJobAwsClients({ region: "us-east-1", credentials: TEST_CREDENTIALS, maxAttempts: 1, endpoints: { ecs: moto.motoUrl, logs: moto.motoUrl } });
    ecs = jobClients.ecs;
    logs = jobClients.logs;
    ec2 = new EC2Client(common);
    subnet = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: "default-for-az", Values: ["true"] }] }))).Subnets![0]!.SubnetId!;
    await ecs.send(new CreateClusterCommand({ clusterName: "r-jobs" }));
    // moto needs a container-level memory (Fargate itself takes the task-level size alone).
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "r-model",
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: "4096",
        memory: "16384",
        containerDefinitions: [
          { name: "r", image: "rocker/r-ver:4.4", essential: true, memory: 16384, logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/ecs/r-jobs", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "jobs" } } },
        ],
      }),
    );
    await logs.send(new CreateLogGroupCommand({ logGroupName: "/ecs/r-jobs" }));
  });
  after(async () => {
    for (const c of [ecs, logs, ec2]) c?.destroy();
    await moto?.close();
  });

  test("run, describe, read the log by event offset, stop (cancel), cost; a restarted runner finds it all", async () => {
    const spec = job({
      script: ['cfg <- Sys.getenv("MODEL_CONFIG")', 'cat("config:", cfg, "\\n")', 'cat("args:", commandArgs(trailingOnly = TRUE), "\\n")', 'cat("script var:[", Sys.getenv("' + SCRIPT_ENV + '"), "]\\n", sep = "")'].join("\n"),
      args: ["--chains", "4 with spaces"],
      env: { MODEL_CONFIG: '{"model": "lmer", "formula": "y ~ x + (1|g)"}' },
    });
    const first = runner();
    const ref = await first.start(spec, null);
    const r = parseEcsRef(ref);
    assert.match(r.taskArn, /^arn:aws:ecs:us-east-1:\d+:task\//);
    const taskId = r.taskArn.split("/").at(-1)!;
    assert.equal(r.logStream, `jobs/r/${taskId}`, "awslogs names streams prefix/container/task id");

    const task = await describeTask(r.taskArn);
    assert.equal(task.startedBy, `rstudio-pool-${spec.jobId}`);
    const env = Object.fromEntries((task.overrides!.containerOverrides![0]!.environment ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.MODEL_CONFIG, spec.env.MODEL_CONFIG, "the model configuration travels as an environment override");
    assert.equal(env.RSTUDIO_POOL_JOB_ID, spec.jobId);
    assert.equal(task.launchType, "FARGATE");

    // moto's tasks are RUNNING at once (ECS's go PROVISIONING -> PENDING -> RUNNING).
    assert.equal((await first.status(spec, ref, null)).status, "running");
    const empty = await first.readLog(spec, ref, null, 0);
    assert.deepEqual({ text: empty.text, nextOffset: empty.nextOffset, complete: empty.complete }, { text: "", nextOffset: 0, complete: false }, "no stream yet: nothing, not an error");

    if (hasR) {
      const ran = runContainer(task);
      assert.equal(ran.status, 0, ran.stdout);
      assert.match(ran.stdout, /config: \{"model": "lmer", "formula": "y ~ x \+ \(1\|g\)"\}/);
      assert.match(ran.stdout, /args: --chains 4 with spaces/);
      assert.match(ran.stdout, /script var:\[\]/, "the decoded script's variable is gone before R starts");
      await putLines(r.logStream!, ran.stdout.trimEnd().split("\n"));
    } else {
      process.stderr.write("\n!!! ECS test: Rscript not found, the container's command was NOT run; log lines are put by hand\n\n");
      await putLines(r.logStream!, ["config: stand-in", "args: stand-in", "script var:[]", "extra"]);
    }
    const chunk = await first.readLog(spec, ref, null, 0);
    assert.match(chunk.text, /^config: /);
    assert.equal(chunk.nextOffset, chunk.text.trimEnd().split("\n").length, "offset = events read");
    assert.equal(chunk.complete, false);
    await putLines(r.logStream!, ["later line"]);

    // A restarted backend: a new runner with the stored ref reads on where the old one stopped.
    const second = runner();
    const more = await second.readLog(spec, ref, null, chunk.nextOffset);
    assert.deepEqual({ text: more.text, nextOffset: more.nextOffset }, { text: "later line\n", nextOffset: chunk.nextOffset + 1 });

    await second.cancel(spec, ref, null);
    const stopped = await describeTask(r.taskArn);
    assert.equal(stopped.lastStatus, "STOPPED");
    assert.match(stopped.stoppedReason ?? "", /^rstudio-pool: job cancelled \(alice@example\.org\)/);
    // moto reports exit code 0 for the stopped container; the runner knows it was a cancel.
    const s = await second.status(spec, ref, null);
    assert.equal(s.status, "lost");
    assert.match(s.status === "lost" ? s.reason : "", /cancelled/);
    const tail = await second.readLog(spec, ref, null, more.nextOffset);
    assert.deepEqual({ text: tail.text, complete: tail.complete }, { text: "", complete: true });
    await second.cancel(spec, ref, null); // again: harmless

    // 4 vCPU and 16 GB for 30 minutes at the default Fargate prices.
    const cost = second.costSoFar!(spec, ref, 0, 1800_000, 9_999_999)!;
    assert.ok(Math.abs(cost - (4 * 1800 * 0.04048 + 16 * 1800 * 0.004445) / 3600) < 1e-9, String(cost));
    assert.ok(Math.abs(second.costSoFar!(spec, ref, 0, null, 600_000)! - (4 * 600 * 0.04048 + 16 * 600 * 0.004445) / 3600) < 1e-9, "running: up to now");
    assert.ok(second.costSoFar!(spec, ref, 0, 5_000, 5_000)! > 0, "at least a minute is billed");
  });

  test("a task that ends by itself reports its container's exit code; an unknown task is lost", async () => {
    const spec = job();
    const run = runner();
    const ref = await run.start(spec, null);
    const arn = parseEcsRef(ref).taskArn;
    // ECS stops a task whose essential container exited; moto's only way there is StopTask.
    await ecs.send(new StopTaskCommand({ cluster: "r-jobs", task: arn, reason: "Essential container in task exited" }));
    const s = await run.status(spec, ref, null);
    assert.deepEqual(s.status === "exited" ? s.exitCode : s, 0);
    const gone = JSON.stringify({ ...parseEcsRef(ref), taskArn: arn.replace(/[0-9a-f-]+$/, "00000000-0000-0000-0000-000000000000") });
    const lost = await run.status(spec, gone, null);
    assert.equal(lost.status, "lost");
  });

  test("bigger than ECS's 8 KiB of overrides: SCRIPT_TOO_LARGE, and no task is started", async () => {
    const before = (await ecs.send(new ListTasksCommand({ cluster: "r-jobs" }))).taskArns!.length;
    // Random bytes do not compress: 7 KB of them cannot fit.
    const big = `x <- "${randomBytes(7000).toString("base64")}"`;
    await assert.rejects(runner().start(job({ script: big }), null), { code: "SCRIPT_TOO_LARGE" });
    await assert.rejects(runner().start(job({ env: { CONFIG: "y".repeat(9000) } }), null), { code: "SCRIPT_TOO_LARGE" });
    await assert.rejects(runner().start(job({ files: [{ path: "in.csv", contentBase64: "YQ==" }] }), null), { code: "INVALID_REQUEST" });
    // A long but ordinary R script compresses well and fits.
    const ordinary = Array.from({ length: 400 }, (_, i) => `fit_${i} <- lm(y ~ x, data = subset(d, g == ${i}))`).join("\n");
    assert.ok(ordinary.length > 8192);
    await runner().start(job({ script: ordinary }), null);
    assert.equal((await ecs.send(new ListTasksCommand({ cluster: "r-jobs" }))).taskArns!.length, before + 1);
  });
});

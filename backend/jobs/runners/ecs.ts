/**
 * The ECS job runner: a purpose with `jobs: { runner: ecs }` runs each job as one task of the
 * cluster and task definition its platform team owns (RunTask), the way teams already do it:
 * the script and the model configuration travel as container overrides (the script gzipped and
 * base64'd in an environment variable, a `command` override that decodes it and runs Rscript),
 * the log is the container's awslogs stream in CloudWatch Logs, cancel is StopTask, and the cost
 * is Fargate's vCPU-seconds and GB-seconds. No pool instance is involved.
 *
 * Limits: ECS allows 8,192 characters of overrides in all (JSON formatting included), so a job's
 * script (compressed) and environment must fit; bigger ones are refused with SCRIPT_TOO_LARGE
 * before anything starts. Files are not carried (no home on a task): inputs come from S3 or the
 * image. The ref (task ARN and cluster) is all a restarted backend needs; ECS keeps a stopped
 * task visible for about an hour, after which a task it no longer knows reports as lost.
 */
import { gzipSync } from "node:zlib";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand, type ECSClient, type Task, type TaskOverride } from "@aws-sdk/client-ecs";
import type { EcsJobsConfig } from "../../config/jobs";
import { PoolError } from "../../errors";
import { aws, awsErrorCode, toPoolError } from "../../providers/ec2/aws-errors";
import type { JobRunner, JobSpec, LogChunk, RunRef, RunStatus } from "../runner";
import { readLogEvents } from "./cloudwatch-log";

/** ECS's limit on a RunTask's overrides, in characters of their JSON. */
export const ECS_OVERRIDES_LIMIT = 8192;
export const SCRIPT_ENV = "RSTUDIO_POOL_SCRIPT_GZ_B64";
/** The StopTask reason the runner gives, so a cancel is told apart from a task that ended by itself. */
export const CANCEL_REASON = "rstudio-pool: job cancelled";
/** Fargate bills at least one minute a task. */
const MIN_BILLED_SECONDS = 60;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface EcsRunnerDeps {
  ecs: Pick<ECSClient, "send">;
  logs: Pick<CloudWatchLogsClient, "send">;
}

export interface EcsRunRef {
  v: 1;
  taskArn: string;
  cluster: string;
  container: string;
  /** The log stream of the container (prefix/container/task id), when the purpose names a log group. */
  logGroup?: string;
  logStream?: string;
}

export function parseEcsRef(ref: RunRef): EcsRunRef {
  let r: Partial<EcsRunRef>;
  try {
    r = JSON.parse(ref) as Partial<EcsRunRef>;
  } catch {
    throw new PoolError("INTERNAL", `The ECS job reference ${ref.slice(0, 80)} is not JSON.`);
  }
  if (r?.v !== 1 || typeof r.taskArn !== "string" || typeof r.cluster !== "string" || typeof r.container !== "string") {
    throw new PoolError("INTERNAL", `The ECS job reference ${ref.slice(0, 80)} lacks its task ARN or cluster.`);
  }
  return r as EcsRunRef;
}

/** ECS's startedBy allows up to 128 letters, digits, hyphens and underscores. */
export function startedByOf(jobId: string): string {
  return `rstudio-pool-${jobId}`.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 128);
}

/** Tag values allow letters, digits, spaces and _ . : / = + - @ (256 at most). */
function tagValue(v: string): string {
  return v.replace(/[^\p{L}\p{N} _.:/=+\-@]/gu, "_").slice(0, 256);
}

/**
 * The `command` override: decode the script into a scratch file and run it with Rscript, the
 * job's args as positional parameters (no quoting of user input into the shell text).
 */
function scriptCommand(job: JobSpec): string[] {
  const name = job.scriptName.replace(/[^A-Za-z0-9_.-]/g, "_") || "job.R";
  const sh = `d="$(mktemp -d)" && printf '%s' "$${SCRIPT_ENV}" | base64 -d | gunzip >"$d/${name}" && unset ${SCRIPT_ENV} && exec Rscript --no-save --no-restore "$d/${name}" "$@"`;
  return ["sh", "-c", sh, "rstudio-pool-job", ...job.args];
}

/** The overrides of a job's task (exported for the size tests). */
export function overridesFor(job: JobSpec, config: EcsJobsConfig): TaskOverride {
  if (!job.script && !job.command?.length) throw new PoolError("INVALID_REQUEST", "A job needs a script or a command.");
  if (job.files.length) {
    throw new PoolError("INVALID_REQUEST", "ECS jobs cannot take files (a task has no home): put inputs in S3 or the image and read them from the script.");
  }
  for (const name of Object.keys(job.env)) {
    if (!ENV_NAME.test(name)) throw new PoolError("INVALID_REQUEST", `Environment variable name "${name}" is not valid (letters, digits and _; not starting with a digit).`);
    if (name.startsWith("RSTUDIO_POOL_")) throw new PoolError("INVALID_REQUEST", `Environment variable names starting with RSTUDIO_POOL_ are the pool's own (${name}).`);
  }
  const environment = Object.entries(job.env).map(([name, value]) => ({ name, value }));
  environment.push({ name: "RSTUDIO_POOL_JOB_ID", value: job.jobId });
  let command: string[];
  if (job.script !== null) {
    environment.push({ name: SCRIPT_ENV, value: gzipSync(Buffer.from(job.script, "utf8"), { level: 9 }).toString("base64") });
    command = scriptCommand(job);
  } else {
    command = [...(job.command ?? []), ...job.args];
  }
  const overrides: TaskOverride = { containerOverrides: [{ name: config.container, command, environment }] };
  const size = JSON.stringify(overrides).length;
  if (size > ECS_OVERRIDES_LIMIT) {
    throw new PoolError(
      "SCRIPT_TOO_LARGE",
      `The job's script (compressed) and environment make ${size} characters of ECS overrides; ECS allows ${ECS_OVERRIDES_LIMIT}. Make the script smaller, or keep it in the image or S3 and run it with a command.`,
    );
  }
  return overrides;
}

function taskId(taskArn: string): string {
  return taskArn.split("/").at(-1)!;
}

/** A task's state as the queue sees it. `missing`: ECS does not know the task (any more). */
export function statusOfTask(task: Task | null, ref: EcsRunRef): RunStatus {
  if (!task) return { status: "lost", reason: `ECS no longer knows task ${taskId(ref.taskArn)} (stopped tasks are kept about an hour)` };
  const last = task.lastStatus ?? "PROVISIONING";
  if (last === "PROVISIONING" || last === "PENDING" || last === "ACTIVATING") return { status: "starting" };
  if (last !== "STOPPED") return { status: "running" }; // RUNNING, or on its way down (DEACTIVATING … DEPROVISIONING)
  const endedAt = task.stoppedAt ? new Date(task.stoppedAt).getTime() : undefined;
  const reason = task.stoppedReason ?? task.stopCode ?? "stopped";
  // A task we stopped is a cancel, whatever exit code its container had (SIGTERM, or moto's 0).
  if (task.stopCode === "UserInitiated" || reason.startsWith(CANCEL_REASON)) return { status: "lost", reason: `cancelled (StopTask): ${reason}` };
  const container = (task.containers ?? []).find((c) => c.name === ref.container) ?? task.containers?.[0];
  if (typeof container?.exitCode === "number") return { status: "exited", exitCode: container.exitCode, ...(endedAt ? { endedAt } : {}) };
  // Stopped without an exit code: the image did not pull, the task could not start, the host went away.
  return { status: "lost", reason: `task stopped without an exit code: ${container?.reason ?? reason}` };
}

class EcsRunner implements JobRunner {
  readonly kind = "ecs" as const;
  readonly needsInstance = false;

  constructor(
    private readonly config: EcsJobsConfig,
    private readonly deps: EcsRunnerDeps,
  ) {}

  async start(job: JobSpec): Promise<RunRef> {
    const c = this.config;
    const overrides = overridesFor(job, c);
    const out = await aws({ action: "ecs:RunTask", target: `job ${job.jobId} on ${c.cluster}` }, () =>
      this.deps.ecs.send(
        new RunTaskCommand({
          cluster: c.cluster,
          taskDefinition: c.taskDefinition,
          launchType: c.launchType,
          count: 1,
          startedBy: startedByOf(job.jobId),
          // The same job id never starts two tasks, even when a start is retried after a crash.
          clientToken: job.jobId.slice(0, 64),
          tags: [
            { key: "rstudio-pool:job", value: tagValue(job.jobId) },
            { key: "rstudio-pool:user", value: tagValue(job.userId) },
            { key: "rstudio-pool:purpose", value: tagValue(job.purpose) },
          ],
          ...(c.subnets.length
            ? { networkConfiguration: { awsvpcConfiguration: { subnets: c.subnets, securityGroups: c.securityGroups, assignPublicIp: c.assignPublicIp ? "ENABLED" : "DISABLED" } } }
            : {}),
          overrides,
        }),
      ),
    );
    const task = out.tasks?.[0];
    if (!task?.taskArn) {
      const why = (out.failures ?? []).map((f) => `${f.reason ?? "failed"}${f.detail ? ` (${f.detail})` : ""}`).join("; ") || "no task returned";
      // RESOURCE:* and AGENT failures pass when capacity frees up: the queue tries again later.
      throw new PoolError("PROVIDER_UNAVAILABLE", `ECS could not start job ${job.jobId} on ${c.cluster}: ${why}.`, { failures: out.failures });
    }
    const ref: EcsRunRef = { v: 1, taskArn: task.taskArn, cluster: c.cluster, container: c.container };
    if (c.logGroup) {
      ref.logGroup = c.logGroup;
      // The awslogs driver names a stream prefix/container/task id (without a prefix, no such stream exists).
      ref.logStream = `${c.logStreamPrefix ?? ""}${c.logStreamPrefix ? "/" : ""}${c.container}/${taskId(task.taskArn)}`;
    }
    return JSON.stringify(ref);
  }

  private async describe(ref: EcsRunRef): Promise<Task | null> {
    const out = await aws({ action: "ecs:DescribeTasks", target: taskId(ref.taskArn) }, () => this.deps.ecs.send(new DescribeTasksCommand({ cluster: ref.cluster, tasks: [ref.taskArn] })));
    // ECS answers a task it does not know with failures [{reason: "MISSING"}]; moto with nothing.
    return (out.tasks ?? []).find((t) => t.taskArn === ref.taskArn || (t.taskArn && taskId(t.taskArn) === taskId(ref.taskArn))) ?? null;
  }

  async status(_job: JobSpec, ref: RunRef): Promise<RunStatus> {
    const r = parseEcsRef(ref);
    return statusOfTask(await this.describe(r), r);
  }

  async readLog(job: JobSpec, ref: RunRef, _target: unknown, offset: number): Promise<LogChunk> {
    const r = parseEcsRef(ref);
    const s = statusOfTask(await this.describe(r), r);
    const ended = s.status === "exited" || s.status === "lost";
    if (!r.logGroup || !r.logStream) {
      const note = `[rstudio-pool: purpose ${job.purpose} names no ecs.logGroup, so this job's output is not collected]\n`;
      return offset === 0 && ended ? { text: note, nextOffset: 1, complete: true } : { text: "", nextOffset: offset, complete: ended };
    }
    const read = await readLogEvents(this.deps.logs, r.logGroup, r.logStream, offset);
    return { text: read.text, nextOffset: read.nextOffset, complete: ended && read.newEvents === 0 };
  }

  async cancel(job: JobSpec, ref: RunRef): Promise<void> {
    const r = parseEcsRef(ref);
    try {
      await this.deps.ecs.send(new StopTaskCommand({ cluster: r.cluster, task: r.taskArn, reason: `${CANCEL_REASON} (${job.userId})`.slice(0, 255) }));
    } catch (err) {
      // A task ECS no longer knows has nothing left to stop.
      if (awsErrorCode(err) === "InvalidParameterException" && /not found/i.test((err as Error).message)) return;
      throw toPoolError(err, { action: "ecs:StopTask", target: taskId(r.taskArn) });
    }
  }

  /** Fargate: vCPU-seconds and GB-seconds at the purpose's prices, at least one minute. */
  costSoFar(_job: JobSpec, _ref: RunRef, startedAt: number, endedAt: number | null, now: number): number {
    const c = this.config;
    const seconds = Math.max(MIN_BILLED_SECONDS, Math.max(0, ((endedAt ?? now) - startedAt) / 1000));
    return (c.vcpu * seconds * c.pricePerVcpuHour) / 3600 + (c.memoryGb * seconds * c.pricePerGbHour) / 3600;
  }
}

export function createEcsRunner(config: EcsJobsConfig, deps: EcsRunnerDeps): JobRunner {
  return new EcsRunner(config, deps);
}

/**
 * The EC2 job runner: a job is one Run Command (AWS-RunShellScript) on the instance the queue
 * placed it on. The command writes the script and files into the user's mounted home and runs
 * Rscript there as the RStudio user (ec2-job-script.ts), with the job's own environment and an
 * execution timeout of the job's maximum runtime. Everything needed to find the job again is in
 * the ref (command id and instance id), so a restarted backend reads its state and log from SSM.
 *
 * Logs: without a log group, the log is the invocation's StandardOutputContent, which SSM fills
 * only once the command has finished and cuts at 24,000 characters (the whole log stays in the
 * home, ~/.rstudio-pool/jobs/<id>/output.log, and the cut is said at the end of the text). With a
 * log group (deps.logGroup), the command is sent with CloudWatchOutputConfig and the log is read
 * while it runs, in full, from the stream SSM writes (<command id>/<instance id>/aws-runShellScript/stdout).
 *
 * Also the keep-alive hold's probe: processAlive runs `kill -0` through a short Run Command.
 */
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { CancelCommandCommand, GetCommandInvocationCommand, SendCommandCommand, type GetCommandInvocationCommandOutput, type SSMClient } from "@aws-sdk/client-ssm";
import { PoolError } from "../../errors";
import { aws, awsErrorCode, toPoolError } from "../../providers/ec2/aws-errors";
import { SHELL_DOCUMENT } from "../../providers/ec2/ssm";
import type { JobRunner, JobSpec, JobTarget, LogChunk, ProcessProbe, RunRef, RunStatus } from "../runner";
import { readLogEvents } from "./cloudwatch-log";
import { cancelJobCommands, EXIT_NOT_STARTED, JOBS_DIR, LOG_FILE, MAX_EXECUTION_TIMEOUT_SECONDS, NOT_STARTED_PREFIX, parseProbeOutput, processProbeCommands, startJobCommands } from "./ec2-job-script";

/** GetCommandInvocation's StandardOutputContent holds the first 24,000 characters of stdout. */
export const SSM_OUTPUT_LIMIT = 24_000;
/** The plugin name in Run Command's CloudWatch stream names for AWS-RunShellScript. */
const SHELL_PLUGIN = "aws-runShellScript";
/** How long SSM has to deliver the command to the agent before it gives up (DeliveryTimedOut). */
const DELIVERY_TIMEOUT_SECONDS = 600;

const RUNNING = new Set(["Pending", "InProgress", "Delayed", "Cancelling"]);

export interface Ec2SsmRunnerDeps {
  ssm: Pick<SSMClient, "send">;
  /** CloudWatch Logs, needed when logGroup is set. */
  logs?: Pick<CloudWatchLogsClient, "send">;
  /** The log group Run Command writes the jobs' output to (the instance role may write it). */
  logGroup?: string;
  now?: () => number;
  /** An invocation still not visible this long after SendCommand is lost (normally it shows within seconds). */
  invisibleGraceMs?: number;
  /** processAlive: how often and how long to wait for the probe's result. */
  pollMs?: number;
  probeTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** What the queue stores for an EC2 job (as JSON). */
export interface Ec2RunRef {
  v: 1;
  commandId: string;
  instanceId: string;
  sentAt: number;
  /** Set when the output goes to CloudWatch Logs: read from there, even if the configuration changes later. */
  logGroup?: string;
}

export function parseEc2Ref(ref: RunRef): Ec2RunRef {
  let parsed: unknown;
  try {
    parsed = JSON.parse(ref);
  } catch {
    throw new PoolError("INTERNAL", `The EC2 job reference ${ref.slice(0, 80)} is not JSON.`);
  }
  const r = parsed as Partial<Ec2RunRef>;
  if (r?.v !== 1 || typeof r.commandId !== "string" || typeof r.instanceId !== "string" || typeof r.sentAt !== "number") {
    throw new PoolError("INTERNAL", `The EC2 job reference ${ref.slice(0, 80)} lacks its command or instance id.`);
  }
  return r as Ec2RunRef;
}

export function logStreamOf(ref: Ec2RunRef): string {
  return `${ref.commandId}/${ref.instanceId}/${SHELL_PLUGIN}/stdout`;
}

type Invocation = GetCommandInvocationCommandOutput | null;

/** Run Command's state as the queue sees it. */
export function statusOfInvocation(inv: Invocation, ref: Ec2RunRef, now: number, invisibleGraceMs: number): RunStatus {
  if (!inv) return now - ref.sentAt > invisibleGraceMs ? { status: "lost", reason: `SSM has no invocation of command ${ref.commandId} on ${ref.instanceId}` } : { status: "starting" };
  const s = inv.Status ?? "Pending";
  const endedAt = inv.ExecutionEndDateTime ? Date.parse(inv.ExecutionEndDateTime) : NaN;
  const ended = Number.isFinite(endedAt) ? { endedAt } : {};
  if (RUNNING.has(s)) return { status: "running" };
  const code = inv.ResponseCode ?? -1;
  // The start script's own refusal (home not mounted, …): the job never ran.
  const setup = (inv.StandardErrorContent ?? "").split("\n").find((l) => l.startsWith(NOT_STARTED_PREFIX));
  if (s === "Failed" && code === EXIT_NOT_STARTED && setup) return { status: "lost", reason: `did not start: ${setup.slice(NOT_STARTED_PREFIX.length)}` };
  if (s === "Success") return { status: "exited", exitCode: code < 0 ? 0 : code, ...ended };
  // The script's exit code; -1 means the agent failed before the script ran.
  if (s === "Failed" && code >= 0) return { status: "exited", exitCode: code, ...ended };
  if (s === "Cancelled") return { status: "lost", reason: "cancelled (CancelCommand)" };
  if (s === "TimedOut") return { status: "lost", reason: `stopped by SSM: ${inv.StatusDetails === "DeliveryTimedOut" ? "not delivered to the agent in time" : "the maximum runtime was reached"}` };
  return { status: "lost", reason: `Run Command ended ${inv.StatusDetails ?? s} on ${ref.instanceId}` };
}

function finished(inv: Invocation): boolean {
  return inv !== null && !RUNNING.has(inv.Status ?? "Pending");
}

/** The log as the invocation reports it, with a note where SSM cut it (and what else it said on stderr). */
export function invocationLog(inv: GetCommandInvocationCommandOutput, jobId: string): string {
  let text = inv.StandardOutputContent ?? "";
  if (text.length >= SSM_OUTPUT_LIMIT) {
    text += `\n[rstudio-pool: SSM keeps only the first ${SSM_OUTPUT_LIMIT} characters of the output; the whole log is in your home at ~/${JOBS_DIR}/${jobId}/${LOG_FILE}]\n`;
  }
  const err = (inv.StandardErrorContent ?? "").trim();
  if (err) text += `${text && !text.endsWith("\n") ? "\n" : ""}[stderr] ${err}\n`;
  return text;
}

class Ec2SsmRunner implements JobRunner, ProcessProbe {
  readonly kind = "ec2-ssm" as const;
  readonly needsInstance = true;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly deps: Ec2SsmRunnerDeps) {
    if (deps.logGroup && !deps.logs) throw new PoolError("INVALID_CONFIG", "The EC2 job runner has a log group but no CloudWatch Logs client.");
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private instanceOf(target: JobTarget | null): string {
    if (!target?.providerId) throw new PoolError("INTERNAL", "An EC2 job needs the instance it was placed on (its EC2 instance id).");
    return target.providerId;
  }

  private async send(instanceId: string, commands: string[], comment: string, executionTimeout: number, logGroup?: string): Promise<string> {
    const sent = await aws({ action: "ssm:SendCommand", target: instanceId }, () =>
      this.deps.ssm.send(
        new SendCommandCommand({
          InstanceIds: [instanceId],
          DocumentName: SHELL_DOCUMENT,
          Comment: comment.slice(0, 100),
          TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
          Parameters: { commands, executionTimeout: [String(executionTimeout)] },
          ...(logGroup ? { CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: logGroup } } : {}),
        }),
      ),
    );
    const commandId = sent.Command?.CommandId;
    if (!commandId) throw new PoolError("PROVIDER_ERROR", `SSM SendCommand to ${instanceId} returned no command id.`);
    return commandId;
  }

  /** The invocation, or null while SSM does not show it yet (normal right after SendCommand). */
  private async invocation(ref: Ec2RunRef): Promise<Invocation> {
    try {
      return await this.deps.ssm.send(new GetCommandInvocationCommand({ CommandId: ref.commandId, InstanceId: ref.instanceId }));
    } catch (err) {
      if (awsErrorCode(err) === "InvocationDoesNotExist") return null;
      throw toPoolError(err, { action: "ssm:GetCommandInvocation", target: ref.instanceId });
    }
  }

  async start(job: JobSpec, target: JobTarget | null): Promise<RunRef> {
    const instanceId = this.instanceOf(target);
    const commands = startJobCommands(job);
    const timeout = Math.min(MAX_EXECUTION_TIMEOUT_SECONDS, Math.max(1, Math.ceil(job.maxRuntimeSeconds)));
    const sentAt = this.now();
    const commandId = await this.send(instanceId, commands, `rstudio-pool job ${job.jobId} of ${job.userId}`, timeout, this.deps.logGroup);
    const ref: Ec2RunRef = { v: 1, commandId, instanceId, sentAt, ...(this.deps.logGroup ? { logGroup: this.deps.logGroup } : {}) };
    return JSON.stringify(ref);
  }

  async status(_job: JobSpec, ref: RunRef): Promise<RunStatus> {
    const r = parseEc2Ref(ref);
    return statusOfInvocation(await this.invocation(r), r, this.now(), this.deps.invisibleGraceMs ?? 5 * 60_000);
  }

  async readLog(job: JobSpec, ref: RunRef, _target: JobTarget | null, offset: number): Promise<LogChunk> {
    const r = parseEc2Ref(ref);
    const inv = await this.invocation(r);
    const done = finished(inv);
    if (r.logGroup) {
      if (!this.deps.logs) throw new PoolError("INVALID_CONFIG", `Job ${job.jobId} logs to CloudWatch group ${r.logGroup}, but the runner has no CloudWatch Logs client.`);
      const read = await readLogEvents(this.deps.logs, r.logGroup, logStreamOf(r), offset);
      // Complete once the command ended and a read after that found nothing new.
      return { text: read.text, nextOffset: read.nextOffset, complete: done && read.newEvents === 0 };
    }
    // SSM fills StandardOutputContent only once the command has finished: nothing to show before.
    if (!done || !inv) return { text: "", nextOffset: offset, complete: false };
    const all = Buffer.from(invocationLog(inv, job.jobId), "utf8");
    const from = Math.min(Math.max(0, offset), all.length);
    return { text: all.subarray(from).toString("utf8"), nextOffset: all.length, complete: true };
  }

  async cancel(job: JobSpec, ref: RunRef): Promise<void> {
    const r = parseEc2Ref(ref);
    try {
      await this.deps.ssm.send(new CancelCommandCommand({ CommandId: r.commandId, InstanceIds: [r.instanceId] }));
    } catch (err) {
      // Already finished (or never delivered): there is nothing left to cancel, which is fine.
      if (awsErrorCode(err) !== "InvalidCommandId") throw toPoolError(err, { action: "ssm:CancelCommand", target: r.instanceId });
    }
    // The agent stops its own shell; the job's session (R and its workers) is ended by name, as the user.
    try {
      await this.send(r.instanceId, cancelJobCommands(job.jobId), `rstudio-pool cancel job ${job.jobId}`, 60);
    } catch (err) {
      // An instance that is gone or offline has no job left running on it.
      if (!(err instanceof PoolError && (err.code === "SSM_AGENT_OFFLINE" || err.code === "INSTANCE_NOT_FOUND"))) throw err;
    }
  }

  costSoFar(): number | null {
    return null; // the ledger bills the instance
  }

  /**
   * Whether the process runs on the instance. Throws when the probe cannot tell (agent offline,
   * no answer in time): the hold then stays and is checked again, rather than ending on a guess.
   */
  async processAlive(target: JobTarget, pid: number): Promise<boolean> {
    const instanceId = this.instanceOf(target);
    const ref: Ec2RunRef = { v: 1, commandId: await this.send(instanceId, processProbeCommands(pid), `rstudio-pool keep-alive probe ${pid}`, 30), instanceId, sentAt: this.now() };
    const deadline = this.now() + (this.deps.probeTimeoutMs ?? 60_000);
    for (;;) {
      await this.sleep(this.deps.pollMs ?? 1000);
      const inv = await this.invocation(ref);
      if (finished(inv)) {
        const alive = inv!.Status === "Success" ? parseProbeOutput(inv!.StandardOutputContent ?? "") : null;
        if (alive === null) throw new PoolError("PROVIDER_UNAVAILABLE", `The process probe on ${instanceId} ended ${inv!.Status} without an answer.`);
        return alive;
      }
      if (this.now() > deadline) throw new PoolError("PROVIDER_UNAVAILABLE", `The process probe on ${instanceId} did not answer in time.`);
    }
  }
}

export function createEc2SsmRunner(deps: Ec2SsmRunnerDeps): JobRunner & ProcessProbe {
  return new Ec2SsmRunner(deps);
}

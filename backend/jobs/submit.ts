/**
 * Submitting a job: the request's shape (checked by the route with `jobRequestSchema`), then
 * the rules of its purpose, in the order a user can act on: no such purpose, neither or both of
 * script and command, a file that would leave the home, too big, too many jobs already, budget
 * exhausted. Only then is the job written, `queued`, with its event. A refusal changes nothing.
 */
import { z } from "zod";
import type { JobRequest } from "../../contract/jobs";
import { PoolError } from "../errors";
import { purposeOf, type PoolContext } from "../pool/context";
import { ENV_NAME } from "../providers/local/child-env";
import { countJobs, type Job } from "../store/jobs";
import { lockPurpose } from "../store/purpose-locks";
import { JOB_ACTIVE_STATES } from "../../contract/jobs";
import type { JobRunners } from "./runners";
import { insideHome } from "./runners/local";
import { createJob, newJobId } from "./transitions";

const SCRIPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const jobRequestSchema = z
  .object({
    purpose: z.string().min(1).max(64).optional(),
    script: z.string().optional(),
    scriptName: z.string().regex(SCRIPT_NAME, "a plain file name such as model.R").optional(),
    command: z.array(z.string().min(1).max(4096)).min(1).max(256).optional(),
    args: z.array(z.string().max(4096)).max(256).optional(),
    env: z
      .record(z.string().regex(ENV_NAME, "a variable name (letters, digits, _)").refine((n) => !n.startsWith("RSTUDIO_POOL_"), "RSTUDIO_POOL_ names are the pool's own"), z.string().max(65536))
      .refine((e) => Object.keys(e).length <= 200, "at most 200 variables")
      .optional(),
    files: z
      .array(z.object({ path: z.string().min(1).max(255), contentBase64: z.string().regex(BASE64, "base64") }).strict())
      .max(100)
      .optional(),
  })
  .strict() satisfies z.ZodType<JobRequest>;

export type JobRequestBody = z.infer<typeof jobRequestSchema>;

/** The bytes a job brings: its script, its files (decoded) and its environment. */
export function jobBytes(req: JobRequestBody): number {
  let n = Buffer.byteLength(req.script ?? "");
  for (const f of req.files ?? []) n += Buffer.from(f.contentBase64, "base64").length;
  for (const [k, v] of Object.entries(req.env ?? {})) n += k.length + Buffer.byteLength(v);
  return n;
}

export async function submitJob(ctx: PoolContext, runners: JobRunners, userId: string, req: JobRequestBody): Promise<Job> {
  const purpose = req.purpose ? purposeOf(ctx, req.purpose) : ctx.config.purposes[0]!;
  const hasScript = req.script !== undefined;
  const hasCommand = req.command !== undefined;
  if (hasScript === hasCommand) {
    throw new PoolError("INVALID_REQUEST", "Give exactly one of \"script\" (R source, run with Rscript) or \"command\" (argv).");
  }
  const scriptName = hasScript ? (req.scriptName ?? "job.R") : null;
  for (const f of req.files ?? []) {
    if (!insideHome("/home", f.path) || f.path.split(/[\\/]/).includes("..")) {
      throw new PoolError("INVALID_REQUEST", `File path "${f.path.slice(0, 80)}" must be relative and stay inside the home (no "..", no leading "/").`);
    }
  }
  const bytes = jobBytes(req);
  if (bytes > purpose.jobs.maxScriptBytes) {
    throw new PoolError("SCRIPT_TOO_LARGE", `The script, its files and environment are ${bytes} bytes; purpose "${purpose.name}" takes at most ${purpose.jobs.maxScriptBytes}. Put large inputs in your home and read them from the script.`);
  }
  // A purpose whose runner is not wired is refused now, not after a wait in the queue.
  const runner = runners.forPurpose(purpose);
  const now = ctx.clock.now();
  const job: Job = {
    id: newJobId(),
    ownerId: userId,
    purpose: purpose.name,
    runner: runner.needsInstance ? "pool" : "ecs",
    state: "queued",
    stateReason: null,
    scriptName,
    spec: { script: req.script ?? null, command: req.command ?? null, args: req.args ?? [], env: req.env ?? {}, files: req.files ?? [] },
    specBytes: bytes,
    instanceId: null,
    runRef: null,
    exitCode: null,
    createdAt: now,
    placedAt: null,
    startedAt: null,
    endedAt: null,
    deadlineAt: null,
    cost: null,
    finalizedAt: null,
    updatedAt: now,
  };
  // The purpose's lock row makes the count and the insert one step: two submits at once cannot both pass the limit.
  await ctx.db.transaction().execute(async (trx) => {
    await lockPurpose(trx, purpose.name, now);
    const active = await countJobs(trx, { ownerId: userId, purpose: purpose.name, states: JOB_ACTIVE_STATES });
    if (active >= purpose.jobs.maxActivePerUser) {
      throw new PoolError("JOB_LIMIT", `You have ${active} jobs queued or running in "${purpose.name}", its limit per user; wait for one to end or cancel one.`);
    }
    await ctx.policies.checkClaimAllowed(userId, purpose, now, trx);
    await createJob(ctx, job, { actor: `user:${userId}`, reason: "submitted", details: { scriptName, bytes } }, trx);
  });
  return job;
}

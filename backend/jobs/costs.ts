/**
 * A job's cost so far. On pool instances it is the instance's cost (from the ledger, which
 * bills it to the job's user) over the job's span: from its placement until it ended. On ECS
 * it is the runner's own figure (Fargate time). Once a job is finalized its cost is stored.
 */
import { Ledger } from "../cost/ledger";
import { roundMoney } from "../cost/money";
import { MIN_BILLED_SECONDS } from "../cost/usage";
import type { Job } from "../store/jobs";
import type { JobsContext } from "./context";
import { configuredPurpose } from "../pool/context";
import { specOf } from "./context";

/** The cost of one instance, billed to `ownerId`, over [from, to). */
export async function instanceCost(ctx: Pick<JobsContext, "db" | "config">, ownerId: string, instanceId: string, from: number, to: number, now: number): Promise<number> {
  if (to <= from) return 0;
  const lines = await new Ledger(ctx.db, ctx.config).lines({ from, to }, now, { ownerId });
  return roundMoney(lines.filter((l) => l.instanceId === instanceId).reduce((s, l) => s + l.cost, 0));
}

export async function jobCost(ctx: JobsContext, job: Job, now: number): Promise<number> {
  if (job.cost !== null) return job.cost;
  const end = job.endedAt ?? now;
  if (job.runner === "ecs") {
    const purpose = configuredPurpose(ctx, job.purpose);
    if (!purpose || !job.runRef || job.startedAt === null) return 0;
    try {
      const runner = ctx.runners.forPurpose(purpose);
      return roundMoney(runner.costSoFar?.(specOf(job, purpose), job.runRef, job.startedAt, job.endedAt, now) ?? 0);
    } catch {
      return 0;
    }
  }
  if (!job.instanceId || job.placedAt === null) return 0;
  // The span is the job's; it reaches at least 60 s past the placement so that an instance launched
  // for the job carries its 60 s billing minimum (what its user pays). The ledger bills nothing past now otherwise.
  return instanceCost(ctx, job.ownerId, job.instanceId, job.placedAt, Math.max(end, job.placedAt + MIN_BILLED_SECONDS * 1000), now);
}

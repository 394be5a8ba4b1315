/**
 * Assignment step: an instance handed to a user while it was free (warm) gets the user's
 * things (owner tag, home volume) from the provider. The claim commits first and this step
 * completes the hand-over (`handed_over_to` catches up with `owner_id`), so a crash in between
 * is finished on the next tick. The provider's part (API calls on EC2, a state file locally)
 * runs beside the tick (ops.ts), at most 256 at a time, so a burst of claims neither
 * holds the tick up nor sends the provider a thousand calls at once.
 */
import { findPendingHandOvers, updateInstance, type Instance } from "../../store/instances";
import { configuredPurpose, type PoolContext } from "../context";
import { toRef } from "../refs";
import { waitUpTo, type BackgroundOps } from "./ops";
import type { LifecycleStep } from "./step";

/** Hand-overs in flight at once (each is a few provider calls). */
export const HAND_OVERS_IN_FLIGHT = 256;

export interface AssignOptions {
  ops: BackgroundOps;
  waitMs: number;
}

/** Completes pending hand-overs; returns how many it completed (those finished within `waitMs`, with ops). */
export async function completeAssignments(ctx: PoolContext, options?: AssignOptions): Promise<number> {
  let done = 0;
  const started: Array<Promise<void> | null> = [];
  let inFlight = options ? countAssigning(options.ops) : 0;
  const records = new HandOverRecords(ctx);
  for (const inst of await findPendingHandOvers(ctx.db)) {
    if (!options) {
      if (await handOver(ctx, inst, records)) done++;
      continue;
    }
    const key = `assign:${inst.id}`;
    if (options.ops.isRunning(key)) continue;
    // The rest wait for the next tick (an operation's end kicks one).
    if (inFlight >= HAND_OVERS_IN_FLIGHT) break;
    inFlight++;
    started.push(
      options.ops.start(key, async () => {
        if (await handOver(ctx, inst, records)) done++;
      }),
    );
  }
  if (options) await waitUpTo(started, options.waitMs);
  return done;
}

function countAssigning(ops: BackgroundOps): number {
  return ops.keys().filter((k) => k.startsWith("assign:")).length;
}

/** Hand-overs recorded in one transaction, at most this many (a longer one would hold the event loop and the claims up). */
export const HAND_OVER_RECORDS_PER_TRANSACTION = 32;

/**
 * Hand-overs that finish together (the local provider's all do, in the same turn of the event
 * loop) record `handed_over_to` in shared transactions: one commit for a batch instead of one
 * each, which was a third of the SQLite time a warm claim left behind. The provider has done
 * its part before its record is queued, so a crash still leaves at worst a hand-over done and
 * not recorded, which the next tick does again.
 */
class HandOverRecords {
  private queue: Array<{ inst: Instance; owner: string; resolve: (ok: boolean) => void; reject: (err: unknown) => void }> = [];
  private flushing = false;

  constructor(private readonly ctx: PoolContext) {}

  record(inst: Instance, owner: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ inst, owner, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, HAND_OVER_RECORDS_PER_TRANSACTION);
      try {
        const now = this.ctx.clock.now();
        const write = async (db: PoolContext["db"]) => {
          const out: boolean[] = [];
          for (const { inst, owner } of batch) {
            const { assignError: _, ...details } = inst.details;
            out.push(await updateInstance(db, inst.id, { handedOverTo: owner, details, updatedAt: now }, { states: ["running"], ownerId: owner }));
          }
          return out;
        };
        // One record is one statement, atomic by itself: a transaction around it would only add its begin and commit.
        const results = batch.length === 1 ? await write(this.ctx.db) : await this.ctx.db.transaction().execute(write);
        batch.forEach((w, k) => w.resolve(results[k]!));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
      // Claims waiting for the database go between two batches.
      if (this.queue.length) await new Promise((r) => setImmediate(r));
    }
    this.flushing = false;
  }
}

async function handOver(ctx: PoolContext, inst: Instance, records: HandOverRecords): Promise<boolean> {
  const owner = inst.ownerId!;
  const purpose = configuredPurpose(ctx, inst.purpose);
  if (!purpose) return false; // the retire step releases it
  try {
    await ctx.provider.assign(toRef(inst), owner, purpose);
    return await records.record(inst, owner);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ctx.log.warn({ event: "assign-retry", instanceId: inst.id, userId: owner, err: message }, "could not hand the instance over yet");
    await updateInstance(ctx.db, inst.id, { details: { ...inst.details, assignError: message }, updatedAt: ctx.clock.now() }, { ownerId: owner });
    return false;
  }
}

export const assignStep: LifecycleStep = {
  name: "assign",
  due: (t) => t.plan.assign,
  async run(t) {
    await completeAssignments(t.ctx, { ops: t.ops, waitMs: t.opWaitMs });
  },
};

/**
 * The order in which a purpose's queued jobs start: the user with the fewest jobs running
 * (counting the ones ahead of theirs in this order) goes first, then the oldest job. Pure, so
 * the scheduler and the queue position shown to users agree by construction.
 */
import type { Job } from "../store/jobs";

type Queued = Pick<Job, "id" | "ownerId" | "createdAt">;

/** `queued` in start order, given how many jobs each user has running now. */
export function fairOrder<J extends Queued>(queued: readonly J[], runningByUser: ReadonlyMap<string, number>): J[] {
  const running = new Map(runningByUser);
  const waiting = [...queued].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  const out: J[] = [];
  while (waiting.length) {
    let best = 0;
    for (let i = 1; i < waiting.length; i++) {
      const ri = running.get(waiting[i]!.ownerId) ?? 0;
      const rb = running.get(waiting[best]!.ownerId) ?? 0;
      // Oldest first among equals: `waiting` is sorted, so only a strictly smaller count wins.
      if (ri < rb) best = i;
    }
    const [next] = waiting.splice(best, 1);
    out.push(next!);
    running.set(next!.ownerId, (running.get(next!.ownerId) ?? 0) + 1);
  }
  return out;
}

/** Running counts per user from the jobs that hold capacity. */
export function countByUser(jobs: ReadonlyArray<Pick<Job, "ownerId">>): Map<string, number> {
  const m = new Map<string, number>();
  for (const j of jobs) m.set(j.ownerId, (m.get(j.ownerId) ?? 0) + 1);
  return m;
}

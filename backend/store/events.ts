/** The history: every launch, assignment, release, reap, loss and fix, with who, when and why. */
import type { Kysely } from "kysely";
import { prepare } from "./prepared";
import type { Selectable } from "kysely";
import type { Database, EventsTable } from "./schema";

export type EventKind =
  | "launch-requested"
  | "launched"
  | "launch-retry"
  | "launch-failed"
  | "running"
  | "assigned"
  | "released"
  | "reaped"
  | "expired"
  | "busy-extended"
  | "lost"
  | "interrupted"
  | "adopted"
  | "terminated"
  | "orphan-terminated"
  | "scaled-down"
  | "boot-timeout"
  | "resurfaced"
  | "interruption-warning"
  | "rebalance-recommendation"
  | "job-queued"
  | "job-starting"
  | "job-running"
  | "job-succeeded"
  | "job-failed"
  | "job-cancelled"
  | "keep-alive-set"
  | "keep-alive-ended";

export interface NewEvent {
  at: number;
  instanceId: string | null;
  userId: string | null;
  purpose: string | null;
  kind: EventKind;
  reason?: string | null;
  actor: string;
  details?: Record<string, unknown>;
}

export interface EventRow extends NewEvent {
  id: number;
}

const insertEvent = prepare(
  (db: Kysely<Database>, at: number, instanceId: string | null, userId: string | null, purpose: string | null, kind: string, reason: string | null, actor: string, details: string | null) =>
    db.insertInto("events").values({ at, instance_id: instanceId, user_id: userId, purpose, kind, reason, actor, details }),
);

export async function recordEvent(db: Kysely<Database>, e: NewEvent): Promise<void> {
  await insertEvent(db, e.at, e.instanceId, e.userId, e.purpose, e.kind, e.reason ?? null, e.actor, e.details ? JSON.stringify(e.details) : null);
}

export async function listEvents(
  db: Kysely<Database>,
  filter: { instanceId?: string; userId?: string; since?: number; until?: number; limit?: number } = {},
): Promise<EventRow[]> {
  let q = db.selectFrom("events").selectAll();
  if (filter.instanceId) q = q.where("instance_id", "=", filter.instanceId);
  if (filter.userId) q = q.where("user_id", "=", filter.userId);
  if (filter.since !== undefined) q = q.where("at", ">=", filter.since);
  if (filter.until !== undefined) q = q.where("at", "<", filter.until);
  const rows = await q.orderBy("at").orderBy("id").limit(filter.limit ?? 10_000).execute();
  return rows.map(eventFromRow);
}

/** One row of the events table as the pool reads it (details parsed, absent when empty). */
export function eventFromRow(r: Selectable<EventsTable>): EventRow {
  return {
    id: Number(r.id),
    at: Number(r.at),
    instanceId: r.instance_id,
    userId: r.user_id,
    purpose: r.purpose,
    kind: r.kind as EventKind,
    reason: r.reason,
    actor: r.actor,
    details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : undefined,
  };
}

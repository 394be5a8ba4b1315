/**
 * Read-only queries behind the admin views (GET /v1/admin/instances and /v1/admin/events, and
 * the CLI's `pool ls` and `events`): every live instance, one page of the history, and who
 * holds the lifecycle lease. Nothing here writes.
 */
import type { Kysely } from "kysely";
import { LIVE_STATES } from "../../contract";
import { eventFromRow } from "./events";
import type { Database } from "./schema";

type Db = Kysely<Database>;

export interface LiveInstanceRow {
  id: string;
  purpose: string;
  state: string;
  stateReason: string | null;
  ownerId: string | null;
  providerId: string | null;
  instanceType: string | null;
  market: string | null;
  hourlyPrice: number | null;
  launchedAt: number;
  runningAt: number | null;
  assignedAt: number | null;
  idleDeadline: number | null;
  updatedAt: number;
}

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export async function listLiveInstances(db: Db): Promise<LiveInstanceRow[]> {
  const rows = await db
    .selectFrom("instances")
    .select(["id", "purpose", "state", "state_reason", "owner_id", "provider_id", "instance_type", "market", "hourly_price", "launched_at", "running_at", "assigned_at", "idle_deadline", "updated_at"])
    .where("state", "in", LIVE_STATES)
    .orderBy("launched_at")
    .orderBy("id")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    purpose: r.purpose,
    state: r.state,
    stateReason: r.state_reason,
    ownerId: r.owner_id,
    providerId: r.provider_id,
    instanceType: r.instance_type,
    market: r.market,
    hourlyPrice: numOrNull(r.hourly_price),
    launchedAt: Number(r.launched_at),
    runningAt: numOrNull(r.running_at),
    assignedAt: numOrNull(r.assigned_at),
    idleDeadline: numOrNull(r.idle_deadline),
    updatedAt: Number(r.updated_at),
  }));
}

export interface EventQuery {
  userId?: string;
  instanceId?: string;
  kinds?: string[];
  /** Inclusive lower bound on `at`. */
  since?: number;
  /** Exclusive upper bound on `at`. */
  until?: number;
  /** Continue after this event id (in the order asked for). */
  afterId?: number;
  order: "asc" | "desc";
  limit: number;
}

export interface StoredEvent {
  id: number;
  at: number;
  instanceId: string | null;
  userId: string | null;
  purpose: string | null;
  kind: string;
  reason: string | null;
  actor: string;
  details: Record<string, unknown> | null;
}

/** One page of the history, in id order (the order events were written). */
export async function queryEvents(db: Db, q: EventQuery): Promise<StoredEvent[]> {
  let s = db.selectFrom("events").selectAll();
  if (q.userId !== undefined) s = s.where("user_id", "=", q.userId);
  if (q.instanceId !== undefined) s = s.where("instance_id", "=", q.instanceId);
  if (q.kinds?.length) s = s.where("kind", "in", q.kinds);
  if (q.since !== undefined) s = s.where("at", ">=", q.since);
  if (q.until !== undefined) s = s.where("at", "<", q.until);
  if (q.afterId !== undefined) s = s.where("id", q.order === "asc" ? ">" : "<", q.afterId);
  const rows = await s.orderBy("id", q.order).limit(q.limit).execute();
  // The admin API sends a missing details as null, where the pool's own reads leave it out.
  return rows.map((r) => {
    const e = eventFromRow(r);
    return { ...e, reason: e.reason ?? null, details: e.details ?? null };
  });
}

/** Who holds a lease and until when, if anyone does. */
export async function leaseHolder(db: Db, name: string): Promise<{ holder: string; expiresAt: number } | null> {
  const row = await db.selectFrom("leases").select(["holder", "expires_at"]).where("name", "=", name).executeTakeFirst();
  return row ? { holder: row.holder, expiresAt: Number(row.expires_at) } : null;
}

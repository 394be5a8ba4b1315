/** Keep-alive holds (issue #18): "keep this instance until this process ends, at most N hours", one per instance. */
import type { Kysely, Selectable } from "kysely";
import type { Database, KeepAliveHoldsTable } from "./schema";

type Db = Kysely<Database>;

export interface KeepAliveHold {
  instanceId: string;
  ownerId: string;
  pid: number;
  startedAt: number;
  untilAt: number;
  endedAt: number | null;
  endedReason: string | null;
  updatedAt: number;
}

function fromRow(r: Selectable<KeepAliveHoldsTable>): KeepAliveHold {
  return {
    instanceId: r.instance_id,
    ownerId: r.owner_id,
    pid: Number(r.pid),
    startedAt: Number(r.started_at),
    untilAt: Number(r.until_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    endedReason: r.ended_reason,
    updatedAt: Number(r.updated_at),
  };
}

/** Sets the instance's hold, replacing the one before (ended or not). */
export async function putHold(db: Db, h: KeepAliveHold): Promise<void> {
  const row = {
    instance_id: h.instanceId,
    owner_id: h.ownerId,
    pid: h.pid,
    started_at: h.startedAt,
    until_at: h.untilAt,
    ended_at: h.endedAt,
    ended_reason: h.endedReason,
    updated_at: h.updatedAt,
  };
  await db
    .insertInto("keep_alive_holds")
    .values(row)
    .onConflict((oc) => oc.column("instance_id").doUpdateSet({ owner_id: h.ownerId, pid: h.pid, started_at: h.startedAt, until_at: h.untilAt, ended_at: h.endedAt, ended_reason: h.endedReason, updated_at: h.updatedAt }))
    .execute();
}

export async function getHold(db: Db, instanceId: string): Promise<KeepAliveHold | null> {
  const r = await db.selectFrom("keep_alive_holds").selectAll().where("instance_id", "=", instanceId).executeTakeFirst();
  return r ? fromRow(r) : null;
}

export async function listActiveHolds(db: Db): Promise<KeepAliveHold[]> {
  const rows = await db.selectFrom("keep_alive_holds").selectAll().where("ended_at", "is", null).execute();
  return rows.map(fromRow);
}

/** Ends the hold if it is still the one that started at `startedAt` and has not ended; says whether it did. */
export async function endHold(db: Db, instanceId: string, startedAt: number, at: number, reason: string): Promise<boolean> {
  const res = await db
    .updateTable("keep_alive_holds")
    .set({ ended_at: at, ended_reason: reason, updated_at: at })
    .where("instance_id", "=", instanceId)
    .where("started_at", "=", startedAt)
    .where("ended_at", "is", null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows ?? 0) > 0;
}

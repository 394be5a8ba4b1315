/**
 * Reads what the ledger needs from the pool's history: instances whose billed time may overlap
 * a window (with the time the provider accepted each launch, from the `launched` events), the
 * users' home volumes (created at their first assignment of a purpose), and spot price changes.
 * Nothing here is cached: the database is the ledger's only source, so figures survive restarts.
 */
import { sql, type Kysely } from "kysely";
import type { PoolConfig } from "../config/schema";
import { SERVING_STATES } from "../../contract";
import type { PricedInstance, SpotPriceChange } from "../cost/prices";
import { MIN_BILLED_SECONDS, type InstanceHistory, type VolumeHistory, type Window } from "../cost/usage";
import type { Database } from "./schema";

type Db = Kysely<Database>;

export interface HistoryFilter {
  /** Only instances this user held. */
  ownerId?: string;
  purpose?: string;
}

const CHUNK = 500;

/** Instances whose billed span may overlap `window`, each with its billing start. */
export async function loadInstanceHistories(db: Db, window: Window, filter: HistoryFilter = {}): Promise<InstanceHistory[]> {
  let q = db
    .selectFrom("instances")
    .select(["id", "purpose", "last_owner_id", "assigned_at", "ended_at", "launched_at", "market", "instance_type", "availability_zone", "hourly_price"])
    .where("launched_at", "<", window.to)
    // An instance that ended just before the window may still be billed into it (60 s minimum).
    .where((eb) => eb.or([eb("ended_at", "is", null), eb("ended_at", ">=", window.from - MIN_BILLED_SECONDS * 1000)]));
  if (filter.ownerId !== undefined) q = q.where("last_owner_id", "=", filter.ownerId).where("assigned_at", "is not", null);
  if (filter.purpose !== undefined) q = q.where("purpose", "=", filter.purpose);
  const rows = await q.execute();
  const starts = await billingStarts(db, rows.map((r) => r.id));
  return rows.map((r) => ({
    id: r.id,
    purpose: r.purpose,
    ownerId: r.assigned_at === null ? null : r.last_owner_id,
    assignedAt: r.assigned_at === null ? null : Number(r.assigned_at),
    billStart: starts.get(r.id) ?? null,
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    market: r.market,
    instanceType: r.instance_type,
    availabilityZone: r.availability_zone,
    hourlyPrice: r.hourly_price === null ? null : Number(r.hourly_price),
  }));
}

/**
 * When billing started for each instance: its first `launched` event (the provider accepted the
 * launch), or its `adopted` event's launch time for instances the reconciler took in.
 */
async function billingStarts(db: Db, ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const rows = await db
      .selectFrom("events")
      .select(["instance_id", "kind"])
      .select((eb) => eb.fn.min("at").as("at"))
      .where("instance_id", "in", chunk)
      // `kind || ''` keeps SQLite off events_kind_at: without statistics it would walk every
      // launch ever recorded once per chunk (38 ms a chunk after four weeks of 1,000 people)
      // instead of probing events_instance for the chunk's ids (PostgreSQL plans it either way).
      .where(sql<string>`${sql.ref("kind")} || ''`, "in", ["launched", "adopted"])
      .groupBy(["instance_id", "kind"])
      .execute();
    const adopted = new Set<string>();
    for (const r of rows) {
      if (r.kind === "adopted") adopted.add(r.instance_id!);
      else out.set(r.instance_id!, Number(r.at));
    }
    if (adopted.size > 0) {
      const launched = await db.selectFrom("instances").select(["id", "launched_at"]).where("id", "in", [...adopted]).execute();
      for (const r of launched) if (!out.has(r.id)) out.set(r.id, Number(r.launched_at));
    }
  }
  return out;
}

/** Home volumes: one per user and purpose with an EBS home volume, from the first assignment on. */
export async function loadVolumes(db: Db, config: Pick<PoolConfig, "purposes">, before: number, filter: HistoryFilter = {}): Promise<VolumeHistory[]> {
  const sizes = new Map(config.purposes.filter((p) => p.ec2).map((p) => [p.name, p.ec2!.homeVolumeGiB]));
  if (sizes.size === 0) return [];
  let q = db
    .selectFrom("events")
    .select(["user_id", "purpose"])
    .select((eb) => eb.fn.min("at").as("at"))
    .where("kind", "=", "assigned")
    .where("user_id", "is not", null)
    .where("purpose", "in", [...sizes.keys()])
    .where("at", "<", before);
  if (filter.ownerId !== undefined) q = q.where("user_id", "=", filter.ownerId);
  if (filter.purpose !== undefined) q = q.where("purpose", "=", filter.purpose);
  const rows = await q.groupBy(["user_id", "purpose"]).execute();
  return rows.map((r) => ({ userId: r.user_id!, purpose: r.purpose!, sizeGiB: sizes.get(r.purpose!)!, createdAt: Number(r.at) }));
}

/** Records observed spot prices (the EC2 provider's price look-ups); repeating a row is harmless. */
export async function recordSpotPrices(db: Db, changes: SpotPriceChange[]): Promise<void> {
  for (const c of changes) {
    await db
      .insertInto("spot_prices")
      .values({ instance_type: c.instanceType, availability_zone: c.availabilityZone, at: c.at, hourly_price: c.hourlyPrice })
      .onConflict((oc) => oc.columns(["instance_type", "availability_zone", "at"]).doUpdateSet({ hourly_price: c.hourlyPrice }))
      .execute();
  }
}

/** Spot price changes that can matter before `before` (all of them: the table is small). */
export async function loadSpotPrices(db: Db, before: number): Promise<SpotPriceChange[]> {
  const rows = await db.selectFrom("spot_prices").selectAll().where("at", "<", before).orderBy("at").execute();
  return rows.map((r) => ({ instanceType: r.instance_type, availabilityZone: r.availability_zone, at: Number(r.at), hourlyPrice: Number(r.hourly_price) }));
}

/** The instances a user holds now, with what pricing them needs (the rate in /v1/costs). */
export async function listHeldPriced(db: Db, userId: string): Promise<Array<PricedInstance & { id: string; purpose: string }>> {
  const rows = await db
    .selectFrom("instances")
    .select(["id", "purpose", "market", "instance_type", "availability_zone", "hourly_price", "launched_at"])
    .where("owner_id", "=", userId)
    .where("state", "in", SERVING_STATES)
    .orderBy("launched_at")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    purpose: r.purpose,
    market: r.market,
    instanceType: r.instance_type,
    availabilityZone: r.availability_zone,
    hourlyPrice: r.hourly_price === null ? null : Number(r.hourly_price),
    billStart: Number(r.launched_at),
  }));
}

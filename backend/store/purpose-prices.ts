/** The configured price of each purpose over time (see migration 20261201_0004_purpose_prices). */
import type { Kysely } from "kysely";
import type { Database } from "./schema";

type Db = Kysely<Database>;

export interface PurposePriceChange {
  purpose: string;
  at: number;
  /** Null: no configured price from `at` on. */
  hourlyPrice: number | null;
}

/**
 * Records the prices the configuration sets now, for each purpose whose price differs from the
 * last one recorded (a purpose never priced and still unpriced records nothing).
 */
export async function recordConfiguredPrices(db: Db, prices: Array<{ purpose: string; hourlyPrice: number | null }>, now: number): Promise<PurposePriceChange[]> {
  const recorded: PurposePriceChange[] = [];
  for (const { purpose, hourlyPrice } of prices) {
    const last = await db.selectFrom("purpose_prices").select(["hourly_price"]).where("purpose", "=", purpose).orderBy("at", "desc").limit(1).executeTakeFirst();
    const lastPrice = last === undefined ? undefined : last.hourly_price === null ? null : Number(last.hourly_price);
    if (lastPrice === hourlyPrice || (lastPrice === undefined && hourlyPrice === null)) continue;
    await db.insertInto("purpose_prices").values({ purpose, at: now, hourly_price: hourlyPrice }).onConflict((oc) => oc.columns(["purpose", "at"]).doUpdateSet({ hourly_price: hourlyPrice })).execute();
    recorded.push({ purpose, at: now, hourlyPrice });
  }
  return recorded;
}

export async function loadPurposePrices(db: Db, before: number): Promise<PurposePriceChange[]> {
  const rows = await db.selectFrom("purpose_prices").selectAll().where("at", "<", before).orderBy("at").execute();
  return rows.map((r) => ({ purpose: r.purpose, at: Number(r.at), hourlyPrice: r.hourly_price === null ? null : Number(r.hourly_price) }));
}

/** Reads and writes the adaptive warm pool's calibration rows (see the 0004 migration). */
import type { Kysely } from "kysely";
import type { Database } from "./schema";

export interface CalibrationRow {
  purpose: string;
  hourOfWeek: number;
  boost: number;
  appliedHour: number;
}

export async function loadCalibration(db: Kysely<Database>): Promise<CalibrationRow[]> {
  const rows = await db.selectFrom("warm_calibration").select(["purpose", "hour_of_week", "boost", "applied_hour"]).execute();
  return rows.map((r) => ({ purpose: r.purpose, hourOfWeek: Number(r.hour_of_week), boost: Number(r.boost), appliedHour: Number(r.applied_hour) }));
}

/** Upserts the changed cells in one transaction. */
export async function saveCalibration(db: Kysely<Database>, rows: CalibrationRow[], now: number): Promise<void> {
  if (rows.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (const r of rows) {
      const values = { purpose: r.purpose, hour_of_week: r.hourOfWeek, boost: r.boost, applied_hour: r.appliedHour, updated_at: now };
      await trx
        .insertInto("warm_calibration")
        .values(values)
        .onConflict((oc) => oc.columns(["purpose", "hour_of_week"]).doUpdateSet({ boost: r.boost, applied_hour: r.appliedHour, updated_at: now }))
        .execute();
    }
  });
}

/** Aggregate counts for metrics. */
import type { Kysely } from "kysely";
import { LIVE_STATES } from "../../contract";
import type { Database } from "./schema";

export interface StateCount {
  purpose: string;
  state: string;
  assigned: boolean;
  count: number;
}

export async function countsByState(db: Kysely<Database>): Promise<StateCount[]> {
  const rows = await db
    .selectFrom("instances")
    .select(["purpose", "state"])
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .select((eb) => eb.case().when("owner_id", "is", null).then(0).else(1).end().as("assigned"))
    .where("state", "in", LIVE_STATES)
    .groupBy(["purpose", "state", "assigned"])
    .execute();
  return rows.map((r) => ({ purpose: r.purpose, state: r.state, assigned: Number(r.assigned) === 1, count: Number(r.n) }));
}

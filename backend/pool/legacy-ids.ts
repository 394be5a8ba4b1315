/**
 * The old service answered and accepted EC2 instance ids (i-...). The old protocol's commands
 * that take an instanceId accept either the pool's id or the EC2 id of the instance; a pool id
 * wins when both could match.
 */
import type { Kysely } from "kysely";
import type { Database } from "../store/schema";
import { getInstance, listByIds, type Instance } from "../store/instances";

const EC2_ID = /^i-[0-9a-f]{8,17}$/;

export async function findByLegacyId(db: Kysely<Database>, id: string): Promise<Instance | null> {
  const own = await getInstance(db, id);
  if (own || !EC2_ID.test(id)) return own;
  const byProvider = await listByIds(db, [], [id]);
  return byProvider.sort((a, b) => b.launchedAt - a.launchedAt)[0] ?? null;
}

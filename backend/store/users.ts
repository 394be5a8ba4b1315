/** Users and their API tokens. Tokens are stored as SHA-256 hashes only. */
import { createHash, randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { prepare } from "./prepared";
import type { Database } from "./schema";

export interface UserRow {
  id: string;
  isAdmin: boolean;
  createdAt: number;
  revokedAt: number | null;
  activeTokens: number;
}

/** Tokens are 32 random bytes: a fast hash is enough, a slow KDF would only cost latency. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export function newToken(): string {
  return `rsp_${randomBytes(32).toString("base64url")}`;
}

export async function findUser(db: Kysely<Database>, id: string) {
  return db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function insertUser(db: Kysely<Database>, id: string, isAdmin: boolean, now: number): Promise<void> {
  await db.insertInto("users").values({ id, is_admin: isAdmin ? 1 : 0, created_at: now, revoked_at: null }).execute();
}

export async function reactivateUser(db: Kysely<Database>, id: string): Promise<void> {
  await db.updateTable("users").set({ revoked_at: null }).where("id", "=", id).execute();
}

export async function insertToken(db: Kysely<Database>, userId: string, tokenHash: string, now: number): Promise<void> {
  await db
    .insertInto("api_tokens")
    .values({ token_hash: tokenHash, user_id: userId, created_at: now, revoked_at: null, last_used_at: null })
    .execute();
}

export async function listUsers(db: Kysely<Database>): Promise<UserRow[]> {
  const rows = await db
    .selectFrom("users")
    .leftJoin("api_tokens", (j) => j.onRef("api_tokens.user_id", "=", "users.id").on("api_tokens.revoked_at", "is", null))
    .select(({ fn }) => [
      "users.id",
      "users.is_admin",
      "users.created_at",
      "users.revoked_at",
      fn.count<number>("api_tokens.token_hash").as("tokens"),
    ])
    .groupBy(["users.id", "users.is_admin", "users.created_at", "users.revoked_at"])
    .orderBy("users.id")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    isAdmin: Number(r.is_admin) === 1,
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    activeTokens: Number(r.tokens),
  }));
}

export async function revokeUser(db: Kysely<Database>, id: string, now: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await trx.updateTable("users").set({ revoked_at: now }).where("id", "=", id).execute();
    const res = await trx
      .updateTable("api_tokens")
      .set({ revoked_at: now })
      .where("user_id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  });
}

export interface TokenOwner {
  userId: string;
  isAdmin: boolean;
}

// Prepared: every uncached token lookup (a heartbeat's, a claim's) runs it, and Kysely would compile it anew each time.
const tokenOwner = prepare((db: Kysely<Database>, tokenHash: string) =>
  db
    .selectFrom("api_tokens")
    .innerJoin("users", "users.id", "api_tokens.user_id")
    .select(["users.id as id", "users.is_admin as is_admin"])
    .where("api_tokens.token_hash", "=", tokenHash)
    .where("api_tokens.revoked_at", "is", null)
    .where("users.revoked_at", "is", null),
);

export async function userForTokenHash(db: Kysely<Database>, tokenHash: string): Promise<TokenOwner | null> {
  const [row] = (await tokenOwner(db, tokenHash)).rows;
  return row ? { userId: row.id, isAdmin: Number(row.is_admin) === 1 } : null;
}

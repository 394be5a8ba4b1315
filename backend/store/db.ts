/**
 * The one place that picks the SQL dialect: SQLite (a WAL file in the data directory, the
 * embedded default) or PostgreSQL when POOL_DATABASE_URL is a postgres:// URL.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import type { Database } from "./schema";

export type Dialect = "sqlite" | "postgres";

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Human-readable location, without credentials. */
  location: string;
  close(): Promise<void>;
}

// int8 (bigint) columns hold millisecond timestamps, well inside Number's exact range.
pg.types.setTypeParser(20, (v) => Number(v));
// numeric / float8 prices come back as numbers too.
pg.types.setTypeParser(1700, (v) => Number(v));

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+)(:[^@/]*)?@/, "//$1:***@");
}

export function openStore(options: { databaseUrl: string | null; dataDir: string; poolSize?: number }): Store {
  const url = options.databaseUrl;
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle connection the server drops (restart, failover) is replaced on next use; without a
    // listener the pool's 'error' event would crash the process.
    pool.on("error", () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: "postgres", location: redactUrl(url), close: () => db.destroy() };
  }
  let file: string;
  if (url && url.startsWith("sqlite:")) {
    file = url.slice("sqlite:".length);
  } else {
    mkdirSync(options.dataDir, { recursive: true });
    file = path.join(options.dataDir, "pool.db");
  }
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: "sqlite", location: file, close: () => db.destroy() };
}

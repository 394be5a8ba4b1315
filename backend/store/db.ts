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
  /** Statements sent to the database so far (the metrics and the benchmark read it). */
  statements?: StatementCounts;
  close(): Promise<void>;
}

/** Statements sent, by kind: a counter the driver bumps, read at scrape time (no cost per query beyond that). */
export interface StatementCounts {
  /** SELECTs. */
  reads: number;
  /** INSERT, UPDATE, DELETE (and anything else that is not a read or a transaction's control). */
  writes: number;
  /** BEGIN, COMMIT, ROLLBACK, SAVEPOINT. */
  transactions: number;
}

export function countStatement(counts: StatementCounts, sql: string): void {
  // The first word decides; Kysely writes SQL keywords in lower case, tests and migrations may not.
  const c = sql.charCodeAt(0) | 0x20;
  if (c === 0x73 /* s */ && /^select/i.test(sql)) counts.reads++;
  else if ((c === 0x62 || c === 0x63 || c === 0x72 || c === 0x73) && /^(begin|commit|rollback|savepoint|release)/i.test(sql)) counts.transactions++;
  else counts.writes++;
}

// int8 (bigint) columns hold millisecond timestamps, well inside Number's exact range.
pg.types.setTypeParser(20, (v) => Number(v));
// numeric / float8 prices come back as numbers too.
pg.types.setTypeParser(1700, (v) => Number(v));

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+)(:[^@/]*)?@/, "//$1:***@");
}

/**
 * Kysely prepares every query anew, and preparing costs more than running the lifecycle's small
 * queries; the loop repeats the same few SQL texts, so prepared statements are kept by text
 * (better-sqlite3 statements are reusable; the driver never streams, so none is busy twice).
 */
function withStatementCache(sqlite: SqliteDatabase.Database, counts: StatementCounts, max = 500) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    // Kysely's SQLite driver prepares each statement it runs (transactions' control included).
    prepare(sql: string) {
      countStatement(counts, sql);
      let st = cache.get(sql);
      if (!st) {
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        st = sqlite.prepare(sql);
        cache.set(sql, st);
      }
      return st;
    },
  };
}

export function openStore(options: { databaseUrl: string | null; dataDir: string; poolSize?: number }): Store {
  const url = options.databaseUrl;
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle connection the server drops (restart, failover) is replaced on next use; without a
    // listener the pool's 'error' event would crash the process.
    pool.on("error", () => undefined);
    const statements: StatementCounts = { reads: 0, writes: 0, transactions: 0 };
    pool.on("connect", (client) => countQueries(client, statements));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: "postgres", location: redactUrl(url), statements, close: () => db.destroy() };
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
  // A checkpoint blocks the event loop (two fsyncs): at the default 1,000 pages one ran every
  // ~80 warm claims and held 10-17 ms each, the claims' p99. At 10,000 pages (a WAL file of up
  // to ~40 MB) one runs every ~800 claims, and copies a page rewritten many times only once.
  sqlite.pragma("wal_autocheckpoint = 10000");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  const statements: StatementCounts = { reads: 0, writes: 0, transactions: 0 };
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite, statements) }) });
  return { db, dialect: "sqlite", location: file, statements, close: () => db.destroy() };
}

/** Counts what a pooled client sends (Kysely's PostgreSQL driver runs everything through `query`). */
function countQueries(client: pg.PoolClient, counts: StatementCounts): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0];
    countStatement(counts, typeof first === "string" ? first : ((first as { text?: string } | null)?.text ?? ""));
    return query(...args);
  };
}

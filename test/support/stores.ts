/**
 * Real databases for tests: a SQLite file in a temp dir, and a PostgreSQL database on the local
 * server (started here if it is installed but not running). Each test gets a fresh database.
 * When PostgreSQL is missing the PostgreSQL variants are skipped loudly, or fail when
 * PG_REQUIRED=1 (CI sets it).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import pg from "pg";
import { openStore, type Store } from "../../backend/store/db";
import { migrateToLatest } from "../../backend/store/migrate";
import { tempDir } from "./builders";

export type StoreKind = "sqlite" | "postgres";

let pgBaseUrl: string | null | undefined;
let pgProblem = "";

function tryStartLocalPostgres(): string | null {
  if (process.env.POOL_TEST_PG_URL) return process.env.POOL_TEST_PG_URL;
  const ls = spawnSync("pg_lsclusters", ["--no-header"], { encoding: "utf8" });
  if (ls.status !== 0) {
    pgProblem = "PostgreSQL is not installed (no pg_lsclusters); install it with `apt-get install postgresql` or set POOL_TEST_PG_URL";
    return null;
  }
  const line = ls.stdout.split("\n").find((l) => l.trim());
  if (!line) {
    pgProblem = "PostgreSQL is installed but has no cluster";
    return null;
  }
  const [version, cluster, port, status] = line.trim().split(/\s+/);
  if (status !== "online") {
    const start = spawnSync("pg_ctlcluster", [version!, cluster!, "start"], { encoding: "utf8" });
    if (start.status !== 0) {
      pgProblem = `could not start PostgreSQL ${version}/${cluster}: ${start.stderr.trim()}`;
      return null;
    }
  }
  try {
    execFileSync(
      "su",
      ["postgres", "-c", `psql -p ${port} -v ON_ERROR_STOP=1 -tAc "DO \\$\\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='pool') THEN CREATE ROLE pool LOGIN PASSWORD 'pool' SUPERUSER; END IF; END\\$\\$;"`],
      { stdio: "pipe" },
    );
  } catch (err) {
    pgProblem = `could not create the test role: ${(err as Error).message}`;
    return null;
  }
  return `postgres://pool:pool@127.0.0.1:${port}/postgres`;
}

export function postgresBaseUrl(): string | null {
  if (pgBaseUrl === undefined) pgBaseUrl = tryStartLocalPostgres();
  return pgBaseUrl;
}

/** The `skip` option for a PostgreSQL test: false when it can run, a loud reason otherwise. */
export function postgresSkip(): string | false {
  if (postgresBaseUrl()) return false;
  const reason = `PostgreSQL tests SKIPPED: ${pgProblem}`;
  if (process.env.PG_REQUIRED === "1") throw new Error(`${reason} (PG_REQUIRED=1)`);
  process.stderr.write(`\n!!! ${reason}\n\n`);
  return reason;
}

export const STORE_KINDS: StoreKind[] = ["sqlite", "postgres"];

export function skipFor(kind: StoreKind): string | false {
  return kind === "postgres" ? postgresSkip() : false;
}

export interface TestStore {
  store: Store;
  dataDir: string;
  databaseUrl: string | null;
  /** Opens another connection to the same database (a "restarted" backend or a second replica). */
  reopen(): Store;
  cleanup(): Promise<void>;
}

/** Opens the first connection, migrates, and keeps every reopened connection for cleanup. */
async function tracked(open: () => Store, dataDir: string, databaseUrl: string, dropDatabase: () => Promise<void>, migrate: Migrate): Promise<TestStore> {
  const store = open();
  await migrate(store);
  const all: Store[] = [store];
  return {
    store,
    dataDir,
    databaseUrl,
    reopen: () => {
      const s = open();
      all.push(s);
      return s;
    },
    cleanup: async () => {
      for (const s of all) await s.close().catch(() => undefined);
      await dropDatabase();
    },
  };
}

type Migrate = (store: Store) => Promise<unknown>;

/** A new, empty database of that kind, migrated to the latest schema unless `migrate` says otherwise. */
export async function createTestStore(kind: StoreKind, migrate: Migrate = migrateToLatest): Promise<TestStore> {
  const dataDir = tempDir("pool-store-");
  if (kind === "sqlite") {
    return tracked(() => openStore({ databaseUrl: null, dataDir }), dataDir, `sqlite:${path.join(dataDir, "pool.db")}`, async () => undefined, migrate);
  }
  const base = postgresBaseUrl();
  if (!base) throw new Error(`PostgreSQL unavailable: ${pgProblem}`);
  const name = `pooltest_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = base.replace(/\/[^/]*$/, `/${name}`);
  return tracked(() => openStore({ databaseUrl: url, dataDir, poolSize: 20 }), dataDir, url, async () => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  }, migrate);
}

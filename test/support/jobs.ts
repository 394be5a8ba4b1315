/**
 * A backend for job tests: a Pool (the real local provider, or the instant one with the real
 * local job runner over temp homes), its HTTP app on a loopback port, and users with tokens.
 * `rSkip` is the R requirement: skipped loudly without Rscript, failed under R_REQUIRED=1 or CI=true.
 */
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { createApp } from "../../backend/api/app";
import type { PoolConfig, PurposeConfig } from "../../backend/config/schema";
import { LedgerCostService } from "../../backend/cost/service";
import { fixedJobRunners } from "../../backend/jobs/runners";
import { LocalJobRunner } from "../../backend/jobs/runners/local";
import { silentLogger } from "../../backend/log";
import { Pool } from "../../backend/pool/service";
import { LocalProvider } from "../../backend/providers/local/provider";
import type { Provider } from "../../backend/providers/types";
import type { Clock, PoolPolicies } from "../../backend/pool/context";
import type { JobRunners } from "../../backend/jobs/runners";
import type { Store } from "../../backend/store/db";
import { hashToken, insertToken, insertUser, newToken } from "../../backend/store/users";
import { aConfig, aPurpose } from "./builders";
import { ensureBuilt, ROOT } from "./cli";
import { InstantProvider } from "./instant-provider";
import { untilWithin } from "./until";

let rProblem: string | null | undefined;

/** The `skip` option of a test that runs real R. */
export function rSkip(): string | false {
  if (rProblem === undefined) {
    const r = spawnSync("Rscript", ["--version"], { encoding: "utf8" });
    rProblem = r.status === 0 ? null : "Rscript is not installed (apt-get install r-base-core)";
  }
  if (!rProblem) return false;
  const reason = `R job tests SKIPPED: ${rProblem}`;
  if (process.env.R_REQUIRED === "1" || process.env.CI === "true") throw new Error(`${reason} (R_REQUIRED=1 or CI=true)`);
  process.stderr.write(`\n!!! ${reason}\n\n`);
  return reason;
}

export interface JobsBackend {
  pool: Pool;
  provider: Provider;
  url: string;
  config: PoolConfig;
  /** The home of an instance (where its jobs run). */
  homeOf(instanceId: string): string;
  as(user: string): Record<string, string>;
  api(method: string, urlPath: string, user: string, body?: unknown): Promise<{ status: number; body: any; text: string }>;
  close(): Promise<void>;
}

const tokens = new Map<string, string>();

/** Users and their tokens, once per database. */
export async function addUsers(store: Store, users: string[]): Promise<void> {
  for (const u of users) {
    const token = tokens.get(u) ?? newToken();
    tokens.set(u, token);
    try {
      await insertUser(store.db, u, false, Date.now());
    } catch {
      continue; // already there (a reopened store)
    }
    await insertToken(store.db, u, hashToken(token), Date.now());
  }
}

export interface BackendOptions {
  store: Store;
  dataDir: string;
  purposes?: PurposeConfig[];
  /** "local": the real local provider (placeholder instances); "instant": in-memory instances with the real job runner. */
  provider?: "local" | "instant";
  config?: Partial<PoolConfig>;
  policies?: PoolPolicies;
  /** Start the lifecycle and jobs loops at once (default); false: the test calls pool.start() or drives rounds. */
  start?: boolean;
  clock?: Clock;
  /** Job runners instead of the default ones. */
  runners?: JobRunners;
}

export async function startJobsBackend(o: BackendOptions): Promise<JobsBackend> {
  const purposes = o.purposes ?? [aPurpose({ max: 2, hourlyPrice: 1.2, idleTimeoutSeconds: 600 })];
  const config = aConfig({ dataDir: o.dataDir, purposes, tickMs: 150, reconcileMs: 2000, local: { runtime: "placeholder", command: null }, ...o.config });
  let provider: Provider;
  let homeOf: (id: string) => string;
  let runners: JobRunners | undefined;
  if ((o.provider ?? "local") === "local") {
    ensureBuilt();
    const local = new LocalProvider({ dataDir: o.dataDir, runtime: "placeholder", command: null, codeDir: path.join(ROOT, "dist", "backend"), cwd: ROOT });
    provider = local;
    homeOf = (id) => local.homeDir(id);
  } else {
    provider = new InstantProvider();
    homeOf = (id) => path.join(o.dataDir, "homes", id);
    const runner = new LocalJobRunner({ dataDir: o.dataDir, homeOf });
    runners = fixedJobRunners(runner, runner);
  }
  if (o.runners) runners = o.runners;
  const pool = new Pool({ config, store: o.store, provider, jobRunners: runners, jobsPeriodMs: 150, policies: o.policies, clock: o.clock });
  await pool.prepare();
  const server: Server = createServer(createApp({ pool, costs: new LedgerCostService(o.store.db, config, pool.ctx.clock), log: silentLogger(), version: "test" }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (o.start !== false) pool.start();
  const as = (user: string) => ({ authorization: `Bearer ${tokens.get(user)}`, "content-type": "application/json" });
  return {
    pool,
    provider,
    url,
    config,
    homeOf,
    as,
    async api(method, urlPath, user, body) {
      const res = await fetch(`${url}${urlPath}`, { method, headers: as(user), body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, text };
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await pool.stop();
    },
  };
}

export const until = untilWithin(60_000);

/** Waits until the job is in a final state and returns its view. */
export async function jobEnded(b: JobsBackend, user: string, jobId: string, timeoutMs = 90_000): Promise<any> {
  return until(`job ${jobId} to end`, async () => {
    const r = await b.api("GET", `/v1/jobs/${jobId}`, user);
    return ["succeeded", "failed", "cancelled"].includes(r.body?.state) ? r.body : null;
  }, timeoutMs);
}

/** Kills what job processes a test left (they outlive the backend by design). */
export function killJobProcesses(dataDir: string): void {
  const r = spawnSync("sh", ["-c", `for f in "${dataDir}"/local-jobs/*/process.json; do [ -f "$f" ] && sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p' "$f"; done`], { encoding: "utf8" });
  for (const pid of r.stdout.split("\n").filter(Boolean).map(Number)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

/** A jobs test's teardown: the backend closed, the job processes it left killed, the store removed. */
export async function closeJobsTest(b: JobsBackend | null, ts: { dataDir: string; cleanup(): Promise<void> } | null): Promise<void> {
  await b?.close();
  if (!ts) return;
  killJobProcesses(ts.dataDir);
  await ts.cleanup();
}

/**
 * Service benchmark: warm-claim latency and throughput, and heartbeat throughput, through the
 * real HTTP API on loopback, on SQLite and PostgreSQL, with a provider that boots instantly so
 * only the service itself is measured. Prints JSON lines and a Markdown table.
 *   node --import tsx bench/service.ts [--claims 2000] [--concurrency 16] [--heartbeat-seconds 5]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { createApp } from "../backend/api/app";
import { silentLogger } from "../backend/log";
import { createCostPolicies } from "../backend/cost/policies";
import { LedgerCostService } from "../backend/cost/service";
import { createMetrics } from "../backend/pool/metrics";
import { Pool } from "../backend/pool/service";
import { hashToken, insertToken, insertUser } from "../backend/store/users";
import { aConfig, aPurpose } from "../test/support/builders";
import { InstantProvider } from "../test/support/instant-provider";
import { createTestStore, postgresBaseUrl, type StoreKind } from "../test/support/stores";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const CLAIMS = arg("claims", 2000);
const CONCURRENCY = arg("concurrency", 16);
const HEARTBEAT_SECONDS = arg("heartbeat-seconds", 5);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface LoadResult {
  claimLatencies: number[];
  claimSeconds: number;
  hbLatencies: number[];
  hbSeconds: number;
}

export interface ServiceResult {
  store: StoreKind;
  claims: number;
  concurrency: number;
  claimP50Ms: number;
  claimP99Ms: number;
  claimsPerSecond: number;
  heartbeatsPerSecond: number;
  heartbeatP99Ms: number;
}

async function benchStore(kind: StoreKind): Promise<ServiceResult> {
  const ts = await createTestStore(kind);
  const config = aConfig({ dataDir: ts.dataDir, purposes: [aPurpose({ minFree: CLAIMS, max: CLAIMS * 2 })], tickMs: 60_000 });
  // The same policies and metrics as `rstudio-pool serve`.
  const pool = new Pool({ config, store: ts.store, provider: new InstantProvider(), policies: createCostPolicies(ts.store.db, config), metrics: createMetrics({ defaultMetrics: true }) });
  await pool.prepare();
  // Fill the warm pool: every claim below finds a free running instance.
  for (let i = 0; i < 4; i++) {
    await pool.loop.tick();
    await pool.loop.launcher.settle();
  }
  const tokens: string[] = [];
  for (let i = 0; i < CLAIMS; i++) {
    const user = `bench-${i}`;
    await insertUser(ts.store.db, user, false, Date.now());
    const token = `rsp_bench_${i}_${"x".repeat(30)}`;
    await insertToken(ts.store.db, user, hashToken(token), Date.now());
    tokens.push(token);
  }
  const app = createApp({ pool, costs: new LedgerCostService(pool.db, pool.config, pool.ctx.clock), log: silentLogger() });
  const server = createServer(app).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const worker = new Worker(path.join(__dirname, "load-worker.mjs"), {
    workerData: { base, tokens, concurrency: CONCURRENCY, heartbeatSeconds: HEARTBEAT_SECONDS },
  });
  const r = await new Promise<LoadResult>((resolve, reject) => {
    worker.once("message", (m: LoadResult & { ok: boolean; error?: string }) => (m.ok ? resolve(m) : reject(new Error(m.error))));
    worker.once("error", reject);
  });
  await worker.terminate();
  const latencies = r.claimLatencies.sort((a, b) => a - b);
  const hbLatencies = r.hbLatencies.sort((a, b) => a - b);
  const claimSeconds = r.claimSeconds;
  const hbSeconds = r.hbSeconds;
  const heartbeats = hbLatencies.length;
  server.close();
  await ts.cleanup();
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    store: kind,
    claims: CLAIMS,
    concurrency: CONCURRENCY,
    claimP50Ms: round(percentile(latencies, 50)),
    claimP99Ms: round(percentile(latencies, 99)),
    claimsPerSecond: Math.round(CLAIMS / claimSeconds),
    heartbeatsPerSecond: Math.round(heartbeats / hbSeconds),
    heartbeatP99Ms: round(percentile(hbLatencies, 99)),
  };
}

export async function benchService(): Promise<ServiceResult[]> {
  const only = process.argv.includes("--sqlite-only");
  const kinds: StoreKind[] = !only && postgresBaseUrl() ? ["sqlite", "postgres"] : ["sqlite"];
  if (kinds.length === 1 && !only) process.stderr.write("!!! PostgreSQL not available: benchmarking SQLite only\n");
  const results: ServiceResult[] = [];
  for (const kind of kinds) results.push(await benchStore(kind));
  return results;
}

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return `${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

if (require.main === module) {
  void benchService().then((r) => {
    console.log(JSON.stringify({ machine: machineLine(), date: new Date().toISOString(), results: r }, null, 2));
  });
}

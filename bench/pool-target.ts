/**
 * Our side of the benchmark: the real `rstudio-pool serve` (the built dist/backend/cli.js) in
 * a process of its own, on a fresh SQLite file or PostgreSQL database, with the local provider
 * starting one tiny web server per spare (bench/instance-server.c), its logger at `info`
 * writing to a file. Users and tokens are written to the store before the server starts.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../backend/net/free-port";
import { openStore, type Store } from "../backend/store/db";
import { migrateToLatest } from "../backend/store/migrate";
import { countsByState } from "../backend/store/stats";
import { hashToken } from "../backend/store/users";
import { postgresBaseUrl, type StoreKind } from "../test/support/stores";
import { adminQuery, sleep, tail } from "./helpers";
import { memoryMb, pinned, type LoadItem } from "./machine";
import type { Target } from "./rounds";
import { round } from "./stats";

const ROOT = path.resolve(__dirname, "..");
const PURPOSE = "rstudio";
/** The node flags every launcher of `serve` uses (npm start, bin/rstudio-pool.js, the container): see docs/claims.md. */
const SERVE_NODE_FLAGS = ["--max-semi-space-size=2"];

/** Compiles the instance server once per run (it needs a C compiler, which every build machine here has). */
export function buildInstanceServer(dir: string): string {
  const out = path.join(dir, "instance-server");
  try {
    execFileSync("cc", ["-O2", "-o", out, path.join(__dirname, "instance-server.c")], { stdio: "pipe" });
  } catch (err) {
    throw new Error(`could not compile bench/instance-server.c with cc (apt-get install gcc): ${(err as Error).message}`);
  }
  return out;
}

export interface PoolTargetOptions {
  store: StoreKind;
  users: number;
  coldTokens: number;
  cpus: string | null;
  instanceServer: string;
  /** Write a V8 CPU profile of the server here (node --cpu-prof). */
  cpuProfileDir?: string | null;
  /**
   * Another built checkout to run instead of this one (`--baseline DIR`): its own
   * dist/backend/cli.js serves, and its own `migrate` makes the schema (an older build refuses
   * a database migrated past what it knows).
   */
  root?: string;
}

/** Where the time of a refill went, in seconds after the first release. */
export interface RefillFigures {
  refillSeconds: number;
  releaseSeconds: number;
  lastTerminatedS: number;
  firstLaunchRequestedS: number;
  lastLaunchedS: number;
  lastRunningS: number;
  meanLaunchMs: number;
  meanReadyMs: number;
}

export class PoolTarget implements Target {
  readonly label: string;
  base = "";
  readonly users: number;
  readonly claimExpect = [201];
  readonly heartbeatExpect = [200];
  readonly releaseExpect = [200];
  private server: ChildProcess | null = null;
  private store: Store | null = null;
  private dropDatabase: () => Promise<void> = async () => undefined;
  private readonly dir: string;
  private readonly tokens: string[] = [];
  private readonly coldTokens: string[][] = [];
  private databaseUrl: string | null = null;

  constructor(private readonly o: PoolTargetOptions) {
    this.label = o.store === "sqlite" ? "SQLite" : "PostgreSQL";
    this.users = o.users;
    this.dir = mkdtempSync(path.join(os.tmpdir(), "rsp-bench-"));
  }

  pids(): number[] {
    return [this.server!.pid!];
  }

  get logFile(): string {
    return path.join(this.dir, "server.log");
  }

  private user(i: number): string {
    return `bench-${i}`;
  }

  claim(i: number): LoadItem {
    return { method: "POST", path: "/v1/claims", auth: `Bearer ${this.tokens[i]}`, body: "{}" };
  }

  held(i: number, body: string): string {
    const b = JSON.parse(body) as { source: string; instance: { instanceId: string } };
    if (b.source !== "warm") throw new Error(`user ${i}: expected a warm claim, got ${b.source}`);
    return b.instance.instanceId;
  }

  heartbeat(i: number, id: string): LoadItem {
    return { method: "POST", path: `/v1/instances/${id}/heartbeat`, auth: `Bearer ${this.tokens[i]}` };
  }

  /**
   * Token k of user i comes after every other user's token k: between two uses of a token,
   * all the others (more than the token cache holds) are used, so none is still cached.
   */
  coldHeartbeats(held: string[]): LoadItem[] {
    return coldOrder(this.coldTokens).map(({ user, token }) => ({ method: "POST", path: `/v1/instances/${held[user]}/heartbeat`, auth: `Bearer ${token}` }));
  }

  release(i: number, id: string): LoadItem {
    return { method: "DELETE", path: `/v1/instances/${id}`, auth: `Bearer ${this.tokens[i]}` };
  }

  /** Creates the database, users and tokens, starts the server and waits for every spare to run. */
  async start(): Promise<{ fillSeconds: number }> {
    const dataDir = path.join(this.dir, "data");
    if (this.o.store === "postgres") {
      const base = postgresBaseUrl();
      if (!base) throw new Error("PostgreSQL unavailable");
      const name = `rspbench_${randomBytes(5).toString("hex")}`;
      await adminQuery(base, `CREATE DATABASE ${name}`);
      this.databaseUrl = base.replace(/\/[^/]*$/, `/${name}`);
      this.dropDatabase = () => adminQuery(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
    const config = path.join(this.dir, "pool.yaml");
    const port = await freePort();
    const env = this.serverEnv(dataDir, config, port);
    const root = this.o.root ?? ROOT;
    if (root !== ROOT) execFileSync(process.execPath, [path.join(root, "dist", "backend", "cli.js"), "migrate"], { cwd: this.dir, env, stdio: "pipe" });
    this.store = openStore({ databaseUrl: this.databaseUrl, dataDir, poolSize: 2 });
    if (root === ROOT) await migrateToLatest(this.store);
    await this.seedUsers(this.store);

    const out = openSync(this.logFile, "a");
    // Profiled, it runs from the sources (tsx), so the profile's frames name our files.
    const entry = this.o.cpuProfileDir
      ? ["--cpu-prof", `--cpu-prof-dir=${this.o.cpuProfileDir}`, "--import", "tsx", path.join(ROOT, "backend", "cli.ts")]
      : [...SERVE_NODE_FLAGS, path.join(root, "dist", "backend", "cli.js")];
    const cmd = pinned(this.o.cpus, process.execPath, [...entry, "serve"]);
    this.server = spawn(cmd.file, cmd.args, { cwd: this.o.cpuProfileDir ? ROOT : this.dir, env, stdio: ["ignore", out, out] });
    closeSync(out);
    this.base = `http://127.0.0.1:${port}`;
    const t0 = Date.now();
    await this.waitHealthy();
    await this.waitFull(t0 + 600_000);
    return { fillSeconds: round((Date.now() - t0) / 1000, 1) };
  }

  /** The server's environment: ours without any POOL_ variable, then the bench's own settings (and the pool file written). */
  private serverEnv(dataDir: string, config: string, port: number): Record<string, string> {
    const n = this.users;
    // max = minFree: claims never compete with new launches; refills wait for terminations.
    writeFileSync(config, `pool:\n  name: bench\n  maxInstances: ${n}\npurposes:\n  - name: ${PURPOSE}\n    minFree: ${n}\n    max: ${n}\n    idleTimeoutSeconds: 3600\n`);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("POOL_")) env[k] = v;
    return Object.assign(env, {
      POOL_DATA_DIR: dataDir,
      POOL_CONFIG: config,
      POOL_PROVIDER: "local",
      POOL_LOCAL_RUNTIME: "command",
      POOL_LOCAL_COMMAND: `exec ${this.o.instanceServer} {port}`,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      ...(this.databaseUrl ? { POOL_DATABASE_URL: this.databaseUrl } : {}),
    });
  }

  private async seedUsers(store: Store): Promise<void> {
    const now = Date.now();
    const perUser = Math.max(1, Math.ceil(this.o.coldTokens / this.users));
    const secret = randomBytes(9).toString("base64url");
    const users: Array<{ id: string; is_admin: number; created_at: number; revoked_at: null }> = [];
    const tokens: Array<{ token_hash: string; user_id: string; created_at: number; revoked_at: null; last_used_at: null }> = [];
    for (let i = 0; i < this.users; i++) {
      users.push({ id: this.user(i), is_admin: 0, created_at: now, revoked_at: null });
      const main = `rsp_bench_${secret}_${i}`;
      this.tokens.push(main);
      tokens.push({ token_hash: hashToken(main), user_id: this.user(i), created_at: now, revoked_at: null, last_used_at: null });
      const cold = Array.from({ length: perUser }, (_, k) => `rsp_bench_${secret}_${i}_${k}`);
      this.coldTokens.push(cold);
      for (const t of cold) tokens.push({ token_hash: hashToken(t), user_id: this.user(i), created_at: now, revoked_at: null, last_used_at: null });
    }
    await store.db.transaction().execute(async (trx) => {
      for (let k = 0; k < users.length; k += 500) await trx.insertInto("users").values(users.slice(k, k + 500)).execute();
      for (let k = 0; k < tokens.length; k += 500) await trx.insertInto("api_tokens").values(tokens.slice(k, k + 500)).execute();
    });
  }

  private async waitHealthy(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.server!.exitCode !== null) throw new Error(`the server exited (${this.server!.exitCode}); see ${this.logFile}:\n${tail(this.logFile)}`);
      try {
        if ((await fetch(`${this.base}/healthz`)).ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`the server did not answer /healthz; see ${this.logFile}`);
      await sleep(100);
    }
  }

  /** Free running spares of the purpose, read from the store. */
  private async freeRunning(): Promise<number> {
    const rows = await countsByState(this.store!.db);
    return rows.filter((r) => r.purpose === PURPOSE && r.state === "running" && !r.assigned).reduce((s, r) => s + r.count, 0);
  }

  async waitFull(deadline = Date.now() + 600_000): Promise<void> {
    for (;;) {
      if (this.server!.exitCode !== null) throw new Error(`the server exited (${this.server!.exitCode}); see ${this.logFile}:\n${tail(this.logFile)}`);
      if ((await this.freeRunning()) >= this.users) return;
      if (Date.now() > deadline) throw new Error(`the pool did not fill to ${this.users} spares in time (${await this.freeRunning()})`);
      await sleep(100);
    }
  }

  /** Hand-overs complete in the loop after the claim has answered; waits until none is pending. */
  async settleClaims(): Promise<void> {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const row = await this.store!.db
        .selectFrom("instances")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("state", "=", "running")
        .where("owner_id", "is not", null)
        .where((eb) => eb.or([eb("handed_over_to", "is", null), eb("handed_over_to", "!=", eb.ref("owner_id"))]))
        .executeTakeFirstOrThrow();
      if (Number(row.n) === 0) return;
      if (Date.now() > deadline) throw new Error(`${row.n} hand-overs still pending after 5 minutes`);
      await sleep(50);
    }
  }

  memory(): { rssMb: number; peakMb: number } {
    return memoryMb(this.server!.pid!);
  }

  /** Waits for the pool to be full again after the releases that started at `releaseStart`, and says where the time went. */
  async measureRefill(releaseStart: number, releaseEnd: number): Promise<RefillFigures> {
    await this.waitFull();
    const done = Date.now();
    const events = await this.store!.db
      .selectFrom("events")
      .select(["kind", "instance_id", "at"])
      .where("at", ">=", releaseStart)
      .where("kind", "in", ["terminated", "launch-requested", "launched", "running"])
      .execute();
    const at = (kind: string) => events.filter((e) => e.kind === kind).map((e) => Number(e.at));
    const s = (ms: number) => round((ms - releaseStart) / 1000, 2);
    const byInstance = (kind: string) => new Map(events.filter((e) => e.kind === kind).map((e) => [e.instance_id, Number(e.at)]));
    const meanGap = (from: string, to: string) => {
      const a = byInstance(from);
      const gaps = [...byInstance(to)].filter(([id]) => a.has(id)).map(([id, t]) => t - a.get(id)!);
      return gaps.length ? Math.round(gaps.reduce((x, y) => x + y, 0) / gaps.length) : NaN;
    };
    return {
      refillSeconds: s(done),
      releaseSeconds: s(releaseEnd),
      lastTerminatedS: s(Math.max(...at("terminated"))),
      firstLaunchRequestedS: s(Math.min(...at("launch-requested"))),
      lastLaunchedS: s(Math.max(...at("launched"))),
      lastRunningS: s(Math.max(...at("running"))),
      meanLaunchMs: meanGap("launch-requested", "launched"),
      meanReadyMs: meanGap("launched", "running"),
    };
  }

  logBytes(): number {
    try {
      return statSync(this.logFile).size;
    } catch {
      return 0;
    }
  }

  /** Stops the server, kills the instances it leaves running (they outlive it by design) and drops the database. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
    killInstances(path.join(this.dir, "data", "local-instances"));
    await this.store?.close().catch(() => undefined);
    await this.dropDatabase().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every user's token k before any user's token k+1 (tokens[user][k]). */
export function coldOrder(tokens: string[][]): Array<{ user: number; token: string }> {
  const out: Array<{ user: number; token: string }> = [];
  const perUser = Math.min(...tokens.map((t) => t.length));
  for (let k = 0; k < perUser; k++) for (let user = 0; user < tokens.length; user++) out.push({ user, token: tokens[user]![k]! });
  return out;
}

function killInstances(dir: string): void {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    return;
  }
  for (const f of files) {
    try {
      const { pid } = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as { pid: number | null };
      // Each instance leads its own process group (the provider starts it detached). A state
      // file may hold only the launch intent (no pid yet): never signal group 0, our own.
      if (Number.isInteger(pid) && pid! > 1) process.kill(-pid!, "SIGKILL");
    } catch {
      /* gone already */
    }
  }
}

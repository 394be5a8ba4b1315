/**
 * The real backend for e2e tests: `node dist/backend/cli.js serve` on its embedded default
 * (SQLite in a temporary POOL_DATA_DIR, local provider, placeholder runtime) with a purposes
 * file written per test, users made through the CLI, and a small /v1 client to check what the
 * backend sees. Teardown stops the server and kills every placeholder instance it started (the
 * backend leaves instances running on purpose, so the test must clean them up itself).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { ClaimResponse, InstancesResponse, InstanceView } from "../../../contract";
import { freePort } from "../../../backend/net/free-port";
import { REPO_ROOT } from "./harness";
import { isAlive, ManagedProcess, signalGroup, sleep, waitFor } from "./processes";

const run = promisify(execFile);
export const CLI = path.join(REPO_ROOT, "dist", "backend", "cli.js");

export interface PurposeSpec {
  name: string;
  description?: string;
  hourlyPrice?: number;
  idleTimeoutSeconds?: number;
  max?: number;
  minFree?: number;
  app?: "rstudio" | "jupyter";
}

export interface BackendOptions {
  purposes?: PurposeSpec[];
  /** Whole-pool limit (defaults to the sum of the purposes' max). */
  maxInstances?: number;
  /** The program to run instead of the CLI's `serve` (e.g. the SSM stand-in backend). */
  command?: { file: string; args: string[] };
  env?: Record<string, string>;
  logFile: string;
}

/** The heading of the placeholder page that stands in for RStudio (backend/providers/local/placeholder-app.ts). */
export const PLACEHOLDER_TEXT = "This page stands in for RStudio Server";

export const DEFAULT_PURPOSE: PurposeSpec = { name: "rstudio", description: "RStudio Server (e2e)", hourlyPrice: 0.42, idleTimeoutSeconds: 600, max: 2 };

function purposesYaml(purposes: PurposeSpec[], maxInstances?: number): string {
  // JSON is YAML; the config loader validates it like any hand-written file.
  return JSON.stringify({ pool: { name: "e2e-pool", ...(maxInstances ? { maxInstances } : {}) }, purposes }, null, 2);
}

export class Backend {
  private proc: ManagedProcess | null = null;
  readonly env: NodeJS.ProcessEnv;

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly options: BackendOptions,
  ) {
    const configFile = path.join(dataDir, "pool.yaml");
    writeFileSync(configFile, purposesYaml(options.purposes ?? [DEFAULT_PURPOSE], options.maxInstances));
    this.env = {
      ...process.env,
      NODE_ENV: "production",
      PORT: String(port),
      HOST: "127.0.0.1",
      POOL_DATA_DIR: dataDir,
      POOL_CONFIG: configFile,
      POOL_PROVIDER: "local",
      POOL_LOCAL_RUNTIME: "placeholder",
      POOL_TICK_MS: "250",
      POOL_RECONCILE_MS: "2000",
      LOG_LEVEL: "info",
      ...options.env,
    };
    delete this.env.POOL_DATABASE_URL;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Prepares the data directory and configuration; call start() to run the server. */
  static async create(options: BackendOptions): Promise<Backend> {
    const dataDir = mkdtempSync(path.join(tmpdir(), "rsp-e2e-backend-"));
    return new Backend(dataDir, await freePort(), options);
  }

  /** Creates a user through the CLI (as an admin would) and returns their API token. */
  async addUser(userId: string): Promise<string> {
    const { stdout } = await run(process.execPath, [CLI, "user", "add", userId], { env: this.env, cwd: REPO_ROOT });
    const token = stdout.trim();
    if (!/^\S{20,}$/.test(token)) throw new Error(`user add ${userId} printed no token`);
    return token;
  }

  async start(): Promise<void> {
    const cmd = this.options.command ?? { file: process.execPath, args: [CLI, "serve"] };
    this.proc = new ManagedProcess("backend", cmd.file, cmd.args, { env: this.env, cwd: REPO_ROOT, logFile: this.options.logFile });
    await waitFor(`the backend on ${this.url}/healthz`, async () => {
      if (!this.proc?.running) throw new Error(`the backend exited; see ${this.options.logFile}`);
      const res = await fetch(`${this.url}/healthz`);
      return res.ok;
    }, { timeoutMs: 30_000 });
  }

  /** Stops the server only (instances keep running, as in production). */
  async stop(): Promise<void> {
    await this.proc?.stop();
    this.proc = null;
  }

  api(token: string): BackendApi {
    return new BackendApi(this.url, token);
  }

  /** The placeholder instances the local provider started (from its state files). */
  localInstances(): { instanceId: string; pid: number; port: number }[] {
    const dir = path.join(this.dataDir, "local-instances");
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    } catch {
      return [];
    }
    return files.flatMap((f) => {
      try {
        const s = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as { instanceId: string; pid: number | null; port: number };
        // A launch intent has no pid yet; never signal "-null" (that is this process group).
        return typeof s.pid === "number" && s.pid > 0 ? [{ ...s, pid: s.pid }] : [];
      } catch {
        return [];
      }
    });
  }

  async dispose(): Promise<void> {
    await this.stop();
    const pids = this.localInstances().map((i) => i.pid);
    for (const pid of pids) signalGroup(pid, "SIGTERM");
    const until = Date.now() + 3000;
    while (Date.now() < until && pids.some(isAlive)) await sleep(100);
    for (const pid of pids.filter(isAlive)) signalGroup(pid, "SIGKILL");
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** What the backend itself says, to check the extension's effects from the outside. */
export class BackendApi {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  private async call<T>(method: string, p: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} /v1${p}: HTTP ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  async instances(): Promise<InstanceView[]> {
    return (await this.call<InstancesResponse>("GET", "/instances")).instances;
  }

  /** My instances that are not over (launching, booting, running, releasing). */
  async liveInstances(): Promise<InstanceView[]> {
    return (await this.instances()).filter((i) => ["launching", "booting", "running", "releasing"].includes(i.state));
  }

  async claim(purpose?: string): Promise<ClaimResponse> {
    return this.call<ClaimResponse>("POST", "/claims", purpose ? { purpose } : {});
  }

  async instance(id: string): Promise<InstanceView> {
    return (await this.call<{ instance: InstanceView }>("GET", `/instances/${id}`)).instance;
  }
}

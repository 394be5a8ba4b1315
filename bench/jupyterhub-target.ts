/**
 * JupyterHub under the same load, for comparison: Debian's `jupyterhub` (3.0) with its
 * configurable-http-proxy, on SQLite tuned like ours (WAL, synchronous=NORMAL) or on
 * PostgreSQL, with a spawner that "starts" at once (bench/jupyterhub/instant_spawner.py) and
 * points every server at one instance web server, so the hub's own work is what is measured:
 * its REST API, its database, its proxy routes. A claim is the admin API's server start, a
 * release its server stop, a heartbeat the activity endpoint, all with an admin (service) token.
 *
 * Install: apt-get install -y jupyterhub node-configurable-http-proxy python3-psycopg2
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../backend/net/free-port";
import { postgresBaseUrl, type StoreKind } from "../test/support/stores";
import { adminQuery, sleep, tail } from "./helpers";
import { memoryMb, pinned, type LoadItem } from "./machine";
import type { Target } from "./rounds";

const HUB = "/usr/bin/jupyterhub";
const PYTHON = "/usr/bin/python3";
/**
 * Debian's configurable-http-proxy finds its modules on Debian's Node paths; a Node installed
 * from elsewhere (Node 20 here) does not search them unless told.
 */
const DEBIAN_NODE_PATH = ["/usr/share/nodejs", "/usr/lib/nodejs", "/usr/lib/x86_64-linux-gnu/nodejs", process.env.NODE_PATH].filter(Boolean).join(":");

/** Why JupyterHub cannot be benchmarked here on that store, or null when it can. */
export function jupyterHubProblem(kind: StoreKind): string | null {
  if (!existsSync(HUB)) return "jupyterhub is not installed (apt-get install -y jupyterhub node-configurable-http-proxy)";
  if (spawnSync("sh", ["-c", "command -v configurable-http-proxy"], { stdio: "ignore" }).status !== 0) {
    return "configurable-http-proxy is not installed (apt-get install -y node-configurable-http-proxy)";
  }
  if (kind === "postgres" && spawnSync(PYTHON, ["-c", "import psycopg2"], { stdio: "ignore" }).status !== 0) {
    return "psycopg2 is missing for JupyterHub on PostgreSQL (apt-get install -y python3-psycopg2)";
  }
  return null;
}

export interface JupyterHubOptions {
  store: StoreKind;
  users: number;
  cpus: string | null;
  instanceServer: string;
}

export class JupyterHubTarget implements Target {
  readonly label: string;
  base = "";
  readonly users: number;
  readonly claimExpect = [201, 202];
  readonly heartbeatExpect = [200];
  readonly releaseExpect = [204, 202];
  version = "";
  private hub: ChildProcess | null = null;
  private instance: ChildProcess | null = null;
  private proxyPid: number | null = null;
  private readonly dir: string;
  private readonly token = randomBytes(24).toString("hex");
  private dropDatabase: () => Promise<void> = async () => undefined;

  constructor(private readonly o: JupyterHubOptions) {
    this.label = `JupyterHub ${o.store === "sqlite" ? "SQLite" : "PostgreSQL"}`;
    this.users = o.users;
    this.dir = mkdtempSync(path.join(os.tmpdir(), "rsp-bench-hub-"));
  }

  pids(): number[] {
    return [this.hub!.pid!, ...(this.proxyPid ? [this.proxyPid] : [])];
  }

  private name(i: number): string {
    return `bench-${i}`;
  }

  private auth(): string {
    return `token ${this.token}`;
  }

  claim(i: number): LoadItem {
    return { method: "POST", path: `/hub/api/users/${this.name(i)}/server`, auth: this.auth(), body: "{}" };
  }

  held(i: number): string {
    return this.name(i);
  }

  /** The load generator puts the time of sending in place of __NOW__, so every heartbeat is news to the hub. */
  heartbeat(_i: number, name: string): LoadItem {
    return { method: "POST", path: `/hub/api/users/${name}/activity`, auth: this.auth(), body: '{"last_activity":"__NOW__","servers":{"":{"last_activity":"__NOW__"}}}' };
  }

  /** The hub has no token cache: every request already looks its token up. */
  coldHeartbeats(): null {
    return null;
  }

  release(_i: number, name: string): LoadItem {
    return { method: "DELETE", path: `/hub/api/users/${name}/server`, auth: this.auth() };
  }

  /** A start has finished its work when it answers 201 (a 202 would finish later; the stop after waits for it). */
  async settleClaims(): Promise<void> {}

  async start(): Promise<void> {
    this.version = execFileSync(HUB, ["--version"], { encoding: "utf8" }).trim();
    const [hubPort, proxyPort, apiPort, instancePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    this.instance = spawn(this.o.instanceServer, [String(instancePort)], { stdio: "ignore" });
    let dbUrl = `sqlite:///${path.join(this.dir, "jupyterhub.sqlite")}`;
    if (this.o.store === "postgres") {
      const base = postgresBaseUrl();
      if (!base) throw new Error("PostgreSQL unavailable");
      const name = `rspbenchhub_${randomBytes(5).toString("hex")}`;
      await adminQuery(base, `CREATE DATABASE ${name}`);
      this.dropDatabase = () => adminQuery(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      dbUrl = base.replace(/^postgres:/, "postgresql:").replace(/\/[^/]*$/, `/${name}`);
    }
    writeFileSync(path.join(this.dir, "instant_spawner.py"), readFileSync(path.join(__dirname, "jupyterhub", "instant_spawner.py")));
    writeFileSync(
      path.join(this.dir, "jupyterhub_config.py"),
      [
        readFileSync(path.join(__dirname, "jupyterhub", "jupyterhub_config.py"), "utf8"),
        `c.JupyterHub.bind_url = "http://127.0.0.1:${proxyPort}"`,
        `c.JupyterHub.hub_bind_url = "http://127.0.0.1:${hubPort}"`,
        `c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:${apiPort}"`,
        `c.JupyterHub.db_url = ${JSON.stringify(dbUrl)}`,
        `c.InstantSpawner.target_port = ${instancePort}`,
        `c.JupyterHub.services = [{"name": "bench", "api_token": ${JSON.stringify(this.token)}}]`,
        "",
      ].join("\n"),
    );
    const out = openSync(path.join(this.dir, "hub.log"), "a");
    const cmd = pinned(this.o.cpus, HUB, ["-f", "jupyterhub_config.py"]);
    this.hub = spawn(cmd.file, cmd.args, { cwd: this.dir, stdio: ["ignore", out, out], env: { ...process.env, PYTHONPATH: this.dir, NODE_PATH: DEBIAN_NODE_PATH } });
    closeSync(out);
    // The API straight at the hub, as the proxy would forward it (the hub's REST API is what is measured).
    this.base = `http://127.0.0.1:${hubPort}`;
    await this.waitUp();
    this.proxyPid = childPids(this.hub.pid!)[0] ?? null;
    for (let k = 0; k < this.users; k += 100) {
      const usernames = Array.from({ length: Math.min(100, this.users - k) }, (_, j) => this.name(k + j));
      const res = await fetch(`${this.base}/hub/api/users`, { method: "POST", headers: { authorization: this.auth() }, body: JSON.stringify({ usernames }) });
      if (res.status !== 201) throw new Error(`creating JupyterHub users failed: ${res.status} ${await res.text()}`);
    }
  }

  private async waitUp(): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (this.hub!.exitCode !== null) throw new Error(`JupyterHub exited (${this.hub!.exitCode}); see ${path.join(this.dir, "hub.log")}:\n${tail(path.join(this.dir, "hub.log"))}`);
      try {
        const res = await fetch(`${this.base}/hub/api/`, { headers: { authorization: this.auth() } });
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`JupyterHub did not start; see ${path.join(this.dir, "hub.log")}:\n${tail(path.join(this.dir, "hub.log"))}`);
      await sleep(200);
    }
  }

  /** After the releases: waits until no user has a server (a stop answered 202 finishes later). */
  async waitStopped(): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const res = await fetch(`${this.base}/hub/api/users?state=active&limit=1`, { headers: { authorization: this.auth() } });
      const body = (await res.json()) as unknown[] | { items: unknown[] };
      if ((Array.isArray(body) ? body : body.items).length === 0) return;
      if (Date.now() > deadline) throw new Error("JupyterHub did not stop every server in time");
      await sleep(200);
    }
  }

  memory(): { rssMb: number; peakMb: number } {
    return memoryMb(this.hub!.pid!);
  }

  async stop(): Promise<void> {
    const hub = this.hub;
    if (hub && hub.exitCode === null) {
      const exited = new Promise((r) => hub.once("exit", r));
      hub.kill("SIGTERM");
      await Promise.race([exited, sleep(15_000)]);
      if (hub.exitCode === null) hub.kill("SIGKILL");
    }
    if (this.proxyPid) {
      try {
        process.kill(this.proxyPid, "SIGKILL");
      } catch {
        /* stopped with the hub */
      }
    }
    this.instance?.kill("SIGKILL");
    await this.dropDatabase().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * The local provider: each "instance" is a process on this machine serving the purpose's web
 * app on a free loopback port. Instances are detached process groups with a state file each,
 * so they outlive a restart of the backend, which finds them again through those files.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import path from "node:path";
import type { ConnectionResponse } from "../../../contract";
import { APPS, type AppName } from "../../config/apps";
import type { LocalRuntime, PurposeConfig } from "../../config/schema";
import { PoolError } from "../../errors";
import { freePort } from "../../net/free-port";
import { parseNotice } from "../notices";
import type { ConnectRequest, InstanceObservation, InstanceRef, LaunchRequest, LaunchResult, Provider, ProviderInstance } from "../types";
import { findJupyter, isJupyterBusy, readJupyterActivity, type JupyterInstall } from "./jupyter";
import { buildLaunchCommand, containerName, detectRuntime, dockerProblem, placeholderCommand, runtimeApp, type ConcreteRuntime, type LaunchCommand, type RuntimeChoice } from "./runtimes";

/** What the state file of one local instance holds. */
export interface LocalInstanceState {
  instanceId: string;
  providerId: string;
  poolName: string;
  purpose: string;
  runtime: ConcreteRuntime;
  pid: number;
  port: number;
  ownerId: string | null;
  startedAt: number;
  /** The app the user reaches there (absent in state files of older versions: rstudio). */
  app?: AppName;
}

export interface LocalProviderOptions {
  dataDir: string;
  runtime: LocalRuntime;
  command: string | null;
  /** Directory of the running backend code, to find the placeholder app. */
  codeDir?: string;
  /** Working directory of launched processes. */
  cwd?: string;
  /** Jupyter activity this recent counts as work (default JUPYTER_ACTIVITY_WINDOW_MS). */
  jupyterActivityWindowMs?: number;
  /** Where the runtime choice is logged. */
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** Jupyter activity this recent counts as work for the busy check (the extension's traffic window). */
export const JUPYTER_ACTIVITY_WINDOW_MS = 3 * 60_000;

/** Env var put on every instance process so a recycled pid is never taken for our instance. */
export const INSTANCE_ENV = "RSTUDIO_POOL_INSTANCE";


/** Readiness: any answer at `/`, or (`okOnly`) a 200 at the app's ready path such as Jupyter's /api/status. */
function httpAnswers(port: number, timeoutMs = 1000, urlPath = "/", okOnly = false): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: urlPath, method: "GET", timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(!okOnly || res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

/** Whether `pid` is alive and is our instance (checked through its environment on Linux). */
export function isOurProcess(pid: number, instanceId: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  const environ = `/proc/${pid}/environ`;
  if (!existsSync("/proc/self/environ")) return true; // no /proc (macOS): trust the pid
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (/\) Z /.test(stat)) return false; // a zombie is dead
    return readFileSync(environ, "utf8").split("\0").includes(`${INSTANCE_ENV}=${instanceId}`);
  } catch {
    return false;
  }
}

export class LocalProvider implements Provider {
  readonly kind = "local";
  private readonly dir: string;
  private readonly choices = new Map<AppName, Promise<RuntimeChoice>>();
  private readonly placeholder: LaunchCommand;

  constructor(private readonly options: LocalProviderOptions) {
    this.dir = path.join(options.dataDir, "local-instances");
    mkdirSync(this.dir, { recursive: true });
    this.placeholder = placeholderCommand(options.codeDir ?? __dirname);
  }

  /** The runtime for a purpose's app, detected once per app when `auto` (and logged with why the others were skipped). */
  async resolveRuntime(app: AppName = "rstudio"): Promise<ConcreteRuntime> {
    return (await this.choose(app)).runtime;
  }

  private choose(app: AppName): Promise<RuntimeChoice> {
    let choice = this.choices.get(app);
    if (!choice) {
      choice = this.options.runtime === "auto" ? detectRuntime(this.options.command, app) : this.explicit(this.options.runtime);
      choice.then(
        (c) => {
          if (this.options.runtime !== "auto") return;
          this.options.log?.info(
            { event: "local-runtime", app, runtime: c.runtime, skipped: c.skipped },
            `local provider runs ${app} purposes with the ${c.runtime} runtime${c.skipped.length ? `; skipped ${c.skipped.map((x) => `${x.runtime} (${x.reason})`).join(", ")}` : ""}`,
          );
        },
        () => this.choices.delete(app),
      );
      this.choices.set(app, choice);
    }
    return choice;
  }

  private async explicit(runtime: ConcreteRuntime): Promise<RuntimeChoice> {
    let jupyter: JupyterInstall | null = null;
    if (runtime === "jupyter") {
      const found = await findJupyter();
      if (!found.ok) throw new PoolError("PROVIDER_ERROR", `POOL_LOCAL_RUNTIME=jupyter, but ${found.reason}`);
      jupyter = found.install;
    }
    return { runtime, skipped: [], jupyter };
  }

  /** The instance's home: its notebook directory. Kept after release, like a home volume. */
  homeDir(instanceId: string): string {
    return path.join(this.options.dataDir, "local-homes", instanceId);
  }

  private appDir(instanceId: string): string {
    return path.join(this.dir, `${instanceId}.d`);
  }

  private stateFile(instanceId: string): string {
    return path.join(this.dir, `${instanceId}.json`);
  }

  private readState(instanceId: string): LocalInstanceState | null {
    try {
      return JSON.parse(readFileSync(this.stateFile(instanceId), "utf8")) as LocalInstanceState;
    } catch {
      return null;
    }
  }

  private writeState(s: LocalInstanceState): void {
    const file = this.stateFile(s.instanceId);
    writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 2));
    renameSync(`${file}.tmp`, file);
  }

  private allStates(): LocalInstanceState[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => this.readState(f.slice(0, -".json".length)))
      .filter((s): s is LocalInstanceState => s !== null);
  }

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    const existing = this.readState(req.instanceId);
    const price = req.purpose.hourlyPrice ?? 0;
    if (existing) {
      // Same launch again (a retry after a crash): report what was started the first time.
      return { providerId: existing.providerId, instanceType: `local-${existing.runtime}`, market: "local", availabilityZone: "local", hourlyPrice: price };
    }
    const choice = await this.choose(req.purpose.app);
    const runtime = choice.runtime;
    if (runtime === "docker") {
      // Checked at each launch: a daemon that is down fails the claim with the reason, not a silent "lost".
      const problem = await dockerProblem();
      if (problem) throw new PoolError("PROVIDER_ERROR", `Failed to start a docker instance: ${problem}`);
    }
    const port = await freePort();
    const home = this.homeDir(req.instanceId);
    const cmd = buildLaunchCommand({
      runtime,
      port,
      instanceId: req.instanceId,
      purpose: req.purpose.name,
      dataDir: this.options.dataDir,
      command: this.options.command,
      rstudioImage: req.purpose.ec2?.rstudioImage ?? "rocker/rstudio:4.4",
      placeholder: this.placeholder,
      home,
      stateDir: this.appDir(req.instanceId),
      jupyter: choice.jupyter,
      asRoot: process.getuid?.() === 0,
    });
    if (runtime === "jupyter") mkdirSync(home, { recursive: true });
    for (const [file, content] of Object.entries(cmd.files ?? {})) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, content, { mode: 0o600 });
    }
    const logFile = path.join(this.dir, `${req.instanceId}.log`);
    const out = openSync(logFile, "a");
    let child;
    try {
      child = spawn(cmd.file, cmd.args, {
        cwd: cmd.cwd ?? this.options.cwd ?? process.cwd(),
        detached: true,
        stdio: ["ignore", out, out],
        // A runtime that declares its environment gets only that (no backend secrets in Jupyter's kernels).
        env: { ...(cmd.env ?? process.env), [INSTANCE_ENV]: req.instanceId, PORT: String(port) },
      });
    } finally {
      closeSync(out);
    }
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => resolve(child.pid!));
      child.once("error", (err) => reject(new PoolError("PROVIDER_ERROR", `Failed to start ${runtime} instance: ${err.message}`)));
    });
    child.unref();
    const providerId = `local-${req.instanceId.replace(/^rsp-/, "")}`;
    const served = runtimeApp(runtime);
    const app: AppName = served === "rstudio" || served === "jupyter" ? served : req.purpose.app;
    this.writeState({ instanceId: req.instanceId, providerId, poolName: req.poolName, purpose: req.purpose.name, runtime, pid, port, ownerId: req.ownerId, startedAt: Date.now(), app });
    return { providerId, instanceType: `local-${runtime}`, market: "local", availabilityZone: "local", hourlyPrice: price, details: { app, runtime } };
  }

  private async view(s: LocalInstanceState): Promise<ProviderInstance> {
    const alive = isOurProcess(s.pid, s.instanceId);
    const ready = alive && (s.runtime === "jupyter" ? await httpAnswers(s.port, 1000, APPS.jupyter.readyPath, true) : await httpAnswers(s.port));
    return {
      providerId: s.providerId,
      instanceId: s.instanceId,
      poolName: s.poolName,
      purpose: s.purpose,
      state: alive ? "running" : "terminated",
      ready,
      stateReason: alive ? null : this.exitReason(s),
      interrupted: false,
      privateDnsName: `127.0.0.1:${s.port}`,
      instanceType: `local-${s.runtime}`,
      market: "local",
      availabilityZone: "local",
      launchedAt: s.startedAt,
    };
  }

  /** "process exited", with the last line it logged (why Docker or Jupyter stopped). */
  private exitReason(s: LocalInstanceState): string {
    let last = "";
    try {
      last = readFileSync(path.join(this.dir, `${s.instanceId}.log`), "utf8").trim().split("\n").slice(-1)[0]!.trim().slice(0, 300);
    } catch {
      /* no log */
    }
    return last ? `process exited: ${last}` : "process exited";
  }

  async listEveryPool(): Promise<ProviderInstance[]> {
    return Promise.all(this.allStates().map((s) => this.view(s)));
  }

  async list(poolName: string): Promise<ProviderInstance[]> {
    return Promise.all(this.allStates().filter((s) => s.poolName === poolName).map((s) => this.view(s)));
  }

  async describe(providerIds: string[]): Promise<ProviderInstance[]> {
    const wanted = new Set(providerIds);
    return Promise.all(this.allStates().filter((s) => wanted.has(s.providerId)).map((s) => this.view(s)));
  }

  private stateForRef(ref: InstanceRef): LocalInstanceState | null {
    return this.readState(ref.id) ?? this.allStates().find((s) => s.providerId === ref.providerId) ?? null;
  }

  async terminate(refs: InstanceRef[]): Promise<void> {
    await Promise.all(refs.map((ref) => this.terminateOne(ref)));
  }

  private async terminateOne(ref: InstanceRef): Promise<void> {
    const s = this.stateForRef(ref);
    if (!s) return;
    if (s.runtime === "docker") {
      await new Promise<void>((resolve) => {
        const p = spawn("docker", ["rm", "-f", containerName(s.instanceId)], { stdio: "ignore" });
        p.on("exit", () => resolve());
        p.on("error", () => resolve());
      });
    }
    if (isOurProcess(s.pid, s.instanceId)) {
      killGroup(s.pid, "SIGTERM");
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && isOurProcess(s.pid, s.instanceId)) await sleep(50);
      if (isOurProcess(s.pid, s.instanceId)) killGroup(s.pid, "SIGKILL");
    }
    rmSync(this.appDir(s.instanceId), { recursive: true, force: true });
    rmSync(this.stateFile(s.instanceId), { force: true });
    rmSync(path.join(this.dir, `${s.instanceId}.log`), { force: true });
    rmSync(this.noticeFile(s.instanceId), { force: true });
  }

  async assign(ref: InstanceRef, userId: string): Promise<void> {
    const s = this.stateForRef(ref);
    if (s) this.writeState({ ...s, ownerId: userId });
  }

  async release(): Promise<void> {}

  async connect(ref: InstanceRef, _purpose: PurposeConfig, req: ConnectRequest): Promise<ConnectionResponse> {
    const s = this.stateForRef(ref);
    if (!s || !isOurProcess(s.pid, s.instanceId)) {
      throw new PoolError("INSTANCE_NOT_RUNNING", `Instance "${ref.id}" is not running any more; claim a new one.`);
    }
    const app = s.app ?? "rstudio";
    if (req.app && req.app !== app) {
      throw new PoolError("INVALID_REQUEST", `Instance "${ref.id}" serves ${APPS[app].title} only (one app per local instance); connect without app or with app "${app}".`);
    }
    return { kind: "direct", host: "127.0.0.1", port: s.port, path: "/", app };
  }

  async isBusy(ref: InstanceRef): Promise<boolean> {
    const s = this.stateForRef(ref);
    // RStudio and the placeholder have nothing to ask locally; Jupyter reports its own activity.
    if (!s || s.runtime !== "jupyter" || !isOurProcess(s.pid, s.instanceId)) return false;
    return isJupyterBusy(await readJupyterActivity(s.port), Date.now(), this.options.jupyterActivityWindowMs ?? JUPYTER_ACTIVITY_WINDOW_MS);
  }

  async priceOf(purpose: PurposeConfig): Promise<number | null> {
    return purpose.hourlyPrice ?? 0;
  }

  /** Where an instance's notice is read from: `local-instances/<id>.notice.json` (see ../notices.ts). */
  noticeFile(instanceId: string): string {
    return path.join(this.dir, `${instanceId}.notice.json`);
  }

  /**
   * Local processes are never taken back by anyone, but the pool's interruption handling is
   * played on the embedded default the way EC2's watcher reports it: a notice file beside the
   * instance, read here once a second.
   */
  async observe(refs: InstanceRef[], handle: (o: InstanceObservation) => Promise<void>, signal: AbortSignal): Promise<void> {
    for (const ref of refs) {
      if (!ref.providerId) continue;
      let text: string;
      try {
        text = readFileSync(this.noticeFile(ref.id), "utf8");
      } catch {
        continue;
      }
      const o = parseNotice(ref.providerId, text);
      if (o) await handle(o);
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });
  }

  async close(): Promise<void> {}
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

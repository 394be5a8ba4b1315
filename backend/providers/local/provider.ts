/**
 * The local provider: each "instance" is a process on this machine serving the purpose's web
 * app on a free loopback port. Instances are detached process groups with a state file each,
 * so they outlive a restart of the backend, which finds them again through those files.
 *
 * A launch writes its intent (the state file without a pid) before it spawns, and tags the
 * process with its instance id and pool name (child-env.ts). A crash anywhere in between
 * leaves something a restart can see: the intent alone (launched again), or the intent and a
 * tagged process found in /proc (finished: its pid is written down, never a second spawn).
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
import { sleepUnlessAborted } from "../../sleep";
import { parseNotice } from "../notices";
import type { ConnectRequest, InstanceObservation, InstanceRef, LaunchRequest, LaunchResult, Provider, ProviderInstance, TerminatedAt } from "../types";
import { instanceEnv } from "./child-env";
import { StateFiles } from "./state-files";
import { findJupyter, isJupyterBusy, readJupyterActivity, type JupyterInstall } from "./jupyter";
import { findInstanceProcess, isOurProcess, killGroup, taggedProcesses, type TaggedProcess } from "./processes";
import { buildLaunchCommand, containerName, detectRuntime, dockerProblem, placeholderCommand, runtimeApp, type ConcreteRuntime, type LaunchCommand, type RuntimeChoice } from "./runtimes";

export { INSTANCE_ENV } from "./child-env";
export { isOurProcess } from "./processes";

/** What the state file of one local instance holds. */
export interface LocalInstanceState {
  instanceId: string;
  providerId: string;
  poolName: string;
  purpose: string;
  runtime: ConcreteRuntime;
  /** Null while only the intent is recorded (written before the spawn). */
  pid: number | null;
  port: number;
  ownerId: string | null;
  startedAt: number;
  /** The app the user reaches there (absent in state files of older versions: rstudio). */
  app?: AppName;
  /** Set just before it is stopped: if a crash comes before the tombstone, it ended about then. */
  stoppingAt?: number;
}

/** What is left of a stopped instance for a day (`<id>.ended`): when it ended, for the ledger. */
interface Tombstone {
  instanceId: string;
  providerId: string;
  poolName: string;
  purpose: string;
  startedAt: number;
  endedAt: number;
}

const TOMBSTONE_MS = 24 * 3600_000;

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
  /** The backend's environment, of which instances get only an allowlist (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Extra variable names instances may see (POOL_LOCAL_PASS_ENV). */
  passEnv?: readonly string[];
}

/** Jupyter activity this recent counts as work for the busy check (the extension's traffic window). */
export const JUPYTER_ACTIVITY_WINDOW_MS = 3 * 60_000;

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

export function localProviderId(instanceId: string): string {
  return `local-${instanceId.replace(/^rsp-/, "")}`;
}

export class LocalProvider implements Provider {
  readonly kind = "local";
  private readonly dir: string;
  private readonly choices = new Map<AppName, Promise<RuntimeChoice>>();
  /** The data dir, resolved: it tags the processes launched from here. */
  private readonly home: string;
  private readonly placeholder: LaunchCommand;
  private readonly files = new StateFiles();
  /**
   * The tagged processes that ran when this provider first looked (what a crashed backend
   * left): every process started since has a state file with its pid, so launches read this
   * one scan of /proc instead of scanning it each (a refill of 1,000 spares scanned it 1,000
   * times, each over 1,000 processes).
   */
  private startupProcesses: TaggedProcess[] | null = null;
  /** When each process this backend spawned exits (terminations wait for it instead of polling). */
  private readonly exits = new Map<string, Promise<void>>();

  constructor(private readonly options: LocalProviderOptions) {
    this.home = path.resolve(options.dataDir);
    this.dir = path.join(this.home, "local-instances");
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
    const text = this.files.read(this.stateFile(instanceId));
    if (text === null) return null;
    try {
      return JSON.parse(text) as LocalInstanceState;
    } catch {
      return null;
    }
  }

  /** Atomic (temp file + rename): a crash leaves the old state or the new one, never half. */
  private writeState(s: LocalInstanceState): void {
    this.files.writeSync(this.stateFile(s.instanceId), JSON.stringify(s));
  }

  /** The hand-over's write: in place, as cheap as a state write gets (state-files.ts says why it is still whole or nothing). */
  private rewriteState(s: LocalInstanceState): void {
    const file = this.stateFile(s.instanceId);
    // The caller has just read the state: the file's length is all the rewrite needs of it.
    if (existsSync(file)) this.files.rewrite(file, JSON.stringify(s));
    else this.files.writeSync(file, JSON.stringify(s));
  }

  private allStates(): LocalInstanceState[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => this.readState(f.slice(0, -".json".length)))
      .filter((s): s is LocalInstanceState => s !== null);
  }

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    const price = req.purpose.hourlyPrice ?? 0;
    const result = (runtime: ConcreteRuntime, providerId: string, launchedAt: number): LaunchResult => ({ providerId, instanceType: `local-${runtime}`, market: "local", availabilityZone: "local", hourlyPrice: price, launchedAt });
    const existing = this.readState(req.instanceId);
    if (existing?.pid != null) {
      // Same launch again (a retry after a crash): report what was started the first time.
      return result(existing.runtime, existing.providerId, existing.startedAt);
    }
    // Intent recorded but no pid, or no file at all: a crash came between the spawn and the
    // write. Finish that launch if its tagged process runs; spawn only if nothing does.
    const running = this.leftRunning(req.poolName, req.instanceId);
    if (running) {
      const s = existing ? { ...existing, pid: running.pid } : { ...strayToState(running, req.poolName), ownerId: req.ownerId };
      this.writeState(s);
      return result(s.runtime, s.providerId, s.startedAt);
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
    const providerId = localProviderId(req.instanceId);
    const intent: LocalInstanceState = { instanceId: req.instanceId, providerId, poolName: req.poolName, purpose: req.purpose.name, runtime, pid: null, port, ownerId: req.ownerId, startedAt: Date.now() };
    this.writeState(intent);
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
        // An allowlist of the backend's environment (never its keys, AWS credentials or database
        // URL), and what the runtime declares it needs (Jupyter's directories) on top.
        env: { ...instanceEnv(this.options.env ?? process.env, { instanceId: req.instanceId, poolName: req.poolName, purpose: req.purpose.name, port, home: this.home, passEnv: this.options.passEnv }), ...(cmd.env ?? {}) },
      });
    } finally {
      closeSync(out);
    }
    let pid: number;
    try {
      pid = await new Promise<number>((resolve, reject) => {
        child.once("spawn", () => resolve(child.pid!));
        child.once("error", (err) => reject(new PoolError("PROVIDER_ERROR", `Failed to start ${runtime} instance: ${err.message}`)));
      });
    } catch (err) {
      rmSync(this.stateFile(req.instanceId), { force: true });
      throw err;
    }
    child.unref();
    this.exits.set(req.instanceId, new Promise<void>((resolve) => child.once("exit", () => resolve())));
    const served = runtimeApp(runtime);
    const app: AppName = served === "rstudio" || served === "jupyter" ? served : req.purpose.app;
    this.writeState({ ...intent, pid, app });
    return { ...result(runtime, providerId, intent.startedAt), details: { app, runtime } };
  }

  private leftRunning(poolName: string, instanceId: string): TaggedProcess | undefined {
    this.startupProcesses ??= taggedProcesses({ home: this.home });
    const p = this.startupProcesses.find((x) => x.instanceId === instanceId && x.poolName === poolName);
    return p && isOurProcess(p.pid, instanceId) ? p : undefined;
  }

  /**
   * The pid of a state's process. For an intent without one, the tagged process if it runs
   * (its pid is then written down); null means nothing runs for it.
   */
  private pidOf(s: LocalInstanceState): number | null {
    if (s.pid !== null) return s.pid;
    const pid = findInstanceProcess(s.instanceId, { home: this.home, poolName: s.poolName });
    if (pid !== null) this.writeState({ ...s, pid });
    return pid;
  }

  private async view(s: LocalInstanceState): Promise<ProviderInstance | null> {
    const pid = this.pidOf(s);
    // An intent with no process: nothing exists yet (the launch step starts it again).
    if (pid === null) return null;
    const alive = isOurProcess(pid, s.instanceId);
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
      endedAt: alive ? null : (s.stoppingAt ?? null),
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
    return this.views(this.allStates());
  }

  private async views(states: LocalInstanceState[]): Promise<ProviderInstance[]> {
    return (await Promise.all(states.map((s) => this.view(s)))).filter((v): v is ProviderInstance => v !== null);
  }

  /**
   * Every instance of the pool: the state files, and any tagged process without one (left by
   * an older version or a lost file), which gets its state file back so the reconciler can
   * adopt or end it like any other.
   */
  async list(poolName: string): Promise<ProviderInstance[]> {
    const states = this.allStates().filter((s) => s.poolName === poolName);
    const known = new Set(states.map((s) => s.instanceId));
    for (const p of taggedProcesses({ home: this.home, poolName })) {
      if (known.has(p.instanceId)) continue;
      const s = strayToState(p, poolName);
      this.writeState(s);
      states.push(s);
    }
    return [...(await this.views(states)), ...this.tombstones().filter((t) => t.poolName === poolName && !known.has(t.instanceId)).map(tombstoneView)];
  }

  async describe(providerIds: string[]): Promise<ProviderInstance[]> {
    const wanted = new Set(providerIds);
    const live = await this.views(this.allStates().filter((s) => wanted.has(s.providerId)));
    const seen = new Set(live.map((v) => v.providerId));
    return [...live, ...this.tombstones().filter((t) => wanted.has(t.providerId) && !seen.has(t.providerId)).map(tombstoneView)];
  }

  private tombstoneFile(instanceId: string): string {
    return path.join(this.dir, `${instanceId}.ended`);
  }

  /** The tombstones of the last day (older ones are removed). */
  private tombstones(): Tombstone[] {
    const out: Tombstone[] = [];
    const now = Date.now();
    for (const f of readdirSync(this.dir).filter((x) => x.endsWith(".ended"))) {
      const file = path.join(this.dir, f);
      try {
        const t = JSON.parse(readFileSync(file, "utf8")) as Tombstone;
        if (now - t.endedAt > TOMBSTONE_MS) rmSync(file, { force: true });
        else out.push(t);
      } catch {
        rmSync(file, { force: true });
      }
    }
    return out;
  }

  private stateForRef(ref: InstanceRef): LocalInstanceState | null {
    return this.readState(ref.id) ?? this.allStates().find((s) => s.providerId === ref.providerId) ?? null;
  }

  async terminate(refs: InstanceRef[]): Promise<TerminatedAt[]> {
    const ended = await Promise.all(refs.map(async (ref) => ({ providerId: ref.providerId ?? "", endedAt: await this.terminateOne(ref) })));
    return ended.filter((e): e is TerminatedAt => e.endedAt !== null && e.providerId !== "");
  }

  /** When the instance ended, if known: now for one it stopped, the mark or tombstone a crashed run left. */
  private async terminateOne(ref: InstanceRef): Promise<number | null> {
    const s = this.stateForRef(ref) ?? this.strayState(ref);
    if (!s) return this.tombstoneOf(ref.id)?.endedAt ?? null;
    if (s.runtime === "docker") {
      await new Promise<void>((resolve) => {
        const p = spawn("docker", ["rm", "-f", containerName(s.instanceId)], { stdio: "ignore" });
        p.on("exit", () => resolve());
        p.on("error", () => resolve());
      });
    }
    const pid = this.pidOf(s);
    // Already gone: it ended when a run before a crash stopped it (its mark), or at an unknown time.
    let endedAt: number | null = s.stoppingAt ?? null;
    if (pid !== null && isOurProcess(pid, s.instanceId)) {
      // Written first, so a crash before the tombstone still tells when it ended.
      if (s.stoppingAt === undefined) this.writeState({ ...s, pid, stoppingAt: Date.now() });
      killGroup(pid, "SIGTERM");
      await this.untilGone(pid, s.instanceId, 3000);
      if (isOurProcess(pid, s.instanceId)) killGroup(pid, "SIGKILL");
      endedAt = Date.now();
    }
    rmSync(this.appDir(s.instanceId), { recursive: true, force: true });
    const tomb: Tombstone = { instanceId: s.instanceId, providerId: s.providerId, poolName: s.poolName, purpose: s.purpose, startedAt: s.startedAt, endedAt: endedAt ?? Date.now() };
    writeFileSync(`${this.tombstoneFile(s.instanceId)}.tmp`, JSON.stringify(tomb));
    renameSync(`${this.tombstoneFile(s.instanceId)}.tmp`, this.tombstoneFile(s.instanceId));
    this.files.remove(this.stateFile(s.instanceId));
    rmSync(path.join(this.dir, `${s.instanceId}.log`), { force: true });
    rmSync(this.noticeFile(s.instanceId), { force: true });
    return endedAt;
  }

  private tombstoneOf(instanceId: string): Tombstone | null {
    try {
      return JSON.parse(readFileSync(this.tombstoneFile(instanceId), "utf8")) as Tombstone;
    } catch {
      return null;
    }
  }

  /**
   * Waits until the process is gone, at most `ms`: for a process this backend spawned, its exit
   * event; for one a previous backend left, polls that start at 2 ms and back off to 50 ms
   * (a fixed 50 ms poll made every termination cost at least 50 ms).
   */
  private async untilGone(pid: number, instanceId: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    const exited = this.exits.get(instanceId);
    if (exited) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
      clearTimeout(timer);
      this.exits.delete(instanceId);
      return;
    }
    for (let wait = 2; Date.now() < deadline && isOurProcess(pid, instanceId); wait = Math.min(50, wait * 2)) await sleep(wait);
  }

  /** A tagged process that has no state file, as a state to terminate it by. */
  private strayState(ref: InstanceRef): LocalInstanceState | null {
    const p = taggedProcesses({ home: this.home }).find((x) => x.instanceId === ref.id || localProviderId(x.instanceId) === ref.providerId);
    return p ? strayToState(p, p.poolName ?? "") : null;
  }

  async assign(ref: InstanceRef, userId: string): Promise<void> {
    const s = this.stateForRef(ref);
    if (s && s.ownerId !== userId) this.rewriteState({ ...s, ownerId: userId });
  }

  async release(): Promise<void> {}

  async connect(ref: InstanceRef, _purpose: PurposeConfig, req: ConnectRequest): Promise<ConnectionResponse> {
    const s = this.stateForRef(ref);
    if (!s || s.pid === null || !isOurProcess(s.pid, s.instanceId)) {
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
    if (!s || s.runtime !== "jupyter" || s.pid === null || !isOurProcess(s.pid, s.instanceId)) return false;
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
   * instance, read here once a second. One listing of the directory finds the notices: trying
   * each instance's file failed (and built an exception) 1,000 times a second with 1,000
   * spares, a 20-40 ms block of the event loop every second and most of an idle pool's CPU.
   */
  async observe(refs: () => Promise<InstanceRef[]>, handle: (o: InstanceObservation) => Promise<void>, signal: AbortSignal): Promise<void> {
    const notices = new Set(readdirSync(this.dir).filter((f) => f.endsWith(".notice.json")));
    for (const ref of notices.size ? await refs() : []) {
      if (!ref.providerId || !notices.has(`${ref.id}.notice.json`)) continue;
      let text: string;
      try {
        text = readFileSync(this.noticeFile(ref.id), "utf8");
      } catch {
        continue;
      }
      const o = parseNotice(ref.providerId, text);
      if (o) await handle(o);
    }
    await sleepUnlessAborted(1000, signal);
  }

  async close(): Promise<void> {}
}

function tombstoneView(t: Tombstone): ProviderInstance {
  return {
    providerId: t.providerId,
    instanceId: t.instanceId,
    poolName: t.poolName,
    purpose: t.purpose,
    state: "terminated",
    ready: false,
    stateReason: "stopped by the pool",
    interrupted: false,
    privateDnsName: null,
    instanceType: null,
    market: "local",
    availabilityZone: "local",
    launchedAt: t.startedAt,
    endedAt: t.endedAt,
  };
}

/** A state for a tagged process found without one; its tags say all but the runtime. */
function strayToState(p: TaggedProcess, poolName: string): LocalInstanceState {
  return { instanceId: p.instanceId, providerId: localProviderId(p.instanceId), poolName, purpose: p.purpose ?? "", runtime: "command", pid: p.pid, port: p.port ?? 0, ownerId: null, startedAt: Date.now() };
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
import type { LocalRuntime, PurposeConfig } from "../../config/schema";
import { PoolError } from "../../errors";
import { freePort } from "../../net/free-port";
import type { ConnectRequest, InstanceRef, LaunchRequest, LaunchResult, Provider, ProviderInstance } from "../types";
import { buildLaunchCommand, containerName, detectRuntime, placeholderCommand, type ConcreteRuntime, type LaunchCommand } from "./runtimes";

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
}

export interface LocalProviderOptions {
  dataDir: string;
  runtime: LocalRuntime;
  command: string | null;
  /** Directory of the running backend code, to find the placeholder app. */
  codeDir?: string;
  /** Working directory of launched processes. */
  cwd?: string;
}

/** Env var put on every instance process so a recycled pid is never taken for our instance. */
export const INSTANCE_ENV = "RSTUDIO_POOL_INSTANCE";


function httpAnswers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/", method: "GET", timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(true);
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
  private runtime: ConcreteRuntime | null = null;
  private readonly placeholder: LaunchCommand;

  constructor(private readonly options: LocalProviderOptions) {
    this.dir = path.join(options.dataDir, "local-instances");
    mkdirSync(this.dir, { recursive: true });
    this.placeholder = placeholderCommand(options.codeDir ?? __dirname);
  }

  /** The runtime in use, detected once when `auto`. */
  async resolveRuntime(): Promise<ConcreteRuntime> {
    if (!this.runtime) {
      this.runtime = this.options.runtime === "auto" ? await detectRuntime(this.options.command) : this.options.runtime;
    }
    return this.runtime;
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
    const runtime = await this.resolveRuntime();
    const port = await freePort();
    const cmd = buildLaunchCommand({
      runtime,
      port,
      instanceId: req.instanceId,
      purpose: req.purpose.name,
      dataDir: this.options.dataDir,
      command: this.options.command,
      rstudioImage: req.purpose.ec2?.rstudioImage ?? "rocker/rstudio:4.4",
      placeholder: this.placeholder,
    });
    const logFile = path.join(this.dir, `${req.instanceId}.log`);
    const out = openSync(logFile, "a");
    let child;
    try {
      child = spawn(cmd.file, cmd.args, {
        cwd: this.options.cwd ?? process.cwd(),
        detached: true,
        stdio: ["ignore", out, out],
        env: { ...process.env, [INSTANCE_ENV]: req.instanceId, PORT: String(port) },
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
    this.writeState({ instanceId: req.instanceId, providerId, poolName: req.poolName, purpose: req.purpose.name, runtime, pid, port, ownerId: req.ownerId, startedAt: Date.now() });
    return { providerId, instanceType: `local-${runtime}`, market: "local", availabilityZone: "local", hourlyPrice: price };
  }

  private async view(s: LocalInstanceState): Promise<ProviderInstance> {
    const alive = isOurProcess(s.pid, s.instanceId);
    const ready = alive && (await httpAnswers(s.port));
    return {
      providerId: s.providerId,
      instanceId: s.instanceId,
      poolName: s.poolName,
      purpose: s.purpose,
      state: alive ? "running" : "terminated",
      ready,
      stateReason: alive ? null : "process exited",
      interrupted: false,
      privateDnsName: `127.0.0.1:${s.port}`,
      instanceType: `local-${s.runtime}`,
      market: "local",
      availabilityZone: "local",
      launchedAt: s.startedAt,
    };
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
    rmSync(this.stateFile(s.instanceId), { force: true });
    rmSync(path.join(this.dir, `${s.instanceId}.log`), { force: true });
  }

  async assign(ref: InstanceRef, userId: string): Promise<void> {
    const s = this.stateForRef(ref);
    if (s) this.writeState({ ...s, ownerId: userId });
  }

  async release(): Promise<void> {}

  async connect(ref: InstanceRef, _purpose: PurposeConfig, _req: ConnectRequest): Promise<ConnectionResponse> {
    const s = this.stateForRef(ref);
    if (!s || !isOurProcess(s.pid, s.instanceId)) {
      throw new PoolError("INSTANCE_NOT_RUNNING", `Instance "${ref.id}" is not running any more; claim a new one.`);
    }
    return { kind: "direct", host: "127.0.0.1", port: s.port, path: "/" };
  }

  async isBusy(): Promise<boolean> {
    // A local process has no R session to ask; idle means idle.
    return false;
  }

  async priceOf(purpose: PurposeConfig): Promise<number | null> {
    return purpose.hourlyPrice ?? 0;
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

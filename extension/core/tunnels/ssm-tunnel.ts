/**
 * Supervises one session-manager-plugin port forward. It starts the plugin on a fixed local
 * port and waits until RStudio answers through it. SSM sessions drop (idle WebSocket closes,
 * network changes, laptop sleep): when the plugin exits, the tunnel asks the backend for a fresh
 * session and restarts the plugin on the SAME port, backing off between attempts, so the panel
 * recovers by itself. It gives up only when the backend says the instance is gone. Disposing
 * kills the plugin; no child outlives the tunnel.
 */
import type { SsmConnection } from "../../../contract";
import { Emitter, type Clock, type Log } from "../emitter";
import { ExtensionError, describeFailure } from "../errors";
import { waitForHttp } from "./net";
import { buildPluginInvocation, loggableArgs } from "./plugin-args";

export interface SpawnedProcess {
  readonly pid?: number;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal?: NodeJS.Signals): boolean;
  once(event: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: "error", listener: (err: Error) => void): unknown;
  readonly stdout?: NodeJS.ReadableStream | null;
  readonly stderr?: NodeJS.ReadableStream | null;
}
export type SpawnFn = (command: string, args: string[], options: { env: NodeJS.ProcessEnv }) => SpawnedProcess;

export type SsmTunnelState = "connecting" | "up" | "reconnecting" | "closed";

export const DEFAULT_BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000];
/** A plugin that stayed up this long was a good session: the next drop starts the backoff over. */
const STABLE_MS = 30_000;

export interface SsmTunnelOptions {
  instanceId: string;
  /** The 127.0.0.1 port the plugin listens on; kept across restarts. */
  port: number;
  pluginPath: string;
  /** A fresh SSM session from the backend (POST /v1/instances/:id/connection). */
  fetchConnection: () => Promise<SsmConnection>;
  spawn: SpawnFn;
  clock: Clock;
  log: Log;
  backoffMs?: number[];
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export class SsmTunnel {
  private child: SpawnedProcess | null = null;
  private timer: unknown = null;
  private attempt = 0;
  private upSince = 0;
  private disposed = false;
  private current: SsmTunnelState = "connecting";
  private readonly changed = new Emitter<SsmTunnelState>();
  readonly onDidChangeState = this.changed.event;
  /** How many times the plugin was started (tests and the log read it). */
  starts = 0;
  lastError: string | null = null;

  constructor(private readonly o: SsmTunnelOptions) {}

  get state(): SsmTunnelState {
    return this.current;
  }

  /** First start with the connection already fetched; throws when RStudio never answers. */
  async start(conn: SsmConnection, signal?: AbortSignal): Promise<void> {
    await this.spawnAndWait(conn, signal);
  }

  /** Restart now (the panel's retry button), skipping the backoff wait. */
  retryNow(): void {
    if (this.disposed || this.current === "up") return;
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    void this.restart();
  }

  private setState(s: SsmTunnelState): void {
    if (s === this.current) return;
    this.current = s;
    this.changed.fire(s);
  }

  private async spawnAndWait(conn: SsmConnection, signal?: AbortSignal): Promise<void> {
    const inv = buildPluginInvocation(conn, this.o.port);
    this.o.log.info(`starting session-manager-plugin for ${this.o.instanceId} on 127.0.0.1:${this.o.port}: ${this.o.pluginPath} ${loggableArgs(inv.args)}`);
    const child = this.o.spawn(this.o.pluginPath, inv.args, { env: { ...(this.o.env ?? process.env), ...inv.env } });
    this.child = child;
    this.starts++;
    let dead = false;
    child.once("error", (err) => {
      dead = true;
      this.o.log.error(`session-manager-plugin for ${this.o.instanceId} could not start: ${err.message}`);
      this.onExit(child);
    });
    child.once("exit", (code, sig) => {
      dead = true;
      this.o.log.info(`session-manager-plugin for ${this.o.instanceId} exited (${sig ?? `code ${code}`})`);
      this.onExit(child);
    });
    const relay = (stream: NodeJS.ReadableStream | null | undefined) =>
      stream?.on("data", (b: Buffer) => {
        for (const line of String(b).split(/\r?\n/)) if (line.trim()) this.o.log.info(`[plugin ${this.o.instanceId}] ${line.trim().slice(0, 300)}`);
      });
    relay(child.stdout);
    relay(child.stderr);
    await waitForHttp(this.o.port, { clock: this.o.clock, timeoutMs: this.o.readyTimeoutMs ?? 60_000, signal, isDead: () => dead || this.disposed });
    if (this.disposed || dead) throw new ExtensionError("TUNNEL_FAILED", "the tunnel closed while it was starting");
    this.upSince = this.o.clock.now();
    this.lastError = null;
    this.setState("up");
  }

  private onExit(child: SpawnedProcess): void {
    if (child !== this.child) return; // an old process; its successor is already running
    this.child = null;
    if (this.disposed || this.current === "connecting") return; // start() reports it
    if (this.upSince && this.o.clock.now() - this.upSince >= STABLE_MS) this.attempt = 0;
    this.upSince = 0;
    this.setState("reconnecting");
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.disposed || this.timer !== null) return;
    const backoff = this.o.backoffMs ?? DEFAULT_BACKOFF_MS;
    const wait = backoff[Math.min(this.attempt, backoff.length - 1)]!;
    this.attempt++;
    this.o.log.info(`reconnecting ${this.o.instanceId} in ${wait} ms (attempt ${this.attempt})`);
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      void this.restart();
    }, wait);
  }

  private async restart(): Promise<void> {
    if (this.disposed) return;
    try {
      const conn = await this.o.fetchConnection();
      if (this.disposed) return;
      await this.spawnAndWait(conn);
    } catch (err) {
      if (this.disposed) return;
      this.lastError = describeFailure("reconnect", this.o.instanceId, err).message;
      this.o.log.warn(this.lastError);
      if (err instanceof ExtensionError && (err.code === "INSTANCE_NOT_RUNNING" || err.code === "INSTANCE_NOT_FOUND")) {
        await this.dispose();
        return;
      }
      this.killChild();
      this.scheduleRestart();
    }
  }

  private killChild(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const force = this.o.clock.setTimeout(() => child.kill("SIGKILL"), 3000);
      child.once("exit", () => {
        this.o.clock.clearTimeout(force);
        resolve();
      });
      child.kill("SIGTERM");
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.killChild();
    this.setState("closed");
    this.changed.dispose();
  }
}

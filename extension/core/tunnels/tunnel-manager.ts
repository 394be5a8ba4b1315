/**
 * One tunnel per instance, shared by every panel that shows it. A tunnel is a local forwarder on
 * 127.0.0.1 (the port panels and the browser use; it never changes) in front of the upstream:
 * the instance itself for `direct` connections, and for `ssm` the built-in SSM client or a
 * supervised session-manager-plugin (rstudioPool.tunnel: native, plugin, or auto = native, then
 * the plugin when the session asks for what the built-in client cannot do).
 * Tunnels close when their instance is released or ends, and all of them on dispose.
 */
import type { BackendClient } from "../backend-client";
import type { AppName, SsmConnection } from "../../../contract";
import { Emitter, type Clock, type Log } from "../emitter";
import { describeFailure, ExtensionError, isCancel } from "../errors";
import { TcpForwarder } from "./forwarder";
import { freePort, waitForHttp } from "./net";
import { SsmTunnel, type SpawnFn } from "./ssm-tunnel";
import { NativeSsmTunnel } from "../ssm/native-tunnel";
import type { TunnelMode } from "../settings";

/** What both SSM upstreams (the built-in client, the plugin's supervisor) offer the tunnel. */
export interface SsmUpstream {
  readonly state: "connecting" | "up" | "reconnecting" | "closed";
  readonly lastError: string | null;
  onDidChangeState(listener: (s: "connecting" | "up" | "reconnecting" | "closed") => void): { dispose(): void };
  start(conn: SsmConnection, signal?: AbortSignal): Promise<void>;
  retryNow(): void;
  dispose(): Promise<void>;
}

/** Failures of the built-in client that session-manager-plugin can get past (auto mode). */
const PLUGIN_CAN_DO = new Set(["SSM_KMS_REQUIRED", "SSM_AGENT_TOO_OLD"]);

export type TunnelState = "connecting" | "up" | "reconnecting" | "down" | "closed";

export interface TunnelManagerDeps {
  client: Pick<BackendClient, "connection"> & Partial<Pick<BackendClient, "resumeSession" | "endSession">>;
  /** rstudioPool.tunnel, read when a tunnel opens; default native. */
  tunnelMode?: () => TunnelMode;
  pluginPath: () => string;
  checkPlugin: (path: string) => Promise<string>;
  spawn: SpawnFn;
  clock: Clock;
  log: Log;
  onTraffic?: (instanceId: string) => void;
  readyTimeoutMs?: number;
  backoffMs?: number[];
}

export class InstanceTunnel {
  private forwarder: TcpForwarder;
  private upstream = { host: "127.0.0.1", port: 0 };
  private ssm: SsmUpstream | null = null;
  private current: TunnelState = "connecting";
  private readonly changed = new Emitter<TunnelState>();
  readonly onDidChangeState = this.changed.event;
  localPort = 0;
  kind: "direct" | "ssm" | null = null;
  /** Which SSM client carries the tunnel, once open. */
  via: "native" | "plugin" | null = null;
  /** When the tunnel was made (a list fetched before that may not show its instance yet). */
  readonly createdAt: number;
  /** The user-facing reason the tunnel is down, when it is. */
  lastError: string | null = null;

  constructor(
    readonly instanceId: string,
    private readonly d: TunnelManagerDeps,
    /** Which of the instance's apps this tunnel reaches; absent: its main app. */
    readonly app?: AppName,
  ) {
    this.forwarder = new TcpForwarder({ upstream: () => this.upstream, onTraffic: () => d.onTraffic?.(instanceId) });
    this.createdAt = d.clock.now();
  }

  get state(): TunnelState {
    return this.current;
  }
  /** The SSM upstream, when this is an SSM tunnel (tests look at it). */
  get ssmTunnel(): SsmUpstream | null {
    return this.ssm;
  }

  private setState(s: TunnelState): void {
    if (this.current === s || this.current === "closed") return;
    this.current = s;
    this.changed.fire(s);
  }

  /** Connects and resolves once RStudio answers through the local port. */
  async open(signal?: AbortSignal): Promise<void> {
    if (!this.localPort) this.localPort = await this.forwarder.listen();
    this.setState("connecting");
    try {
      // The plugin's own port is chosen before asking, because the backend builds the SSM
      // parameters with it; a direct connection ignores it.
      const pluginPort = this.ssm ? 0 : await freePort();
      const conn = await this.d.client.connection(this.instanceId, pluginPort || undefined, signal, this.app);
      this.kind = conn.kind;
      if (conn.kind === "direct") {
        this.upstream = { host: conn.host, port: conn.port };
        await waitForHttp(this.localPort, { clock: this.d.clock, timeoutMs: this.d.readyTimeoutMs ?? 60_000, signal, path: conn.path });
      } else {
        await this.openSsm(conn, pluginPort, signal);
      }
      this.lastError = null;
      this.setState("up");
      this.d.log.info(`tunnel for ${this.instanceId} is up: 127.0.0.1:${this.localPort} (${conn.kind})`);
    } catch (err) {
      if (!isCancel(err)) {
        this.lastError = describeFailure("open the tunnel to", this.instanceId, err).message;
        this.d.log.warn(this.lastError);
      }
      await this.ssm?.dispose();
      this.ssm = null;
      this.setState("down");
      throw err;
    }
  }

  private async openSsm(conn: SsmConnection, pluginPort: number, signal?: AbortSignal): Promise<void> {
    const mode = this.d.tunnelMode?.() ?? "native";
    // Either client listens on pluginPort; the forwarder in front keeps the panels' port.
    this.upstream = { host: "127.0.0.1", port: pluginPort };
    if (mode === "plugin") return this.startUpstream(await this.pluginUpstream(pluginPort), "plugin", conn, signal);
    try {
      await this.startUpstream(this.nativeUpstream(pluginPort), "native", conn, signal);
    } catch (err) {
      if (mode !== "auto" || !(err instanceof ExtensionError) || !PLUGIN_CAN_DO.has(err.code)) throw err;
      this.d.log.warn(`${err.message}; rstudioPool.tunnel is "auto", so trying session-manager-plugin`);
      await this.ssm?.dispose();
      this.ssm = null;
      const plugin = await this.pluginUpstream(pluginPort);
      const fresh = await this.d.client.connection(this.instanceId, pluginPort, signal);
      if (fresh.kind !== "ssm") throw new ExtensionError("TUNNEL_FAILED", "the backend switched the connection kind");
      await this.startUpstream(plugin, "plugin", fresh, signal);
    }
  }

  private fetchSsm(pluginPort: number): () => Promise<SsmConnection> {
    return async () => {
      const fresh = await this.d.client.connection(this.instanceId, pluginPort, undefined, this.app);
      if (fresh.kind !== "ssm") throw new ExtensionError("TUNNEL_FAILED", "the backend switched the connection kind");
      return fresh;
    };
  }

  private nativeUpstream(port: number): SsmUpstream {
    const client = this.d.client;
    return new NativeSsmTunnel({
      instanceId: this.instanceId,
      port,
      clock: this.d.clock,
      log: this.d.log,
      backoffMs: this.d.backoffMs,
      readyTimeoutMs: this.d.readyTimeoutMs,
      fetchConnection: this.fetchSsm(port),
      resume: async (sessionId) => {
        if (!client.resumeSession) throw new ExtensionError("SSM_SESSION_NOT_FOUND", "this backend cannot resume sessions");
        return client.resumeSession(this.instanceId, sessionId);
      },
      terminate: async (sessionId) => void (await client.endSession?.(this.instanceId, sessionId)),
    });
  }

  private async pluginUpstream(pluginPort: number): Promise<SsmUpstream> {
    const pluginPath = this.d.pluginPath();
    await this.d.checkPlugin(pluginPath);
    return new SsmTunnel({
      instanceId: this.instanceId,
      port: pluginPort,
      pluginPath,
      spawn: this.d.spawn,
      clock: this.d.clock,
      log: this.d.log,
      backoffMs: this.d.backoffMs,
      readyTimeoutMs: this.d.readyTimeoutMs,
      fetchConnection: this.fetchSsm(pluginPort),
    });
  }

  private async startUpstream(ssm: SsmUpstream, via: "native" | "plugin", conn: SsmConnection, signal?: AbortSignal): Promise<void> {
    this.ssm = ssm;
    this.via = via;
    ssm.onDidChangeState((s) => {
      if (this.ssm !== ssm) return;
      if (s === "up") this.setState("up");
      else if (s === "reconnecting") this.setState("reconnecting");
      else if (s === "closed") {
        this.lastError = ssm.lastError ?? "the instance is no longer running";
        this.setState("down");
      }
    });
    await ssm.start(conn, signal);
  }

  /** Where the tunnel's far end is (the instance, or the plugin's port): a probe there is not the user's traffic. */
  upstreamAddress(): { host: string; port: number } | null {
    return this.current === "up" && this.upstream.port ? { ...this.upstream } : null;
  }

  /** The panel's retry button: reconnect now. */
  async retry(): Promise<void> {
    if (this.current === "closed") return;
    if (this.ssm && this.ssm.state !== "closed") {
      this.ssm.retryNow();
      return;
    }
    this.ssm = null;
    await this.open().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.current === "closed") return;
    const ssm = this.ssm;
    this.ssm = null;
    this.setState("closed");
    await ssm?.dispose();
    await this.forwarder.close();
    this.changed.dispose();
    this.d.log.info(`tunnel for ${this.instanceId} closed`);
  }
}

export class TunnelManager {
  private readonly tunnels = new Map<string, InstanceTunnel>();
  private readonly opening = new Map<string, Promise<InstanceTunnel>>();
  private disposed = false;

  constructor(private readonly d: TunnelManagerDeps) {}

  get(instanceId: string, app?: AppName): InstanceTunnel | undefined {
    return this.tunnels.get(tunnelKey(instanceId, app));
  }

  /** Every open tunnel (one per instance and app). */
  all(): InstanceTunnel[] {
    return [...this.tunnels.values()];
  }

  /** The tunnel to one app of the instance (its main app by default), opened once and shared; one that is down is reopened. */
  async open(instanceId: string, signal?: AbortSignal, app?: AppName): Promise<InstanceTunnel> {
    if (this.disposed) throw new ExtensionError("TUNNEL_FAILED", "the extension is shutting down");
    const key = tunnelKey(instanceId, app);
    const pending = this.opening.get(key);
    if (pending) return pending;
    const existing = this.tunnels.get(key);
    if (existing && existing.state !== "down" && existing.state !== "closed") return existing;
    const tunnel = existing && existing.state === "down" ? existing : new InstanceTunnel(instanceId, this.d, app);
    this.tunnels.set(key, tunnel);
    const p = tunnel
      .open(signal)
      .then(() => tunnel)
      .finally(() => this.opening.delete(key));
    this.opening.set(key, p);
    return p;
  }

  /** Closes the instance's tunnels (to each of its apps). */
  async close(instanceId: string): Promise<void> {
    const doomed = [...this.tunnels.entries()].filter(([, t]) => t.instanceId === instanceId);
    for (const [key] of doomed) this.tunnels.delete(key);
    await Promise.all(doomed.map(([, t]) => t.close()));
  }

  /** Closes tunnels whose instance is no longer running (released, reaped, interrupted). */
  async closeAllExcept(runningIds: ReadonlySet<string>): Promise<void> {
    await this.closeWhere((t) => !runningIds.has(t.instanceId));
  }

  /** Closes the tunnels the predicate picks, except those still opening. */
  async closeWhere(pick: (t: InstanceTunnel) => boolean): Promise<void> {
    const doomed = [...this.tunnels.entries()].filter(([key, t]) => !this.opening.has(key) && pick(t));
    for (const [key] of doomed) this.tunnels.delete(key);
    await Promise.all(doomed.map(([, t]) => t.close()));
  }

  get size(): number {
    return this.tunnels.size;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const all = [...this.tunnels.values()];
    this.tunnels.clear();
    await Promise.all(all.map((t) => t.close()));
  }
}

/** One tunnel per instance and app: the main app's key is the instance id (as before apps existed). */
export function tunnelKey(instanceId: string, app?: AppName): string {
  return app ? `${instanceId}#${app}` : instanceId;
}

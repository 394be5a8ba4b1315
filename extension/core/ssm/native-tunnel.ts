/**
 * The built-in SSM port forward: a listener on 127.0.0.1 whose every connection becomes one smux
 * stream of a single SSM session, so a browser's parallel connections share it. When the
 * service drops the WebSocket (it does after a while), the tunnel asks the backend to resume the
 * session (ResumeSession needs AWS credentials, which only the backend has) and reconnects with
 * the new token, keeping its sequence numbers: open connections only pause. When the session
 * itself is gone, it starts a new one on the same port (open connections are lost then).
 * Disposing ends the session (TerminateSession through the backend) and closes every socket.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { SsmConnection } from "../../../contract";
import { Emitter, type Clock, type Log } from "../emitter";
import { describeFailure, ExtensionError } from "../errors";
import { waitForHttp } from "../tunnels/net";
import { DataChannel } from "./data-channel";
import { FlagValue } from "./message";
import { SmuxClient } from "./smux-client";

export type NativeTunnelState = "connecting" | "up" | "reconnecting" | "closed";

export interface ResumedSession {
  streamUrl: string;
  tokenValue: string;
}

export interface NativeTunnelOptions {
  instanceId: string;
  /** The 127.0.0.1 port to listen on; kept across sessions. */
  port: number;
  fetchConnection: () => Promise<SsmConnection>;
  /** ResumeSession through the backend. */
  resume: (sessionId: string) => Promise<ResumedSession>;
  /** TerminateSession through the backend (best effort). */
  terminate: (sessionId: string) => Promise<void>;
  clock: Clock;
  log: Log;
  backoffMs?: number[];
  readyTimeoutMs?: number;
  maxInputPayload?: number;
}

const DEFAULT_BACKOFF_MS = [0, 1000, 2000, 5000, 10_000, 30_000];
const SMUX_KEEPALIVE_MS = 10_000;

interface Live {
  conn: SsmConnection;
  channel: DataChannel;
  smux: SmuxClient;
  sockets: Set<Socket>;
}

export class NativeSsmTunnel {
  private server: Server | null = null;
  private live: Live | null = null;
  private current: NativeTunnelState = "connecting";
  private disposed = false;
  private recovering = false;
  private attempt = 0;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private readonly changed = new Emitter<NativeTunnelState>();
  readonly onDidChangeState = this.changed.event;
  lastError: string | null = null;
  /** Counters for tests and the log. */
  readonly counts = { sessions: 0, resumes: 0, connections: 0, refused: 0 };

  constructor(private readonly o: NativeTunnelOptions) {}

  get state(): NativeTunnelState {
    return this.current;
  }
  get sessionId(): string | null {
    return this.live?.conn.sessionId ?? null;
  }
  /** The current data channel (tests read its counters). */
  get channel(): DataChannel | null {
    return this.live?.channel ?? null;
  }

  private setState(s: NativeTunnelState): void {
    if (s === this.current || this.current === "closed") return;
    this.current = s;
    this.changed.fire(s);
  }

  /** Listens, opens the session and resolves once RStudio answers through it. */
  async start(conn: SsmConnection, signal?: AbortSignal): Promise<void> {
    await this.listen();
    await this.openSession(conn);
    this.keepAliveTimer = setInterval(() => this.live?.channel.ready && this.live.smux.keepAlive(), SMUX_KEEPALIVE_MS);
    this.keepAliveTimer.unref?.();
    try {
      await waitForHttp(this.o.port, { clock: this.o.clock, timeoutMs: this.o.readyTimeoutMs ?? 60_000, signal, isDead: () => this.disposed || !this.live || this.counts.refused > 0 });
    } catch (err) {
      // Say what actually failed: the agent could not reach the port, or the session ended.
      if (this.lastError && !(err instanceof Error && err.name === "AbortError")) throw new ExtensionError("TUNNEL_FAILED", this.lastError, { cause: err });
      throw err;
    }
    this.lastError = null;
    this.setState("up");
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.o.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
  }

  private async openSession(conn: SsmConnection): Promise<void> {
    const channel = new DataChannel({ streamUrl: conn.streamUrl, tokenValue: conn.tokenValue, log: this.o.log, maxInputPayload: this.o.maxInputPayload });
    const smux = new SmuxClient((bytes) => channel.write(bytes));
    const live: Live = { conn, channel, smux, sockets: new Set() };
    channel.onOutput.event((bytes) => smux.feed(bytes));
    channel.onDrain.event(() => {
      for (const s of live.sockets) s.resume();
    });
    channel.onFlag.event((flag) => {
      if (flag === FlagValue.ConnectToPortError) {
        this.counts.refused++;
        const port = conn.parameters.portNumber?.[0] ?? "?";
        this.lastError = `the instance refused the connection to port ${port} (is RStudio Server running?)`;
        this.o.log.warn(`SSM ${conn.sessionId}: ${this.lastError}`);
      } else if (flag === FlagValue.TerminateSession) {
        this.o.log.info(`SSM ${conn.sessionId}: the agent ended the session`);
      }
    });
    channel.onDisconnect.event(({ code }) => {
      if (this.live !== live) return;
      this.o.log.info(`SSM ${conn.sessionId}: the data channel closed (WebSocket ${code}); resuming the session`);
      void this.recover(false);
    });
    channel.onEnd.event((err) => {
      if (this.live !== live) return;
      this.lastError = err.message;
      this.o.log.warn(`SSM ${conn.sessionId}: ${err.message}`);
      // Before the handshake finished, open() rejects and its caller reports or retries.
      if (!channel.ready || err.code === "SSM_KMS_REQUIRED" || err.code === "SSM_AGENT_TOO_OLD") return;
      void this.recover(true);
    });
    this.o.log.info(`opening SSM session ${conn.sessionId} to ${conn.target} (built-in client) on 127.0.0.1:${this.o.port}`);
    this.live = live;
    this.counts.sessions++;
    try {
      await channel.open();
    } catch (err) {
      if (this.live === live) this.live = null;
      channel.close(false);
      throw err;
    }
  }

  private accept(socket: Socket): void {
    const live = this.live;
    if (!live || this.disposed) {
      socket.destroy();
      return;
    }
    this.counts.connections++;
    live.sockets.add(socket);
    socket.setNoDelay(true);
    let open = true;
    const id = live.smux.open({
      onData: (data) => {
        if (!socket.destroyed) socket.write(data);
      },
      onFin: () => {
        open = false;
        socket.end();
      },
    });
    socket.on("data", (data: Buffer) => {
      live.smux.write(id, data);
      if (live.channel.full) socket.pause();
    });
    const finish = () => {
      live.sockets.delete(socket);
      if (open) live.smux.close(id);
      open = false;
    };
    socket.once("end", finish);
    socket.once("close", finish);
    socket.on("error", () => socket.destroy());
  }

  /** After a drop: resume the session (`ended` false) or start a new one; backs off between tries. */
  private async recover(ended: boolean): Promise<void> {
    if (this.disposed || this.recovering) return;
    this.recovering = true;
    this.setState("reconnecting");
    let sessionGone = ended;
    try {
      while (!this.disposed) {
        const backoff = this.o.backoffMs ?? DEFAULT_BACKOFF_MS;
        const wait = backoff[Math.min(this.attempt, backoff.length - 1)]!;
        this.attempt++;
        if (wait > 0) await new Promise((r) => this.o.clock.setTimeout(() => r(undefined), wait));
        if (this.disposed) return;
        const live = this.live;
        try {
          if (live && !sessionGone) {
            const fresh = await this.o.resume(live.conn.sessionId);
            if (this.disposed) return;
            await live.channel.reconnect(fresh.streamUrl, fresh.tokenValue);
            this.counts.resumes++;
            this.o.log.info(`SSM ${live.conn.sessionId}: resumed; ${live.sockets.size} open connection(s) kept`);
          } else {
            this.dropLive();
            const conn = await this.o.fetchConnection();
            if (this.disposed) return;
            await this.openSession(conn);
          }
          this.attempt = 0;
          this.lastError = null;
          this.setState("up");
          return;
        } catch (err) {
          if (this.disposed) return;
          const code = err instanceof ExtensionError ? err.code : "";
          if (code === "INSTANCE_NOT_RUNNING" || code === "INSTANCE_NOT_FOUND") {
            this.lastError = describeFailure("reconnect", this.o.instanceId, err).message;
            await this.dispose();
            return;
          }
          if (code === "SSM_KMS_REQUIRED" || code === "SSM_AGENT_TOO_OLD") {
            this.lastError = describeFailure("reconnect", this.o.instanceId, err).message;
            await this.dispose();
            return;
          }
          // A session the service no longer knows cannot be resumed: start a new one.
          if (code === "SSM_SESSION_NOT_FOUND" || code === "SSM_SESSION_ENDED") sessionGone = true;
          this.lastError = describeFailure("reconnect", this.o.instanceId, err).message;
          this.o.log.warn(this.lastError);
        }
      }
    } finally {
      this.recovering = false;
    }
  }

  /** The panel's retry button. */
  retryNow(): void {
    if (this.disposed || this.current === "up") return;
    this.attempt = 0;
    void this.recover(!this.live);
  }

  private dropLive(): void {
    const live = this.live;
    this.live = null;
    if (!live) return;
    live.smux.reset();
    for (const s of live.sockets) s.destroy();
    live.channel.close(true);
    void this.o.terminate(live.conn.sessionId).catch(() => undefined);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.dropLive();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.setState("closed");
    this.changed.dispose();
  }
}

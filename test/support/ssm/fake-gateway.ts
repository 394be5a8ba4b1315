/**
 * A fake SSM message gateway on 127.0.0.1 (a `ws` server): it plays the service's data-channel
 * endpoint and the instance's agent at once. It checks the opening text frame and the session
 * token, runs the handshake, speaks smux, dials the instance's real port for each stream, and
 * injects the faults a session asks for (see faults.ts). Sessions are created by the fake SSM API
 * (StartSession) or directly by a test; ResumeSession gives a new token for the same session.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { MessageType } from "../../../extension/core/ssm/message";
import { FakeAgentSession } from "./fake-agent";
import type { AgentShape, GatewayFaults } from "./faults";

export interface GatewaySession {
  sessionId: string;
  target: string;
  token: string;
  agent: FakeAgentSession;
  faults: GatewayFaults;
  connections: number;
  rejectedOpenings: number;
  openings: Array<Record<string, unknown>>;
  resumes: number;
  terminated: boolean;
  socket: WebSocket | null;
  closesDone: number;
}

export interface StartedSession {
  sessionId: string;
  streamUrl: string;
  tokenValue: string;
}

export class FakeSsmGateway {
  readonly sessions = new Map<string, GatewaySession>();
  /** Faults given to every new session unless it brings its own. */
  defaultFaults: GatewayFaults = {};
  shape: AgentShape = {};

  private constructor(
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {
    wss.on("connection", (ws, req) => this.onConnection(ws, req.url ?? ""));
  }

  static async start(): Promise<FakeSsmGateway> {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
    return new FakeSsmGateway(wss, (wss.address() as AddressInfo).port);
  }

  streamUrl(sessionId: string): string {
    return `ws://127.0.0.1:${this.port}/v1/data-channel/${sessionId}?role=publish_subscribe`;
  }

  createSession(opts: { target: string; targetPort: number; sessionId?: string; faults?: GatewayFaults; token?: string }): StartedSession {
    const sessionId = opts.sessionId ?? `rstudio-pool-${randomBytes(8).toString("hex")}`;
    const faults = opts.faults ?? this.defaultFaults;
    const s: GatewaySession = {
      sessionId,
      target: opts.target,
      token: opts.token ?? newToken(),
      agent: new FakeAgentSession(opts.targetPort, faults, this.shape),
      faults,
      connections: 0,
      rejectedOpenings: 0,
      openings: [],
      resumes: 0,
      terminated: false,
      socket: null,
      closesDone: 0,
    };
    this.sessions.set(sessionId, s);
    return { sessionId, streamUrl: this.streamUrl(sessionId), tokenValue: s.token };
  }

  /** ResumeSession: a new token (the old one stops working), same session. Null when unknown or ended. */
  resume(sessionId: string): StartedSession | null {
    const s = this.sessions.get(sessionId);
    if (!s || s.terminated || s.agent.ended) return null;
    s.token = newToken();
    s.resumes++;
    return { sessionId, streamUrl: this.streamUrl(sessionId), tokenValue: s.token };
  }

  terminate(sessionId: string): boolean {
    const s = this.sessions.get(sessionId);
    if (!s) return false;
    s.terminated = true;
    s.agent.end();
    s.socket?.close(1000);
    return true;
  }

  private onConnection(ws: WebSocket, url: string): void {
    const match = /^\/v1\/data-channel\/([^?]+)/.exec(url);
    const s = match ? this.sessions.get(decodeURIComponent(match[1]!)) : undefined;
    if (!s || s.terminated || s.agent.ended) {
      ws.close(4004, "unknown session");
      return;
    }
    let opened = false;
    ws.on("message", (data, isBinary) => {
      if (!opened) {
        opened = this.checkOpening(s, ws, data as Buffer, isBinary);
        return;
      }
      if (!isBinary || s.socket !== ws) return;
      this.fromClient(s, data as Buffer);
    });
    ws.on("close", () => {
      if (s.socket === ws) {
        s.socket = null;
        s.agent.attach(null);
      }
    });
  }

  private checkOpening(s: GatewaySession, ws: WebSocket, data: Buffer, isBinary: boolean): boolean {
    let frame: Record<string, unknown> | null = null;
    try {
      frame = isBinary ? null : (JSON.parse(data.toString("utf8")) as Record<string, unknown>);
    } catch {
      frame = null;
    }
    const ok =
      frame !== null &&
      frame.MessageSchemaVersion === "1.0" &&
      typeof frame.RequestId === "string" &&
      typeof frame.ClientId === "string" &&
      typeof frame.ClientVersion === "string" &&
      frame.TokenValue === s.token;
    if (!ok) {
      s.rejectedOpenings++;
      ws.close(4001, "bad opening frame or token");
      return false;
    }
    s.openings.push({ ...frame, TokenValue: "(checked)" });
    s.connections++;
    s.socket?.terminate();
    s.socket = ws;
    s.agent.onReady = () => this.timedFaults(s);
    s.agent.attach((frame, isData) => this.toClient(s, ws, frame, isData));
    if (s.faults.closeAfterMs !== undefined && s.closesDone < (s.faults.closes ?? 1)) {
      setTimeout(() => {
        if (s.socket !== ws) return;
        s.closesDone++;
        ws.terminate();
      }, s.faults.closeAfterMs).unref();
    }
    return true;
  }

  /** pause_publication now, start_publication `ms` later. */
  pausePublication(sessionId: string, ms: number): void {
    const s = this.sessions.get(sessionId);
    if (!s) throw new Error(`no session ${sessionId}`);
    s.socket?.send(s.agent.control(MessageType.PausePublication));
    s.agent.setPausedMark(true);
    setTimeout(() => {
      s.agent.setPausedMark(false);
      s.socket?.send(s.agent.control(MessageType.StartPublication));
    }, ms).unref();
  }

  private timedFaults(s: GatewaySession): void {
    const f = s.faults;
    if (f.pauseAfterMs !== undefined) setTimeout(() => this.pausePublication(s.sessionId, f.pauseForMs ?? 1000), f.pauseAfterMs).unref();
    if (f.channelClosedAfterMs !== undefined) {
      setTimeout(() => {
        const payload = Buffer.from(JSON.stringify({ MessageId: "x", CreatedDate: new Date().toISOString(), DestinationId: s.target, SessionId: s.sessionId, MessageType: "channel_closed", SchemaVersion: 1, Output: "Session terminated by the fake gateway." }));
        s.socket?.send(s.agent.control(MessageType.ChannelClosed, payload));
        s.agent.end();
        s.socket?.close(1000);
      }, f.channelClosedAfterMs).unref();
    }
  }

  private counters = new WeakMap<GatewaySession, { out: number; in: number; held: Buffer | null }>();
  private count(s: GatewaySession) {
    let c = this.counters.get(s);
    if (!c) this.counters.set(s, (c = { out: 0, in: 0, held: null }));
    return c;
  }

  private toClient(s: GatewaySession, ws: WebSocket, frame: Buffer, isData: boolean): void {
    if (ws.readyState !== ws.OPEN) return;
    const f = s.faults;
    if (!isData) {
      if (f.withholdAcksMs) setTimeout(() => ws.readyState === ws.OPEN && ws.send(frame), f.withholdAcksMs).unref();
      else ws.send(frame);
      return;
    }
    const c = this.count(s);
    c.out++;
    if (f.dropEvery && c.out % f.dropEvery === 0) return;
    if (f.duplicateEvery && c.out % f.duplicateEvery === 0) ws.send(frame);
    if (f.reorderEvery && c.out % f.reorderEvery === 0 && !c.held) {
      c.held = frame;
      setTimeout(() => {
        if (c.held === frame) {
          c.held = null;
          if (ws.readyState === ws.OPEN) ws.send(frame);
        }
      }, 50).unref();
      return;
    }
    ws.send(frame);
    if (c.held) {
      const held = c.held;
      c.held = null;
      ws.send(held);
    }
  }

  private fromClient(s: GatewaySession, frame: Buffer): void {
    const f = s.faults;
    const type = frame.subarray(4, 36).toString("ascii").trim();
    if (type === MessageType.Input && f.dropIncomingEvery) {
      const c = this.count(s);
      c.in++;
      if (c.in % f.dropIncomingEvery === 0) return;
    }
    s.agent.receive(frame);
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) s.agent.end();
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

function newToken(): string {
  return `fake-ssm-token-${randomBytes(12).toString("hex")}`;
}

/**
 * One SSM data channel over a WebSocket: the opening text frame with the session token, then
 * binary messages with the reliable link's numbering and acknowledgements, the handshake, and the
 * service's control messages (pause/start publication, channel_closed). The socket may drop
 * while the session lives on: `reconnect` opens a new socket with a fresh token (from
 * ResumeSession) and the link carries on with the same sequence numbers, so nothing above it
 * notices more than a pause.
 */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { Emitter, type Log } from "../emitter";
import { ExtensionError } from "../errors";
import { answerHandshake, CLIENT_VERSION, type HandshakeComplete, type HandshakeRequest } from "./handshake";
import { decodeMessage, FlagValue, flagPayload, MessageType, PayloadType, type AcknowledgeContent, type ClientMessage } from "./message";
import { ReliableLink, RESEND_CHECK_MS } from "./reliable-link";

/** The largest payload of one input message; AWS's clients send 1,024 (see docs/extension.md). */
export const DEFAULT_MAX_INPUT_PAYLOAD = 1024;
const PING_MS = 5 * 60_000;
const OPEN_TIMEOUT_MS = 30_000;

export interface DataChannelOptions {
  streamUrl: string;
  tokenValue: string;
  log: Log;
  now?: () => number;
  maxInputPayload?: number;
  handshakeTimeoutMs?: number;
}

export interface ChannelClosedInfo {
  output: string;
}

export class DataChannel {
  private ws: WebSocket | null = null;
  private readonly link: ReliableLink;
  private readonly clientId = randomUUID();
  private readonly now: () => number;
  private resendTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private handshake: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private handshakeDone = false;
  private closed = false;
  private readonly maxPayload: number;
  /** smux bytes from the agent, in order. */
  readonly onOutput = new Emitter<Buffer>();
  /** A Flag payload from the agent (ConnectToPortError, TerminateSession). */
  readonly onFlag = new Emitter<number>();
  /** The socket dropped although the session may live on (resume it). */
  readonly onDisconnect = new Emitter<{ code: number; reason: string }>();
  /** The service ended the session (channel_closed) or the link gave up. */
  readonly onEnd = new Emitter<ExtensionError>();
  /** Fewer unacknowledged messages: writers may go on. */
  readonly onDrain = new Emitter<void>();

  constructor(private readonly o: DataChannelOptions) {
    this.now = o.now ?? Date.now;
    this.maxPayload = o.maxInputPayload ?? DEFAULT_MAX_INPUT_PAYLOAD;
    this.link = new ReliableLink({
      sendType: MessageType.Input,
      now: this.now,
      transmit: (frame) => this.transmit(frame),
      deliver: (m) => this.deliver(m),
      onGiveUp: () => this.end(new ExtensionError("TUNNEL_FAILED", "the instance's SSM agent stopped acknowledging data")),
      onDrain: () => this.onDrain.fire(),
    });
  }

  get stats() {
    return this.link.stats;
  }
  get full(): boolean {
    return this.link.full;
  }
  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }
  get retransmitTimeoutMs(): number {
    return this.link.rto.ms;
  }

  /** Opens the socket and runs the handshake; resolves when data may flow. */
  async open(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => (this.handshake = { resolve, reject }));
    done.catch(() => undefined); // awaited below; this only keeps an early refusal from counting as unhandled
    await this.connect(this.o.streamUrl, this.o.tokenValue);
    this.resendTimer = setInterval(() => this.link.tick(), RESEND_CHECK_MS);
    this.resendTimer.unref?.();
    const timeoutMs = this.o.handshakeTimeoutMs ?? OPEN_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ExtensionError("TUNNEL_FAILED", `the instance's SSM agent did not finish the handshake within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A new socket for the same session (after ResumeSession); sequence numbers carry on. */
  async reconnect(streamUrl: string, tokenValue: string): Promise<void> {
    if (this.closed) throw new ExtensionError("TUNNEL_FAILED", "the data channel is closed");
    this.dropSocket();
    await this.connect(streamUrl, tokenValue);
    this.link.resendAll();
  }

  private connect(url: string, token: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: OPEN_TIMEOUT_MS, maxPayload: 16 * 1024 * 1024 });
      this.ws = ws;
      let opened = false;
      ws.binaryType = "nodebuffer";
      ws.once("open", () => {
        opened = true;
        // The token is the credential: it goes only into this frame, never into a log line.
        ws.send(JSON.stringify({ MessageSchemaVersion: "1.0", RequestId: randomUUID(), TokenValue: token, ClientId: this.clientId, ClientVersion: CLIENT_VERSION }));
        this.startPing(ws);
        resolve();
      });
      ws.on("message", (data, isBinary) => {
        if (this.ws !== ws) return;
        if (!isBinary) {
          this.o.log.warn(`SSM data channel sent a text frame (${String(data).slice(0, 200)})`);
          return;
        }
        this.receive(data as Buffer);
      });
      ws.once("error", (err) => {
        if (!opened) reject(new ExtensionError("TUNNEL_FAILED", `could not open the SSM data channel: ${err.message}`, { cause: err }));
      });
      ws.once("close", (code, reason) => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.stopPing();
        if (!opened) return;
        if (this.closed) return;
        if (this.handshake) {
          // Closed before the handshake finished: the token was refused or the session is gone.
          const why = `the SSM service closed the data channel before the handshake (WebSocket ${code}${reason.length ? `: ${reason.toString().slice(0, 200)}` : ""})`;
          this.end(new ExtensionError("TUNNEL_FAILED", why));
          return;
        }
        this.onDisconnect.fire({ code, reason: reason.toString() });
      });
    });
  }

  private startPing(ws: WebSocket): void {
    this.stopPing();
    this.pingTimer = setInterval(() => ws.readyState === WebSocket.OPEN && ws.ping(), PING_MS);
    this.pingTimer.unref?.();
  }
  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private transmit(frame: Buffer): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    this.corkUntilNextTick(ws);
    ws.send(frame);
    return true;
  }

  /**
   * Every data message gets its own ack, so one incoming chunk of the socket produces dozens of
   * small frames. Corking the TCP socket until the next tick sends them in one write instead of
   * one system call each. `_socket` is ws's own field (stable across ws 7 and 8); without it
   * frames simply go one by one.
   */
  private corked = false;
  private corkUntilNextTick(ws: WebSocket): void {
    if (this.corked) return;
    const sock = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (!sock) return;
    this.corked = true;
    sock.cork();
    process.nextTick(() => {
      this.corked = false;
      sock.uncork();
    });
  }

  private receive(frame: Buffer): void {
    let m: ClientMessage;
    try {
      m = decodeMessage(frame);
    } catch (err) {
      // A damaged frame is dropped unacknowledged; the agent sends it again.
      this.o.log.warn(`SSM data channel: dropped a bad frame (${(err as Error).message})`);
      return;
    }
    switch (m.messageType) {
      case MessageType.Output:
        this.link.onData(m);
        return;
      case MessageType.Acknowledge:
        try {
          this.link.onAck(JSON.parse(m.payload.toString("utf8")) as AcknowledgeContent);
        } catch {
          this.o.log.warn("SSM data channel: an acknowledgement was not JSON");
        }
        return;
      case MessageType.PausePublication:
        this.link.setPaused(true);
        return;
      case MessageType.StartPublication:
        this.link.setPaused(false);
        return;
      case MessageType.ChannelClosed: {
        let output = "";
        try {
          output = String((JSON.parse(m.payload.toString("utf8")) as { Output?: string }).Output ?? "");
        } catch {
          /* no detail */
        }
        this.end(new ExtensionError("SSM_SESSION_ENDED", `the SSM session was ended by the service${output ? ` (${output.trim()})` : ""}`));
        return;
      }
      default:
        this.o.log.info(`SSM data channel: ignored a ${m.messageType} message`);
    }
  }

  private deliver(m: ClientMessage): void {
    switch (m.payloadType) {
      case PayloadType.Output:
        this.onOutput.fire(m.payload);
        return;
      case PayloadType.HandshakeRequest:
        this.answer(m.payload);
        return;
      case PayloadType.HandshakeComplete: {
        let info: HandshakeComplete = {};
        try {
          info = JSON.parse(m.payload.toString("utf8")) as HandshakeComplete;
        } catch {
          /* optional detail */
        }
        if (info.CustomerMessage) this.o.log.info(`SSM: ${info.CustomerMessage}`);
        this.handshakeDone = true;
        this.handshake?.resolve();
        this.handshake = null;
        return;
      }
      case PayloadType.Flag:
        if (m.payload.length >= 4) this.onFlag.fire(m.payload.readUInt32BE(0));
        return;
      case PayloadType.EncChallengeRequest:
        this.end(new ExtensionError("SSM_KMS_REQUIRED", "the SSM agent sent a KMS encryption challenge, which the built-in client does not do"));
        return;
      default:
        this.o.log.info(`SSM data channel: ignored payload type ${m.payloadType}`);
    }
  }

  private answer(payload: Buffer): void {
    let req: HandshakeRequest;
    try {
      req = JSON.parse(payload.toString("utf8")) as HandshakeRequest;
    } catch {
      this.end(new ExtensionError("TUNNEL_FAILED", "the SSM agent's handshake request was not JSON"));
      return;
    }
    const { response, refusal } = answerHandshake(req);
    this.link.send(PayloadType.HandshakeResponse, Buffer.from(JSON.stringify(response)));
    if (refusal) this.end(refusal);
    else this.o.log.info(`SSM agent ${req.AgentVersion ?? "(version unknown)"} asked for ${(req.RequestedClientActions ?? []).map((a) => a.ActionType).join(", ") || "nothing"}`);
  }

  get ready(): boolean {
    return this.handshakeDone;
  }

  /** smux bytes to the agent, cut into input messages; no pause between them. */
  write(data: Buffer): void {
    for (let i = 0; i < data.length; i += this.maxPayload) this.link.send(PayloadType.Output, data.subarray(i, i + this.maxPayload));
  }

  private end(err: ExtensionError): void {
    if (this.closed) return;
    this.handshake?.reject(err);
    this.handshake = null;
    this.onEnd.fire(err);
    this.close(false);
  }

  private dropSocket(): void {
    const ws = this.ws;
    this.ws = null;
    this.stopPing();
    ws?.terminate();
  }

  /** Closes for good; `terminate` first tells the agent the session is over. */
  close(terminate = true): void {
    if (this.closed) return;
    if (terminate && this.connected) this.link.send(PayloadType.Flag, flagPayload(FlagValue.TerminateSession));
    this.closed = true;
    if (this.resendTimer) clearInterval(this.resendTimer);
    this.resendTimer = null;
    const ws = this.ws;
    this.ws = null;
    this.stopPing();
    if (ws) {
      // Let the last messages go out before the socket closes.
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      else ws.terminate();
    }
    this.onOutput.dispose();
    this.onFlag.dispose();
    this.onDisconnect.dispose();
    this.onEnd.dispose();
    this.onDrain.dispose();
  }
}

/**
 * The agent end of one fake SSM session: the handshake, the reliable link (the client's own
 * ReliableLink, configured as the agent), and an smux v1 server that dials the instance's port
 * for every stream it is asked to open, as amazon-ssm-agent's port plugin does. It lives across
 * WebSockets: when the gateway hands it a new socket (after a resume) it keeps its sequence
 * numbers and resends what the client has not acknowledged.
 */
import { connect, type Socket } from "node:net";
import { decodeMessage, encodeMessage, FlagValue, flagPayload, MessageType, newMessageId, PayloadType, type ClientMessage } from "../../../extension/core/ssm/message";
import { ReliableLink } from "../../../extension/core/ssm/reliable-link";
import { encodeData, encodeFrame, SmuxCmd, SmuxParser } from "../../../extension/core/ssm/smux";
import type { AgentShape, GatewayFaults } from "./faults";

export interface AgentStats {
  handshakeResponse: Record<string, unknown> | null;
  streamsOpened: number;
  refusedStreams: number;
  clientDataMessages: number;
  dataDuringPause: number;
  terminatedByClient: boolean;
}

export class FakeAgentSession {
  private wire: ((frame: Buffer, isData: boolean) => void) | null = null;
  readonly link: ReliableLink;
  private readonly parser = new SmuxParser();
  private readonly streams = new Map<number, { socket: Socket; ready: boolean; queue: Buffer[] }>();
  private handshakeSent = false;
  private handshakeDone = false;
  private timer: NodeJS.Timeout;
  private outQueue: Buffer[] = [];
  private pacing = false;
  private pausedAt = 0;
  ended = false;
  readonly stats: AgentStats = { handshakeResponse: null, streamsOpened: 0, refusedStreams: 0, clientDataMessages: 0, dataDuringPause: 0, terminatedByClient: false };
  /** Called when the handshake completes (the gateway starts its timed faults then). */
  onReady: () => void = () => undefined;

  constructor(
    readonly targetPort: number,
    private readonly faults: GatewayFaults,
    private readonly shape: AgentShape,
  ) {
    this.link = new ReliableLink({
      sendType: MessageType.Output,
      now: Date.now,
      transmit: (frame) => this.transmit(frame),
      deliver: (m) => this.deliver(m),
      onDrain: () => {
        for (const s of this.streams.values()) s.socket.resume();
      },
    });
    this.timer = setInterval(() => this.link.tick(), 100);
    this.timer.unref();
  }

  private transmit(frame: Buffer): boolean {
    if (!this.wire) return false;
    const type = frame.subarray(4, 36).toString("ascii").trim();
    this.wire(frame, type === MessageType.Output);
    return true;
  }

  /** A (new) socket to the client; `null` while there is none. */
  attach(wire: ((frame: Buffer, isData: boolean) => void) | null): void {
    this.wire = wire;
    if (!wire) return;
    if (!this.handshakeSent) {
      this.handshakeSent = true;
      const actions: unknown[] = [{ ActionType: "SessionType", ActionParameters: { SessionType: "Port", Properties: { portNumber: String(this.targetPort), type: "LocalPortForwarding" } } }];
      if (this.faults.kms) actions.push({ ActionType: "KMSEncryption", ActionParameters: { KMSKeyId: "arn:aws:kms:eu-central-1:123456789012:key/fake" } });
      this.link.send(PayloadType.HandshakeRequest, Buffer.from(JSON.stringify({ AgentVersion: this.faults.agentVersion ?? "3.3.1142.0", RequestedClientActions: actions })));
    } else {
      this.link.resendAll();
    }
  }

  /** A binary frame from the client. */
  receive(frame: Buffer): void {
    const m = decodeMessage(frame);
    if (m.messageType === MessageType.Acknowledge) {
      this.link.onAck(JSON.parse(m.payload.toString("utf8")));
    } else if (m.messageType === MessageType.Input) {
      this.stats.clientDataMessages++;
      if (this.pausedAt && Date.now() - this.pausedAt > 300) this.stats.dataDuringPause++;
      this.link.onData(m);
    }
  }

  setPausedMark(paused: boolean): void {
    this.pausedAt = paused ? Date.now() : 0;
  }

  private deliver(m: ClientMessage): void {
    if (m.payloadType === PayloadType.HandshakeResponse) {
      this.stats.handshakeResponse = JSON.parse(m.payload.toString("utf8"));
      const errors = (this.stats.handshakeResponse?.Errors as string[] | undefined) ?? [];
      if (errors.length) return; // the client refused; it closes the session
      this.handshakeDone = true;
      this.link.send(PayloadType.HandshakeComplete, Buffer.from(JSON.stringify({ HandshakeTimeToComplete: 1000000, CustomerMessage: "" })));
      this.onReady();
    } else if (m.payloadType === PayloadType.Output) {
      if (!this.handshakeDone) return;
      for (const f of this.parser.push(m.payload)) this.onFrame(f.cmd, f.streamId, f.data);
    } else if (m.payloadType === PayloadType.Flag && m.payload.readUInt32BE(0) === FlagValue.TerminateSession) {
      this.stats.terminatedByClient = true;
      this.end();
    }
  }

  private onFrame(cmd: number, id: number, data: Buffer): void {
    if (cmd === SmuxCmd.SYN) {
      this.stats.streamsOpened++;
      const socket = connect({ host: "127.0.0.1", port: this.targetPort });
      const entry = { socket, ready: false, queue: [] as Buffer[] };
      this.streams.set(id, entry);
      socket.once("connect", () => {
        entry.ready = true;
        for (const b of entry.queue) socket.write(b);
        entry.queue = [];
      });
      socket.on("data", (chunk: Buffer) => {
        for (const f of encodeData(id, chunk)) this.emitSmux(f);
        if (this.link.full) socket.pause();
      });
      let finSent = false;
      const fin = () => {
        if (finSent) return;
        finSent = true;
        this.streams.delete(id);
        this.emitSmux(encodeFrame(SmuxCmd.FIN, id));
      };
      socket.once("error", () => {
        if (!entry.ready) {
          // As the real agent does when it cannot dial: a ConnectToPortError flag, then FIN.
          this.stats.refusedStreams++;
          this.link.send(PayloadType.Flag, flagPayload(FlagValue.ConnectToPortError));
        }
        fin();
      });
      socket.once("end", () => {
        socket.end();
        fin();
      });
      socket.once("close", fin);
    } else if (cmd === SmuxCmd.PSH) {
      const s = this.streams.get(id);
      if (!s) return;
      if (s.ready) s.socket.write(data);
      else s.queue.push(data);
    } else if (cmd === SmuxCmd.FIN) {
      const s = this.streams.get(id);
      this.streams.delete(id);
      s?.socket.end();
    }
  }

  /** smux bytes out, cut into output messages of chunkSize (optionally paced like the real agent). */
  private emitSmux(bytes: Buffer): void {
    const size = this.shape.chunkSize ?? 1024;
    for (let i = 0; i < bytes.length; i += size) this.outQueue.push(bytes.subarray(i, i + size));
    if (!this.shape.paceMs) {
      for (const piece of this.outQueue) this.link.send(PayloadType.Output, piece);
      this.outQueue = [];
    } else if (!this.pacing) this.pace();
  }

  private pace(): void {
    const piece = this.outQueue.shift();
    if (!piece) {
      this.pacing = false;
      return;
    }
    this.pacing = true;
    this.link.send(PayloadType.Output, piece);
    setTimeout(() => this.pace(), this.shape.paceMs);
  }

  /** A control message (not numbered): pause/start publication, channel_closed. */
  control(messageType: string, payload: Buffer = Buffer.alloc(0)): Buffer {
    return encodeMessage({ messageType, schemaVersion: 1, createdDate: Date.now(), sequenceNumber: 0, flags: 0, messageId: newMessageId(), payloadType: 0, payload });
  }

  get openStreams(): number {
    return this.streams.size;
  }

  end(): void {
    this.ended = true;
    clearInterval(this.timer);
    for (const s of this.streams.values()) s.socket.destroy();
    this.streams.clear();
  }
}

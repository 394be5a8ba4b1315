/**
 * The data channel's delivery guarantees, without the socket: numbering outgoing data messages,
 * keeping each until it is acknowledged and resending it after the adaptive timeout, and on the
 * receiving side acknowledging every data message, delivering them in sequence order and holding
 * early ones back. It survives a reconnect: sequence numbers, the unacknowledged messages and the
 * expected next number stay, and everything unacknowledged is sent again on the new socket.
 * Both the client and the test agent use it; the faults are injected on the wire around it.
 */
import { ackFor, encodeMessage, newMessageId, type AcknowledgeContent, type ClientMessage } from "./message";
import { RetransmitTimeout } from "./retransmit-timeout";

/** Early messages kept at most (AWS's client keeps as many). */
export const MAX_EARLY = 10_000;
/** Unacknowledged messages above which the link asks its writers to wait (memory, not pacing). */
export const HIGH_WATER = 4096;
/** A message resent this many times means the other side is gone. */
export const MAX_RESENDS = 3000;
export const RESEND_CHECK_MS = 100;
const MAX_RESENDS_PER_TICK = 256;
const MAX_BACKOFF_MS = 8000;

interface Outgoing {
  seq: number;
  bytes: Buffer;
  firstSent: number;
  lastSent: number;
  resends: number;
}

export interface LinkDeps {
  /** The data message type this side sends (input_stream_data for the client). */
  sendType: string;
  now: () => number;
  /** Puts one binary frame on the current socket; false when there is none. */
  transmit: (frame: Buffer) => boolean;
  /** A data message, in order, exactly once. */
  deliver: (m: ClientMessage) => void;
  /** Called when a message was resent MAX_RESENDS times. */
  onGiveUp?: () => void;
  /** Called when the number of unacknowledged messages falls back under half HIGH_WATER. */
  onDrain?: () => void;
}

export class ReliableLink {
  private nextSeq = 0;
  private expected = 0;
  private readonly unacked = new Map<number, Outgoing>();
  private readonly early = new Map<number, ClientMessage>();
  private paused = false;
  private congested = false;
  private lastAckAt = 0;
  private newestAcked = -1;
  readonly rto = new RetransmitTimeout();
  /** Counters for tests and the log. */
  readonly stats = { sent: 0, resent: 0, received: 0, duplicates: 0, early: 0, acksSent: 0 };

  constructor(private readonly d: LinkDeps) {}

  /** Numbers, keeps and (unless paused) sends a data message; returns its sequence number. */
  send(payloadType: number, payload: Buffer): number {
    const seq = this.nextSeq++;
    const bytes = encodeMessage({
      messageType: this.d.sendType,
      schemaVersion: 1,
      createdDate: this.d.now(),
      sequenceNumber: seq,
      flags: 0,
      messageId: newMessageId(),
      payloadType,
      payload,
    });
    const now = this.d.now();
    const out: Outgoing = { seq, bytes, firstSent: now, lastSent: now, resends: 0 };
    this.unacked.set(seq, out);
    if (!this.paused) this.d.transmit(bytes);
    this.stats.sent++;
    if (this.unacked.size >= HIGH_WATER) this.congested = true;
    return seq;
  }

  /** Whether writers should wait before sending more (see onDrain). */
  get full(): boolean {
    return this.congested;
  }

  get unackedCount(): number {
    return this.unacked.size;
  }

  get nextSequenceNumber(): number {
    return this.nextSeq;
  }

  get expectedSequenceNumber(): number {
    return this.expected;
  }

  onAck(content: AcknowledgeContent): void {
    const out = this.unacked.get(content.AcknowledgedMessageSequenceNumber);
    this.lastAckAt = this.d.now();
    if (!out) return;
    if (out.seq > this.newestAcked) this.newestAcked = out.seq;
    if (out.resends === 0) this.rto.sample(this.d.now() - out.firstSent);
    this.unacked.delete(out.seq);
    if (this.congested && this.unacked.size < HIGH_WATER / 2) {
      this.congested = false;
      this.d.onDrain?.();
    }
  }

  /** A data message from the other side: acknowledge it, then deliver what is now in order. */
  onData(m: ClientMessage): void {
    this.stats.received++;
    this.d.transmit(encodeMessage(ackFor(m, this.d.now())));
    this.stats.acksSent++;
    if (m.sequenceNumber < this.expected || this.early.has(m.sequenceNumber)) {
      this.stats.duplicates++;
      return;
    }
    if (m.sequenceNumber > this.expected) {
      if (this.early.size < MAX_EARLY) {
        this.early.set(m.sequenceNumber, m);
        this.stats.early++;
      }
      return;
    }
    this.expected++;
    this.d.deliver(m);
    for (let next = this.early.get(this.expected); next; next = this.early.get(this.expected)) {
      this.early.delete(this.expected);
      this.expected++;
      this.d.deliver(next);
    }
  }

  /** pause_publication / start_publication from the other side. */
  setPaused(paused: boolean): void {
    const was = this.paused;
    this.paused = paused;
    if (was && !paused) this.resendAll();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** A new socket: everything not yet acknowledged goes out again, in order. */
  resendAll(): void {
    if (this.paused) return;
    const now = this.d.now();
    for (const out of this.unacked.values()) {
      if (!this.d.transmit(out.bytes)) return;
      out.lastSent = now;
    }
  }

  /**
   * Resends what waited longer than the timeout, oldest first; call every RESEND_CHECK_MS. A
   * message resent before waits twice as long each time, and one tick resends at most
   * MAX_RESENDS_PER_TICK, and a message still queued behind others being acknowledged waits:
   * when the other side is only slow (a loaded machine, a slow network),
   * resending everything at once would bury it under copies and make it slower still.
   */
  tick(): void {
    if (this.paused || this.unacked.size === 0) return;
    const now = this.d.now();
    const rto = this.rto.ms;
    let budget = MAX_RESENDS_PER_TICK;
    for (const out of this.unacked.values()) {
      if (budget <= 0) return;
      if (now - out.lastSent < Math.min(rto * 2 ** Math.min(out.resends, 5), MAX_BACKOFF_MS)) continue;
      // Acks arrive in order while the other side works through a burst: a message is lost
      // when a later one was acknowledged, or when no ack at all came for a timeout.
      if (out.seq > this.newestAcked && now - this.lastAckAt < rto) continue;
      budget--;
      if (!this.d.transmit(out.bytes)) return;
      out.lastSent = now;
      out.resends++;
      this.stats.resent++;
      if (out.resends >= MAX_RESENDS) {
        this.d.onGiveUp?.();
        return;
      }
    }
  }
}

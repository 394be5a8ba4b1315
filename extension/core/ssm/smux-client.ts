/**
 * The client side of an smux v1 session: opens streams (odd ids from 3, as smux clients number
 * them), sends their data as PSH frames and their end as FIN, and routes the agent's frames back
 * to each stream. smux v1 has no flow control per stream; the data channel below bounds memory.
 */
import { encodeData, encodeFrame, SmuxCmd, SmuxParser } from "./smux";

export interface StreamHandlers {
  onData(data: Buffer): void;
  /** The agent closed the stream (FIN): no more data will come. */
  onFin(): void;
}

export class SmuxClient {
  private readonly parser = new SmuxParser();
  private readonly streams = new Map<number, StreamHandlers>();
  private nextId = 1;

  /** `send`: smux bytes to the agent (the data channel). */
  constructor(private readonly send: (bytes: Buffer) => void) {}

  open(handlers: StreamHandlers): number {
    this.nextId += 2;
    const id = this.nextId;
    this.streams.set(id, handlers);
    this.send(encodeFrame(SmuxCmd.SYN, id));
    return id;
  }

  write(id: number, data: Buffer): void {
    if (!this.streams.has(id) || data.length === 0) return;
    const frames = encodeData(id, data);
    this.send(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  /** Our side is done with the stream: FIN, and forget it. */
  close(id: number): void {
    if (!this.streams.delete(id)) return;
    this.send(encodeFrame(SmuxCmd.FIN, id));
  }

  /** Keeps the agent's smux session from timing out while nothing flows. */
  keepAlive(): void {
    this.send(encodeFrame(SmuxCmd.NOP, 0));
  }

  /** smux bytes from the agent, cut anywhere. */
  feed(bytes: Buffer): void {
    for (const f of this.parser.push(bytes)) {
      const s = this.streams.get(f.streamId);
      if (f.cmd === SmuxCmd.PSH) s?.onData(f.data);
      else if (f.cmd === SmuxCmd.FIN && s) {
        this.streams.delete(f.streamId);
        s.onFin();
      }
      // SYN from the agent (it never opens streams) and NOP need nothing.
    }
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Forget every stream, telling each it ended (a new session starts from nothing). */
  reset(): void {
    const all = [...this.streams.values()];
    this.streams.clear();
    for (const s of all) s.onFin();
  }
}

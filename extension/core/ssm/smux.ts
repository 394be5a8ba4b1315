/**
 * xtaci/smux version 1 framing, as AWS's port-forward agent speaks it: an 8-byte header (version
 * 1, command, a little-endian uint16 length, a little-endian uint32 stream id) and the data. The
 * data channel carries the frames as one byte stream cut at arbitrary points, so the parser
 * keeps partial frames between chunks.
 */
export const SMUX_VERSION = 1;
export const SMUX_HEADER = 8;
/** smux's default MaxFrameSize: the largest PSH payload either side sends. */
export const SMUX_MAX_FRAME = 32_768;

export const SmuxCmd = { SYN: 0, FIN: 1, PSH: 2, NOP: 3 } as const;
export type SmuxCmdValue = (typeof SmuxCmd)[keyof typeof SmuxCmd];

export interface SmuxFrame {
  cmd: number;
  streamId: number;
  data: Buffer;
}

export class SmuxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SmuxError";
  }
}

export function encodeFrame(cmd: number, streamId: number, data: Buffer = Buffer.alloc(0)): Buffer {
  if (data.length > 0xffff) throw new SmuxError(`smux frame of ${data.length} bytes is over 65535`);
  const out = Buffer.allocUnsafe(SMUX_HEADER + data.length);
  out.writeUInt8(SMUX_VERSION, 0);
  out.writeUInt8(cmd, 1);
  out.writeUInt16LE(data.length, 2);
  out.writeUInt32LE(streamId >>> 0, 4);
  data.copy(out, SMUX_HEADER);
  return out;
}

/** PSH frames for `data`, each at most SMUX_MAX_FRAME bytes. */
export function encodeData(streamId: number, data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < data.length; i += SMUX_MAX_FRAME) frames.push(encodeFrame(SmuxCmd.PSH, streamId, data.subarray(i, i + SMUX_MAX_FRAME)));
  return frames;
}

/** Incremental parser: push chunks in, get whole frames out. */
export class SmuxParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the next frame needs; joining chunks waits until they are there (no quadratic copies). */
  private need = SMUX_HEADER;

  push(chunk: Buffer): SmuxFrame[] {
    if (chunk.length === 0) return [];
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.need) return [];
    const frames: SmuxFrame[] = [];
    let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    let at = 0;
    while (buf.length - at >= SMUX_HEADER) {
      const ver = buf.readUInt8(at);
      if (ver !== SMUX_VERSION) throw new SmuxError(`smux version ${ver} is not supported (expected ${SMUX_VERSION})`);
      const cmd = buf.readUInt8(at + 1);
      const length = buf.readUInt16LE(at + 2);
      if (buf.length - at < SMUX_HEADER + length) {
        this.need = SMUX_HEADER + length;
        break;
      }
      const streamId = buf.readUInt32LE(at + 4);
      // Copy out the data so a frame never pins the whole chunk it came in.
      const data = Buffer.from(buf.subarray(at + SMUX_HEADER, at + SMUX_HEADER + length));
      // Commands other than SYN/FIN/PSH/NOP (some smux releases had ACK, FUL, EMP; v2 has UPD)
      // carry nothing a v1 client needs: skip them by their length.
      if (cmd <= SmuxCmd.NOP) frames.push({ cmd, streamId, data });
      at += SMUX_HEADER + length;
    }
    const rest = buf.subarray(at);
    if (rest.length < SMUX_HEADER) this.need = SMUX_HEADER;
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
    return frames;
  }

  get buffered(): number {
    return this.pendingBytes;
  }
}

/**
 * The binary message of SSM's data channel (one per WebSocket binary frame), as the service's
 * clients and agents frame it. Every integer is big-endian; the header is 116 bytes followed by
 * a 4-byte payload length and the payload. The message id is a UUID whose two 8-byte halves are
 * stored swapped, and the payload carries its SHA-256 digest, which the receiver checks.
 */
import { createHash, randomUUID } from "node:crypto";

export const HEADER_LENGTH = 116;
export const PAYLOAD_OFFSET = 120;

const OFF = {
  headerLength: 0,
  messageType: 4,
  schemaVersion: 36,
  createdDate: 40,
  sequenceNumber: 48,
  flags: 56,
  messageId: 64,
  payloadDigest: 80,
  payloadType: 112,
  payloadLength: 116,
} as const;
const MESSAGE_TYPE_LENGTH = 32;

export const MessageType = {
  Input: "input_stream_data",
  Output: "output_stream_data",
  Acknowledge: "acknowledge",
  ChannelClosed: "channel_closed",
  StartPublication: "start_publication",
  PausePublication: "pause_publication",
} as const;

export const PayloadType = {
  Output: 1,
  Error: 2,
  Size: 3,
  Parameter: 4,
  HandshakeRequest: 5,
  HandshakeResponse: 6,
  HandshakeComplete: 7,
  EncChallengeRequest: 8,
  EncChallengeResponse: 9,
  Flag: 10,
  StdErr: 11,
  ExitCode: 12,
} as const;

/** Values of a Flag payload (a big-endian uint32). */
export const FlagValue = { DisconnectToPort: 1, TerminateSession: 2, ConnectToPortError: 3 } as const;

/** Header flags: data messages carry 0, acknowledgements 3 (SYN | FIN), as AWS's clients send. */
export const ACK_FLAGS = 3;

export interface ClientMessage {
  messageType: string;
  schemaVersion: number;
  /** Epoch milliseconds. */
  createdDate: number;
  sequenceNumber: number;
  flags: number;
  /** Hyphenated lower-case UUID. */
  messageId: string;
  payloadType: number;
  payload: Buffer;
}

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FramingError";
  }
}

/** The 16 wire bytes of a UUID: its bytes 8–15 first, then bytes 0–7. */
export function uuidToWire(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new FramingError(`not a UUID: ${uuid}`);
  const raw = Buffer.from(hex, "hex");
  return Buffer.concat([raw.subarray(8, 16), raw.subarray(0, 8)]);
}

export function uuidFromWire(wire: Buffer): string {
  const raw = Buffer.concat([wire.subarray(8, 16), wire.subarray(0, 8)]).toString("hex");
  return `${raw.slice(0, 8)}-${raw.slice(8, 12)}-${raw.slice(12, 16)}-${raw.slice(16, 20)}-${raw.slice(20)}`;
}

export function digestOf(payload: Buffer): Buffer {
  return createHash("sha256").update(payload).digest();
}

export function newMessageId(): string {
  return randomUUID();
}

export function encodeMessage(m: ClientMessage): Buffer {
  if (m.messageType.length > MESSAGE_TYPE_LENGTH) throw new FramingError(`message type too long: ${m.messageType}`);
  const out = Buffer.alloc(PAYLOAD_OFFSET + m.payload.length);
  out.writeUInt32BE(HEADER_LENGTH, OFF.headerLength);
  out.fill(0x20, OFF.messageType, OFF.messageType + MESSAGE_TYPE_LENGTH);
  out.write(m.messageType, OFF.messageType, "ascii");
  out.writeUInt32BE(m.schemaVersion, OFF.schemaVersion);
  out.writeBigUInt64BE(BigInt(m.createdDate), OFF.createdDate);
  out.writeBigInt64BE(BigInt(m.sequenceNumber), OFF.sequenceNumber);
  out.writeBigUInt64BE(BigInt(m.flags), OFF.flags);
  uuidToWire(m.messageId).copy(out, OFF.messageId);
  digestOf(m.payload).copy(out, OFF.payloadDigest);
  out.writeUInt32BE(m.payloadType, OFF.payloadType);
  out.writeUInt32BE(m.payload.length, OFF.payloadLength);
  m.payload.copy(out, PAYLOAD_OFFSET);
  return out;
}

/** Parses one binary frame; throws FramingError on a short frame, a bad length or a bad digest. */
export function decodeMessage(buf: Buffer): ClientMessage {
  if (buf.length < PAYLOAD_OFFSET) throw new FramingError(`frame of ${buf.length} bytes is shorter than a header`);
  const headerLength = buf.readUInt32BE(OFF.headerLength);
  const messageType = buf
    .subarray(OFF.messageType, OFF.messageType + MESSAGE_TYPE_LENGTH)
    .toString("ascii")
    .replace(/[\0 ]+$/g, "")
    .replace(/^[\0 ]+/g, "");
  const payloadLength = buf.readUInt32BE(OFF.payloadLength);
  const start = headerLength + 4;
  if (headerLength < HEADER_LENGTH || start > buf.length) throw new FramingError(`bad header length ${headerLength}`);
  const payload = buf.subarray(start);
  // Publication messages carry no payload and need no digest check.
  if (payloadLength !== payload.length && messageType !== MessageType.StartPublication && messageType !== MessageType.PausePublication) {
    throw new FramingError(`payload length ${payloadLength} does not match the ${payload.length} bytes received`);
  }
  const digest = buf.subarray(OFF.payloadDigest, OFF.payloadDigest + 32);
  if (payload.length > 0 && !digest.equals(digestOf(payload))) throw new FramingError(`payload digest mismatch in ${messageType}`);
  return {
    messageType,
    schemaVersion: buf.readUInt32BE(OFF.schemaVersion),
    createdDate: Number(buf.readBigUInt64BE(OFF.createdDate)),
    sequenceNumber: Number(buf.readBigInt64BE(OFF.sequenceNumber)),
    flags: Number(buf.readBigUInt64BE(OFF.flags)),
    messageId: uuidFromWire(buf.subarray(OFF.messageId, OFF.messageId + 16)),
    payloadType: buf.readUInt32BE(OFF.payloadType),
    payload,
  };
}

export function flagPayload(flag: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(flag);
  return b;
}

/** What an acknowledge message's JSON payload says. */
export interface AcknowledgeContent {
  AcknowledgedMessageType: string;
  AcknowledgedMessageId: string;
  AcknowledgedMessageSequenceNumber: number;
  IsSequentialMessage: boolean;
}

export function ackFor(m: ClientMessage, now: number): ClientMessage {
  const content: AcknowledgeContent = {
    AcknowledgedMessageType: m.messageType,
    AcknowledgedMessageId: m.messageId,
    AcknowledgedMessageSequenceNumber: m.sequenceNumber,
    IsSequentialMessage: true,
  };
  return {
    messageType: MessageType.Acknowledge,
    schemaVersion: 1,
    createdDate: now,
    sequenceNumber: 0,
    flags: ACK_FLAGS,
    messageId: newMessageId(),
    payloadType: 0,
    payload: Buffer.from(JSON.stringify(content)),
  };
}

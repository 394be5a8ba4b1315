/**
 * The data channel's binary message against vectors written by hand from the field table
 * (docs/extension.md, "Native SSM client"): a 116-byte header length, the message type padded
 * with spaces, big-endian integers, the UUID with its halves swapped, the payload's SHA-256.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ackFor, decodeMessage, encodeMessage, FramingError, HEADER_LENGTH, MessageType, uuidFromWire, uuidToWire } from "../../../extension/core/ssm/message";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

// input_stream_data, schema 1, created 1700000000000 ms, seq 5, flags 0,
// id 00112233-4455-6677-8899-aabbccddeeff, payload type 1 (Output), payload "hi".
const VECTOR = hex(`
  00000074
  696e7075745f73747265616d5f64617461 202020202020202020202020202020
  00000001
  0000018bcfe56800
  0000000000000005
  0000000000000000
  8899aabbccddeeff 0011223344556677
  8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4
  00000001
  00000002
  6869
`);

const MESSAGE = {
  messageType: MessageType.Input,
  schemaVersion: 1,
  createdDate: 1_700_000_000_000,
  sequenceNumber: 5,
  flags: 0,
  messageId: "00112233-4455-6677-8899-aabbccddeeff",
  payloadType: 1,
  payload: Buffer.from("hi"),
};

test("the hand-written vector is 122 bytes: a 120-byte header block and the payload", () => {
  assert.equal(VECTOR.length, 122);
  assert.equal(HEADER_LENGTH, 116);
});

test("encoding gives exactly the hand-written bytes", () => {
  assert.equal(encodeMessage(MESSAGE).toString("hex"), VECTOR.toString("hex"));
});

test("decoding the hand-written bytes gives every field back", () => {
  const m = decodeMessage(VECTOR);
  assert.deepEqual({ ...m, payload: m.payload.toString() }, { ...MESSAGE, payload: "hi" });
});

test("the message id is stored with its 8-byte halves swapped", () => {
  assert.equal(uuidToWire("00112233-4455-6677-8899-aabbccddeeff").toString("hex"), "8899aabbccddeeff0011223344556677");
  assert.equal(uuidFromWire(hex("8899aabbccddeeff0011223344556677")), "00112233-4455-6677-8899-aabbccddeeff");
  assert.throws(() => uuidToWire("not-a-uuid"), FramingError);
});

test("a payload that does not match its digest is refused", () => {
  const bad = Buffer.from(VECTOR);
  bad[bad.length - 1] = 0x6a; // "hj"
  assert.throws(() => decodeMessage(bad), /digest/);
});

test("a frame shorter than a header, or with a payload length that lies, is refused", () => {
  assert.throws(() => decodeMessage(VECTOR.subarray(0, 100)), FramingError);
  const lying = Buffer.from(VECTOR);
  lying.writeUInt32BE(3, 116);
  assert.throws(() => decodeMessage(lying), /payload length/);
});

test("a header longer than 116 is honoured: the payload starts at HeaderLength + 4", () => {
  // A newer sender may add header fields; readers skip to HeaderLength + 4.
  const longer = Buffer.concat([VECTOR.subarray(0, 120), hex("deadbeef"), VECTOR.subarray(120)]);
  longer.writeUInt32BE(120, 0);
  assert.equal(decodeMessage(longer).payload.toString(), "hi");
});

test("message types are read with trailing spaces and NULs trimmed", () => {
  const nul = Buffer.from(VECTOR);
  nul.fill(0, 4 + 17, 36);
  assert.equal(decodeMessage(nul).messageType, "input_stream_data");
});

test("an acknowledgement names the message's type, id and sequence number, with flags 3", () => {
  const ack = decodeMessage(encodeMessage(ackFor(MESSAGE, 1_700_000_000_001)));
  assert.equal(ack.messageType, "acknowledge");
  assert.equal(ack.flags, 3);
  assert.deepEqual(JSON.parse(ack.payload.toString()), {
    AcknowledgedMessageType: "input_stream_data",
    AcknowledgedMessageId: "00112233-4455-6677-8899-aabbccddeeff",
    AcknowledgedMessageSequenceNumber: 5,
    IsSequentialMessage: true,
  });
});

test("pause_publication with no payload decodes", () => {
  const m = encodeMessage({ ...MESSAGE, messageType: MessageType.PausePublication, payload: Buffer.alloc(0) });
  assert.equal(decodeMessage(m).messageType, "pause_publication");
  // An empty payload's digest is SHA-256 of nothing.
  assert.equal(m.subarray(80, 112).toString("hex"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

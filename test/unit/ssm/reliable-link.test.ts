/** Sequencing, acknowledgements, reordering, duplicates, pause and the adaptive timeout. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeMessage, encodeMessage, MessageType, newMessageId, type ClientMessage } from "../../../extension/core/ssm/message";
import { ReliableLink } from "../../../extension/core/ssm/reliable-link";
import { INITIAL_RTO_MS, MAX_RTO_MS, MIN_RTO_MS, RetransmitTimeout } from "../../../extension/core/ssm/retransmit-timeout";

function data(seq: number, text: string): ClientMessage {
  return { messageType: MessageType.Output, schemaVersion: 1, createdDate: 1, sequenceNumber: seq, flags: 0, messageId: newMessageId(), payloadType: 1, payload: Buffer.from(text) };
}

function harness() {
  let now = 1000;
  const wire: ClientMessage[] = [];
  const delivered: string[] = [];
  let connected = true;
  const link = new ReliableLink({
    sendType: MessageType.Input,
    now: () => now,
    transmit: (f) => (connected ? (wire.push(decodeMessage(f)), true) : false),
    deliver: (m) => delivered.push(m.payload.toString()),
  });
  return { link, wire, delivered, advance: (ms: number) => (now += ms), setConnected: (c: boolean) => (connected = c) };
}

test("messages arriving out of order are delivered in sequence, each acknowledged", () => {
  const h = harness();
  for (const [seq, t] of [[1, "b"], [0, "a"], [3, "d"], [2, "c"]] as const) h.link.onData(data(seq, t));
  assert.deepEqual(h.delivered, ["a", "b", "c", "d"]);
  const acks = h.wire.filter((m) => m.messageType === "acknowledge").map((m) => JSON.parse(m.payload.toString()).AcknowledgedMessageSequenceNumber);
  assert.deepEqual(acks, [1, 0, 3, 2]);
});

test("a duplicate is acknowledged again but delivered once", () => {
  const h = harness();
  h.link.onData(data(0, "a"));
  h.link.onData(data(0, "a"));
  h.link.onData(data(2, "c"));
  h.link.onData(data(2, "c"));
  h.link.onData(data(1, "b"));
  assert.deepEqual(h.delivered, ["a", "b", "c"]);
  assert.equal(h.wire.length, 5);
  assert.equal(h.link.stats.duplicates, 2);
});

test("sent messages are numbered from 0 and resent after the timeout until acknowledged", () => {
  const h = harness();
  assert.equal(h.link.send(1, Buffer.from("x")), 0);
  assert.equal(h.link.send(1, Buffer.from("y")), 1);
  assert.deepEqual(h.wire.map((m) => m.sequenceNumber), [0, 1]);
  h.advance(INITIAL_RTO_MS - 1);
  h.link.tick();
  assert.equal(h.wire.length, 2, "nothing resent before the timeout");
  h.advance(1);
  h.link.onAck({ AcknowledgedMessageType: "input_stream_data", AcknowledgedMessageId: h.wire[0]!.messageId, AcknowledgedMessageSequenceNumber: 0, IsSequentialMessage: true });
  h.advance(MAX_RTO_MS); // the sample (200 ms) raised the timeout; at most 1 s
  h.link.tick();
  assert.deepEqual(h.wire.map((m) => m.sequenceNumber), [0, 1, 1], "only the unacknowledged one is resent");
  assert.equal(h.link.unackedCount, 1);
});

test("paused, nothing goes out; on start publication the backlog is sent", () => {
  const h = harness();
  h.link.setPaused(true);
  h.link.send(1, Buffer.from("x"));
  h.advance(5000);
  h.link.tick();
  assert.equal(h.wire.length, 0);
  h.link.setPaused(false);
  assert.deepEqual(h.wire.map((m) => m.payload.toString()), ["x"]);
});

test("after a reconnect the numbering goes on and the unacknowledged are sent again", () => {
  const h = harness();
  h.link.send(1, Buffer.from("a"));
  h.setConnected(false);
  h.link.send(1, Buffer.from("b"));
  h.setConnected(true);
  h.link.resendAll();
  assert.deepEqual(h.wire.map((m) => `${m.sequenceNumber}${m.payload}`), ["0a", "0a", "1b"]);
  assert.equal(h.link.send(1, Buffer.from("c")), 2);
});

test("the timeout starts at 200 ms, follows the round trip and stays within 200 ms – 1 s", () => {
  const rto = new RetransmitTimeout();
  assert.equal(rto.ms, INITIAL_RTO_MS);
  rto.sample(100);
  assert.equal(rto.ms, 100 + 4 * 50); // srtt 100, rttvar 50
  rto.sample(160); // rttvar 0.75*50 + 0.25*60 = 52.5; srtt 0.875*100 + 0.125*160 = 107.5
  assert.equal(rto.ms, 107.5 + 4 * 52.5);
  for (let i = 0; i < 200; i++) rto.sample(4);
  assert.equal(rto.ms, MIN_RTO_MS, "a steady 4 ms round trip gives the floor, not 14 ms");
  for (let i = 0; i < 50; i++) rto.sample(5000);
  assert.equal(rto.ms, MAX_RTO_MS);
});

test("an acknowledgement of a resent message gives no round-trip sample (Karn)", () => {
  const h = harness();
  h.link.send(1, Buffer.from("x"));
  h.advance(900);
  h.link.tick();
  h.link.onAck({ AcknowledgedMessageType: "input_stream_data", AcknowledgedMessageId: "", AcknowledgedMessageSequenceNumber: 0, IsSequentialMessage: true });
  assert.equal(h.link.rto.smoothedRtt, null);
});

test("encode → decode keeps big sequence numbers", () => {
  const m = decodeMessage(encodeMessage(data(2 ** 40, "z")));
  assert.equal(m.sequenceNumber, 2 ** 40);
});

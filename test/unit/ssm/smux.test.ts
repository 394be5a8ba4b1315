/** smux v1 frames by hand (little-endian length and stream id), and parsing split at every byte. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeData, encodeFrame, SmuxCmd, SmuxError, SmuxParser, SMUX_MAX_FRAME } from "../../../extension/core/ssm/smux";
import { SmuxClient } from "../../../extension/core/ssm/smux-client";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

test("a PSH frame: version 1, command 2, length and stream id little-endian", () => {
  assert.equal(encodeFrame(SmuxCmd.PSH, 3, Buffer.from("abc")).toString("hex"), "01020300" + "03000000" + "616263");
  assert.equal(encodeFrame(SmuxCmd.SYN, 0x01020304).toString("hex"), "0100000004030201");
  assert.equal(encodeFrame(SmuxCmd.FIN, 5).toString("hex"), "0101000005000000");
  assert.equal(encodeFrame(SmuxCmd.NOP, 0).toString("hex"), "0103000000000000");
});

test("data longer than a frame is cut at 32,768 bytes", () => {
  const frames = encodeData(7, Buffer.alloc(SMUX_MAX_FRAME * 2 + 5, 1));
  assert.deepEqual(frames.map((f) => f.readUInt16LE(2)), [32768, 32768, 5]);
});

// SYN 3, PSH 3 "hello", NOP, PSH 5 (300 bytes), FIN 3: a byte stream with every kind of frame.
const BIG = Buffer.alloc(300, 0x7a);
const STREAM = Buffer.concat([
  hex("01 00 0000 03000000"),
  hex("01 02 0500 03000000"),
  Buffer.from("hello"),
  hex("01 03 0000 00000000"),
  hex("01 02 2c01 05000000"),
  BIG,
  hex("01 01 0000 03000000"),
]);
const EXPECTED = [
  { cmd: 0, streamId: 3, data: "" },
  { cmd: 2, streamId: 3, data: "hello" },
  { cmd: 3, streamId: 0, data: "" },
  { cmd: 2, streamId: 5, data: BIG.toString() },
  { cmd: 1, streamId: 3, data: "" },
];

test("the parser gives the same frames wherever the stream is cut in two", () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const p = new SmuxParser();
    const frames = [...p.push(STREAM.subarray(0, cut)), ...p.push(STREAM.subarray(cut))];
    assert.deepEqual(frames.map((f) => ({ ...f, data: f.data.toString() })), EXPECTED, `cut at ${cut}`);
    assert.equal(p.buffered, 0);
  }
});

test("the parser copes with one byte at a time", () => {
  const p = new SmuxParser();
  const frames = [];
  for (const b of STREAM) frames.push(...p.push(Buffer.from([b])));
  assert.deepEqual(frames.map((f) => ({ ...f, data: f.data.toString() })), EXPECTED);
});

test("a frame of another smux version is an error; an unknown command is skipped by its length", () => {
  assert.throws(() => new SmuxParser().push(hex("02 00 0000 03000000")), SmuxError);
  const frames = new SmuxParser().push(Buffer.concat([hex("01 05 0200 03000000 abcd"), hex("01 02 0100 03000000 7a")]));
  assert.deepEqual(frames.map((f) => [f.cmd, f.data.toString()]), [[2, "z"]]);
});

test("the client numbers streams 3, 5, 7 and routes data and FIN to each", () => {
  const sent: Buffer[] = [];
  const c = new SmuxClient((b) => sent.push(b));
  const got: string[] = [];
  const a = c.open({ onData: (d) => got.push(`a:${d}`), onFin: () => got.push("a:fin") });
  const b = c.open({ onData: (d) => got.push(`b:${d}`), onFin: () => got.push("b:fin") });
  assert.deepEqual([a, b], [3, 5]);
  assert.equal(c.open({ onData: () => undefined, onFin: () => undefined }), 7);
  assert.deepEqual(sent.map((s) => s.toString("hex")), ["0100000003000000", "0100000005000000", "0100000007000000"]);
  const wire = Buffer.concat([encodeFrame(SmuxCmd.PSH, 5, Buffer.from("x")), encodeFrame(SmuxCmd.PSH, 3, Buffer.from("y")), encodeFrame(SmuxCmd.FIN, 3)]);
  c.feed(wire.subarray(0, 4));
  c.feed(wire.subarray(4));
  assert.deepEqual(got, ["b:x", "a:y", "a:fin"]);
  assert.equal(c.openStreams, 2);
  c.close(b);
  assert.equal(sent.at(-1)!.toString("hex"), "0101000005000000");
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { InstanceWatcher } from "../../../extension/core/instance-events";
import { anInstance } from "./fakes";

const NOW = Date.parse("2026-11-23T10:00:00Z");

test("an interruption is announced once, on the transition", () => {
  const w = new InstanceWatcher();
  assert.deepEqual(w.update([anInstance()], NOW), []);
  const interrupted = anInstance({ state: "interrupted", stateReason: "spot-interruption" });
  assert.deepEqual(w.update([interrupted], NOW).map((e) => e.kind), ["interrupted"]);
  assert.deepEqual(w.update([interrupted], NOW), []);
});

test("an instance first seen already ended is not news; a user release is not news", () => {
  const w = new InstanceWatcher();
  assert.deepEqual(w.update([anInstance({ state: "terminated" })], NOW), []);
  const w2 = new InstanceWatcher();
  w2.update([anInstance()], NOW);
  w2.expectEnd("i-0123456789abcdef0");
  assert.deepEqual(w2.update([anInstance({ state: "releasing", stateReason: "user" })], NOW), []);
  const w3 = new InstanceWatcher();
  w3.update([anInstance()], NOW);
  assert.deepEqual(w3.update([anInstance({ state: "releasing", stateReason: "idle" })], NOW).map((e) => e.kind), ["ended"]);
});

test("the idle warning comes once per deadline, within five minutes of it", () => {
  const w = new InstanceWatcher();
  assert.deepEqual(w.update([anInstance({ idleDeadline: "2026-11-23T10:06:00Z" })], NOW), []);
  const soon = anInstance({ idleDeadline: "2026-11-23T10:04:00Z" });
  const ev = w.update([soon], NOW);
  assert.equal(ev[0]?.kind, "idleSoon");
  assert.equal(ev[0]?.kind === "idleSoon" && ev[0].msLeft, 4 * 60_000);
  assert.deepEqual(w.update([soon], NOW + 60_000), []);
  // A heartbeat moved the deadline; a later approach warns again.
  assert.equal(w.update([anInstance({ idleDeadline: "2026-11-23T10:09:00Z" })], NOW + 5 * 60_000)[0]?.kind, "idleSoon");
});

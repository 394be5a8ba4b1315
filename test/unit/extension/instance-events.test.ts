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

test("a spot warning is announced once, then the replacement once it runs, and the old one's end is no news", () => {
  const w = new InstanceWatcher();
  const old = anInstance({ instanceId: "i-old" });
  assert.deepEqual(w.update([old], NOW), []);
  const warned = anInstance({ instanceId: "i-old", state: "interrupting", stateReason: "spot-interruption-warning", replacementId: "i-new" });
  const booting = anInstance({ instanceId: "i-new", state: "booting", runningAt: null });
  assert.deepEqual(w.update([warned, booting], NOW).map((e) => e.kind), ["interrupting"]);
  assert.deepEqual(w.update([warned, booting], NOW), [], "once");
  const gone = anInstance({ instanceId: "i-old", state: "interrupted", replacementId: "i-new" });
  assert.deepEqual(w.update([gone, booting], NOW), [], "the old one ending is not news: its replacement is coming");
  const ready = anInstance({ instanceId: "i-new", state: "running" });
  const ev = w.update([gone, ready], NOW);
  assert.deepEqual(ev.map((e) => e.kind), ["replaced"]);
  assert.equal(ev[0]?.kind === "replaced" && `${ev[0].from.instanceId}->${ev[0].to.instanceId}`, "i-old->i-new");
  assert.deepEqual(w.update([gone, ready], NOW), []);
});

test("a poll that misses the short interrupting state still announces the interruption, then the replacement", () => {
  const w = new InstanceWatcher();
  assert.deepEqual(w.update([anInstance({ instanceId: "i-old" })], NOW), []);
  // The next poll already sees the old one released (its home handed off) and the new one booting.
  const released = anInstance({ instanceId: "i-old", state: "releasing", stateReason: "spot-interruption", replacementId: "i-new" });
  const booting = anInstance({ instanceId: "i-new", state: "booting", runningAt: null });
  assert.deepEqual(w.update([released, booting], NOW).map((e) => e.kind), ["interrupting"]);
  const gone = anInstance({ instanceId: "i-old", state: "terminated", stateReason: "spot-interruption", replacementId: "i-new" });
  assert.deepEqual(w.update([gone, booting], NOW), [], "once");
  const ready = anInstance({ instanceId: "i-new", state: "running" });
  assert.deepEqual(w.update([gone, ready], NOW).map((e) => e.kind), ["replaced"]);
  assert.deepEqual(w.update([gone, ready], NOW), []);
  // Even when the replacement is running by the first poll: told of both at once.
  const w2 = new InstanceWatcher();
  w2.update([anInstance({ instanceId: "i-old" })], NOW);
  assert.deepEqual(w2.update([gone, ready], NOW).map((e) => e.kind), ["interrupting", "replaced"]);
  // An instance already ended when first seen (VS Code started later) is history, not news.
  const w3 = new InstanceWatcher();
  assert.deepEqual(w3.update([gone, ready], NOW), []);
});

test("a replacement that fails is announced, once", () => {
  const w = new InstanceWatcher();
  const warned = anInstance({ instanceId: "i-old", state: "interrupting", replacementId: "i-new" });
  assert.deepEqual(w.update([warned, anInstance({ instanceId: "i-new", state: "launching" })], NOW).map((e) => e.kind), ["interrupting"], "first seen during the warning");
  const failed = anInstance({ instanceId: "i-new", state: "failed", stateReason: "no capacity" });
  assert.deepEqual(w.update([warned, failed], NOW).map((e) => e.kind), ["replacementFailed"]);
  assert.deepEqual(w.update([warned, failed], NOW), []);
});

test("a rebalance recommendation on a running instance is told once", () => {
  const w = new InstanceWatcher();
  assert.deepEqual(w.update([anInstance()], NOW), []);
  const warned = anInstance({ stateReason: "rebalance-recommended" });
  assert.deepEqual(w.update([warned], NOW).map((e) => e.kind), ["rebalance"]);
  assert.deepEqual(w.update([warned], NOW), []);
});

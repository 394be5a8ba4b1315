import assert from "node:assert/strict";
import { test } from "node:test";
import { ActivityMonitor, KeepAlive, TRAFFIC_WINDOW_MS } from "../../../extension/core/keep-alive";
import { ExtensionError } from "../../../extension/core/errors";
import { FakeClock, RecordingLog } from "./fakes";

const ID = "i-1";

test("activity: a visible panel counts only while the window has focus", () => {
  const clock = new FakeClock();
  const m = new ActivityMonitor(clock);
  assert.equal(m.activeReason(ID), null);
  m.setPanelVisible(ID, true);
  assert.equal(m.activeReason(ID), "panel");
  m.setWindowFocused(false);
  assert.equal(m.activeReason(ID), null, "focus elsewhere: away");
  m.setWindowFocused(true);
  m.setPanelVisible(ID, false);
  assert.equal(m.activeReason(ID), null, "panel hidden: away");
});

test("activity: tunnel traffic counts for a few minutes, then not", async () => {
  const clock = new FakeClock();
  const m = new ActivityMonitor(clock);
  m.setWindowFocused(false);
  m.noteTraffic(ID);
  assert.equal(m.activeReason(ID), "traffic");
  await clock.advance(TRAFFIC_WINDOW_MS - 1000);
  assert.equal(m.activeReason(ID), "traffic");
  await clock.advance(2000);
  assert.equal(m.activeReason(ID), null);
  assert.equal(m.activeReason("i-other"), null, "traffic is per instance");
});

function setup() {
  const clock = new FakeClock();
  const monitor = new ActivityMonitor(clock);
  const beats: string[] = [];
  const gone: string[] = [];
  const deadlines: string[] = [];
  let fail: ExtensionError | null = null;
  const ka = new KeepAlive({
    monitor,
    clock,
    log: new RecordingLog(),
    instances: () => ["i-1", "i-2"],
    intervalMs: () => 60_000,
    heartbeat: async (id) => {
      if (fail) throw fail;
      beats.push(id);
      return { instanceId: id, idleDeadline: new Date(clock.now() + 3600_000).toISOString() };
    },
    onGone: (id) => gone.push(id),
    onDeadline: (id, d) => deadlines.push(`${id}@${d}`),
  });
  return { clock, monitor, beats, gone, deadlines, ka, failWith: (e: ExtensionError) => (fail = e) };
}

test("heartbeats every interval only for instances in use; nothing when away", async () => {
  const { clock, monitor, beats, deadlines, ka } = setup();
  ka.start();
  await clock.advance(5 * 60_000);
  assert.deepEqual(beats, [], "away: no heartbeat at all");
  monitor.setPanelVisible("i-1", true);
  await clock.advance(3 * 60_000);
  assert.deepEqual(beats, ["i-1", "i-1", "i-1"], "one per minute for the visible one only");
  assert.equal(deadlines.length, 3);
  monitor.setWindowFocused(false);
  await clock.advance(5 * 60_000);
  assert.equal(beats.length, 3, "window lost focus: stop");
  monitor.noteTraffic("i-2");
  await clock.advance(60_000);
  assert.deepEqual(beats.slice(3), ["i-2"], "traffic through the tunnel keeps i-2 alive");
  await clock.advance(TRAFFIC_WINDOW_MS + 60_000);
  const after = beats.length;
  await clock.advance(10 * 60_000);
  assert.equal(beats.length, after, "traffic stopped long ago: nothing");
  ka.dispose();
  assert.equal(clock.pending, 0);
});

test("a heartbeat for an instance that is gone reports it", async () => {
  const { clock, monitor, gone, ka, failWith } = setup();
  monitor.setPanelVisible("i-1", true);
  failWith(new ExtensionError("INSTANCE_NOT_RUNNING", 'Instance "i-1" is releasing; claim a new one.', { status: 409 }));
  ka.start();
  await clock.advance(60_000);
  assert.deepEqual(gone, ["i-1"]);
  ka.dispose();
});

test("'Keep it' sends one heartbeat at once even when away", async () => {
  const { beats, ka } = setup();
  await ka.beat("i-2");
  assert.deepEqual(beats, ["i-2"]);
});

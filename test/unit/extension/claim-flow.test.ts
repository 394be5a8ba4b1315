import assert from "node:assert/strict";
import { test } from "node:test";
import type { ClaimResponse, InstanceView } from "../../../contract";
import { ClaimFlow, STAGE_TITLES, type ClaimStage } from "../../../extension/core/claim-flow";
import { ExtensionError } from "../../../extension/core/errors";
import { anInstance, FakeClock, flush, RecordingLog } from "./fakes";

/** A backend whose instance walks through the given states, one per poll. */
function fakeBackend(states: InstanceView["state"][], source: ClaimResponse["source"] = "launched") {
  let i = 0;
  const calls = { claim: [] as (string | undefined)[], polls: 0 };
  return {
    calls,
    client: {
      async claim(purpose: string | undefined): Promise<ClaimResponse> {
        calls.claim.push(purpose);
        return { instance: anInstance({ state: states[0]! }), source };
      },
      async instance(): Promise<InstanceView> {
        calls.polls++;
        i = Math.min(i + 1, states.length - 1);
        return anInstance({ state: states[i]! });
      },
    },
  };
}

test("stages run waiting → booting → tunnel → ready, each named once", async () => {
  const clock = new FakeClock();
  const b = fakeBackend(["launching", "launching", "booting", "booting", "running"]);
  const opened: string[] = [];
  const flow = new ClaimFlow({ client: b.client, openTunnel: async (inst) => (opened.push(inst.instanceId), { localPort: 41234 }), clock, log: new RecordingLog(), pollMs: 1000 });
  const stages: ClaimStage[] = [];
  const run = flow.run("rstudio", (s) => stages.push(s), new AbortController().signal);
  await clock.advance(10_000);
  const outcome = await run;
  assert.deepEqual(stages, ["waiting", "booting", "tunnel", "ready"]);
  assert.deepEqual(stages.map((s) => STAGE_TITLES[s]), ["Waiting for an instance", "Booting", "Opening the tunnel", "RStudio ready"]);
  assert.deepEqual(b.calls.claim, ["rstudio"]);
  assert.equal(b.calls.polls, 4);
  assert.deepEqual(opened, ["i-0123456789abcdef0"]);
  assert.equal(outcome.kind, "ready");
  assert.equal(outcome.kind === "ready" && outcome.localPort, 41234);
});

test("a warm instance goes straight to the tunnel without polling", async () => {
  const clock = new FakeClock();
  const b = fakeBackend(["running"], "warm");
  const flow = new ClaimFlow({ client: b.client, openTunnel: async () => ({ localPort: 1 }), clock, log: new RecordingLog() });
  const stages: ClaimStage[] = [];
  const outcome = await flow.run(undefined, (s) => stages.push(s), new AbortController().signal);
  assert.deepEqual(stages, ["waiting", "tunnel", "ready"]);
  assert.equal(b.calls.polls, 0);
  assert.equal(outcome.kind === "ready" && outcome.source, "warm");
});

test("cancelling while booting returns 'cancelled' (not an error) and stops polling", async () => {
  const clock = new FakeClock();
  const b = fakeBackend(["booting", "booting", "booting", "booting"]);
  let tunnels = 0;
  const log = new RecordingLog();
  const flow = new ClaimFlow({ client: b.client, openTunnel: async () => (tunnels++, { localPort: 1 }), clock, log, pollMs: 1000 });
  const abort = new AbortController();
  const stages: ClaimStage[] = [];
  const run = flow.run("rstudio", (s) => stages.push(s), abort.signal);
  await clock.advance(1500);
  abort.abort();
  const outcome = await run;
  assert.equal(outcome.kind, "cancelled");
  assert.equal(outcome.instance?.state, "booting");
  const polls = b.calls.polls;
  await clock.advance(10_000);
  assert.equal(b.calls.polls, polls, "no poll after the cancel");
  assert.equal(tunnels, 0);
  assert.equal(clock.pending, 0, "no timer left behind");
  assert.ok(log.lines.some((l) => l.startsWith("info claim cancelled")));
  assert.deepEqual(stages, ["waiting", "booting"]);
});

test("cancelling while the tunnel opens is a cancel too", async () => {
  const clock = new FakeClock();
  const abort = new AbortController();
  const flow = new ClaimFlow({
    client: fakeBackend(["running"]).client,
    openTunnel: (_i, signal) =>
      new Promise((_r, reject) =>
        signal.addEventListener("abort", () => {
          const e = new Error("aborted");
          e.name = "AbortError";
          reject(e);
        }),
      ),
    clock,
    log: new RecordingLog(),
  });
  const run = flow.run(undefined, () => undefined, abort.signal);
  await flush();
  abort.abort();
  assert.equal((await run).kind, "cancelled");
});

test("a refused claim is an error with the backend's reason", async () => {
  const flow = new ClaimFlow({
    client: {
      claim: async () => {
        throw new ExtensionError("POOL_EXHAUSTED", "The pool is full (10 of 10 instances in use); try again in a few minutes.", { status: 503 });
      },
      instance: async () => anInstance(),
    },
    openTunnel: async () => ({ localPort: 1 }),
    clock: new FakeClock(),
    log: new RecordingLog(),
  });
  await assert.rejects(flow.run(undefined, () => undefined, new AbortController().signal), (e: ExtensionError) => e.code === "POOL_EXHAUSTED");
});

test("an instance that fails while booting ends the flow with INSTANCE_ENDED", async () => {
  const clock = new FakeClock();
  const b = fakeBackend(["booting", "failed"]);
  const flow = new ClaimFlow({ client: b.client, openTunnel: async () => ({ localPort: 1 }), clock, log: new RecordingLog(), pollMs: 1000 });
  const run = flow.run(undefined, () => undefined, new AbortController().signal);
  const check = assert.rejects(run, (e: ExtensionError) => e.code === "INSTANCE_ENDED" && /is failed/.test(e.message));
  await clock.advance(2000);
  await check;
});

test("waiting too long times out with a clear message", async () => {
  const clock = new FakeClock();
  const flow = new ClaimFlow({ client: fakeBackend(["launching"]).client, openTunnel: async () => ({ localPort: 1 }), clock, log: new RecordingLog(), pollMs: 1000, timeoutMs: 5000 });
  const check = assert.rejects(flow.run(undefined, () => undefined, new AbortController().signal), (e: ExtensionError) => e.code === "TIMEOUT" && /still launching/.test(e.message));
  await clock.advance(10_000);
  await check;
});

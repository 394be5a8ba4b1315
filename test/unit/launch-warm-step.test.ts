import assert from "node:assert/strict";
import { test } from "node:test";
import { launchWarmStep } from "../../backend/pool/lifecycle/launch";
import type { Tick } from "../../backend/pool/lifecycle/step";
import type { Instance } from "../../backend/store/instances";

/** A launcher that only says which way it was asked to start launches. */
function tickWith(fields: Partial<Tick>) {
  const calls: string[] = [];
  const launcher = {
    start: (rows: Instance[]) => (calls.push(`start:${rows.map((r) => r.id).join(",")}`), rows.length),
    startDue: async () => (calls.push("startDue"), 0),
  };
  return { tick: { launcher, ...fields } as unknown as Tick, calls };
}

const row = { id: "rsp-new" } as Instance;

test("launch-warm starts the warm step's own rows as inserted, without reading them back", async () => {
  const { tick, calls } = tickWith({ warmLaunches: [row] });
  await launchWarmStep.run(tick);
  assert.deepEqual(calls, ["start:rsp-new"]);
});

test("after a failed step launch-warm reads every launching row back (the retry of the launch step), even with the warm step's rows at hand", async () => {
  const { tick, calls } = tickWith({ warmLaunches: [row], uncertain: true });
  await launchWarmStep.run(tick);
  assert.deepEqual(calls, ["startDue"]);
});

test("launch-warm without rows from the warm step reads them", async () => {
  const { tick, calls } = tickWith({});
  await launchWarmStep.run(tick);
  assert.deepEqual(calls, ["startDue"]);
});

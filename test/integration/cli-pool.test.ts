/**
 * The operator's way to see and stop what `npm start` leaves running: `pool ls`, `events` and
 * `pool drain`, against a real `serve` with real local processes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { taggedProcesses } from "../../backend/providers/local/processes";
import { tempDir } from "../support/builders";
import { runCli, startServe, type ServeHandle } from "../support/cli";
import { killLocalInstances } from "../support/local";

describe("rstudio-pool pool ls / drain / events", () => {
  const dataDir = tempDir("cli-pool-");
  const env = { POOL_DATA_DIR: dataDir, POOL_LOCAL_RUNTIME: "placeholder", MIN_FREE_INSTANCES: "1", MAX_INSTANCES: "3", POOL_TICK_MS: "200", LOG_LEVEL: "info" };
  let server: ServeHandle;
  let admin = "";

  before(async () => {
    server = await startServe(env);
    admin = runCli(["user", "token", "admin"], env).stdout.trim();
  });
  after(async () => {
    await server?.stop();
    killLocalInstances(dataDir);
  });

  async function adminInstances(): Promise<Array<{ id: string; state: string; ownerId: string | null }>> {
    const res = await fetch(`${server.url}/v1/admin/instances`, { headers: { authorization: `Bearer ${admin}` } });
    return ((await res.json()) as { instances: Array<{ id: string; state: string; ownerId: string | null }> }).instances;
  }

  it("lists the live instances, shows the history, and drains them once the backend is stopped", async () => {
    const alice = runCli(["user", "add", "alice"], env).stdout.trim();
    await fetch(`${server.url}/v1/claims`, { method: "POST", headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" }, body: "{}" });
    let list: Awaited<ReturnType<typeof adminInstances>> = [];
    for (let i = 0; i < 150; i++) {
      list = await adminInstances();
      if (list.length === 2 && list.every((x) => x.state === "running")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(list.length, 2, JSON.stringify(list));
    assert.deepEqual(list.map((x) => x.ownerId).sort(), ["alice", null]);

    const ls = runCli(["pool", "ls"], env);
    assert.equal(ls.status, 0, ls.stderr);
    const rows = ls.stdout.trim().split("\n");
    assert.match(rows[0]!, /^INSTANCE\tPURPOSE\tSTATE\tOWNER\tSINCE\tIDLE DEADLINE\tCOST$/);
    assert.equal(rows.length, 3);
    assert.ok(rows.some((r) => r.includes("\talice\t")));
    const json = JSON.parse(runCli(["pool", "ls", "--json"], env).stdout);
    assert.deepEqual(json.map((x: { id: string }) => x.id).sort(), list.map((x) => x.id).sort());

    const refused = runCli(["pool", "drain"], env);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /CONFLICT: A backend is running.*Stop it first/);

    const events = runCli(["events", "--user", "alice", "--kind", "assigned"], env);
    assert.equal(events.status, 0, events.stderr);
    assert.match(events.stdout, /\tassigned\t.*\talice\t/);
    const badKind = runCli(["events", "--kind", "exploded"], env);
    assert.equal(badKind.status, 1);
    assert.match(badKind.stderr, /INVALID_REQUEST: Unknown event kind "exploded"/);

    await server.stop();
    assert.equal(taggedProcesses({ home: dataDir }).length, 2, "stopping the backend leaves the instances running (by design)");
    const drain = runCli(["pool", "drain"], env);
    assert.equal(drain.status, 0, drain.stderr);
    assert.match(drain.stderr, /drained 2 instance\(s\)/);
    assert.deepEqual(taggedProcesses({ home: dataDir }), [], "no instance process is left");
    assert.equal(runCli(["pool", "ls"], env).stdout.trim().split("\n").length, 1, "only the header");
    const terminated = JSON.parse(runCli(["events", "--kind", "terminated", "--json"], env).stdout);
    assert.equal(terminated.events.length, 2);
  });
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { isOurProcess, LocalProvider } from "../../backend/providers/local/provider";
import { Pool } from "../../backend/pool/service";
import { getInstance } from "../../backend/store/instances";
import { aConfig, aPurpose, tempDir } from "../support/builders";
import { ensureBuilt, ROOT } from "../support/cli";
import { killLocalInstances } from "../support/local";
import { createTestStore } from "../support/stores";
import { untilWithin } from "../support/until";

const CODE_DIR = path.join(ROOT, "dist", "backend");

const until = untilWithin(20_000);

describe("local provider with real processes", () => {
  ensureBuilt();
  const dirs: string[] = [];
  after(() => dirs.forEach(killLocalInstances));

  it("launches the placeholder on a loopback port, finds it again after a restart, and terminates it", async () => {
    const dataDir = tempDir("local-");
    dirs.push(dataDir);
    const purpose = aPurpose();
    const provider = new LocalProvider({ dataDir, runtime: "placeholder", command: null, codeDir: CODE_DIR, cwd: ROOT });
    const res = await provider.launch({ instanceId: "rsp-00000000000000a1", purpose, poolName: "p", ownerId: "alice" });
    assert.equal(res.market, "local");
    const again = await provider.launch({ instanceId: "rsp-00000000000000a1", purpose, poolName: "p", ownerId: "alice" });
    assert.equal(again.providerId, res.providerId, "launching the same id twice starts one process");

    const ready = await until("ready", async () => (await provider.describe([res.providerId])).find((p) => p.ready));
    assert.equal(ready.state, "running");
    const conn = await provider.connect({ id: "rsp-00000000000000a1", providerId: res.providerId, purpose: "rstudio", ownerId: "alice", availabilityZone: null, instanceType: null, market: null, details: {} }, purpose, { userId: "alice" });
    assert.equal(conn.kind, "direct");
    if (conn.kind !== "direct") return;
    assert.equal(conn.host, "127.0.0.1");
    const page = await (await fetch(`http://127.0.0.1:${conn.port}/`)).text();
    assert.match(page, /stands in for RStudio Server/);
    assert.match(page, /rsp-00000000000000a1/);

    // A new provider object over the same data dir is what a restarted backend has.
    const restarted = new LocalProvider({ dataDir, runtime: "placeholder", command: null, codeDir: CODE_DIR, cwd: ROOT });
    const listed = await restarted.list("p");
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.instanceId, "rsp-00000000000000a1");
    assert.equal(listed[0]!.ready, true);

    const state = JSON.parse(readFileSync(path.join(dataDir, "local-instances", "rsp-00000000000000a1.json"), "utf8"));
    await restarted.terminate([{ id: "rsp-00000000000000a1", providerId: res.providerId, purpose: "rstudio", ownerId: null, availabilityZone: null, instanceType: null, market: null, details: {} }]);
    assert.equal(isOurProcess(state.pid, "rsp-00000000000000a1"), false, "the process is gone (dead or a zombie waiting to be reaped)");
    const after = await restarted.list("p");
    assert.deepEqual(after.map((x) => [x.instanceId, x.state]), [["rsp-00000000000000a1", "terminated"]], "only its tombstone: when it ended, for the ledger");
    assert.ok(after[0]!.endedAt && after[0]!.endedAt <= Date.now());
  });

  it("runs a command template, and a process that dies is an instance lost", async () => {
    const ts = await createTestStore("sqlite");
    dirs.push(ts.dataDir);
    const provider = new LocalProvider({ dataDir: ts.dataDir, runtime: "command", command: `${process.execPath} ${path.join(CODE_DIR, "placeholder.js")} --port {port}`, codeDir: CODE_DIR, cwd: ROOT });
    const config = aConfig({ dataDir: ts.dataDir, purposes: [aPurpose({ max: 3 })], local: { runtime: "command", command: "x {port}" } });
    const pool = new Pool({ config, store: ts.store, provider });
    await pool.prepare();
    const { instance } = await pool.claim("alice");
    const running = await until("running", async () => {
      await pool.loop.tick({ forceReconcile: true });
      await pool.loop.launcher.settle();
      const row = await getInstance(pool.db, instance.id);
      return row?.state === "running" ? row : null;
    });
    assert.equal(running.ownerId, "alice");

    const state = JSON.parse(readFileSync(path.join(ts.dataDir, "local-instances", `${instance.id}.json`), "utf8"));
    process.kill(-state.pid, "SIGKILL");
    const lost = await until("lost", async () => {
      await pool.loop.tick({ forceReconcile: true });
      const row = await getInstance(pool.db, instance.id);
      return row?.state === "lost" ? row : null;
    });
    assert.equal(lost.stateReason, "process exited");
    const next = await pool.claim("alice");
    assert.notEqual(next.instance.id, instance.id, "the user's next claim gets a new instance");
    await pool.stop();
    await ts.cleanup();
  });
});

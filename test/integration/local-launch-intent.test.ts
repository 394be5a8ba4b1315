/**
 * The local provider's launch under crashes and its instances' environment: real processes,
 * found again through their tags in /proc.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { LocalProvider } from "../../backend/providers/local/provider";
import { taggedProcesses } from "../../backend/providers/local/processes";
import { aPurpose, tempDir } from "../support/builders";
import { ensureBuilt, ROOT } from "../support/cli";
import { killLocalInstances } from "../support/local";

const CODE_DIR = path.join(ROOT, "dist", "backend");
const HAS_PROC = process.platform === "linux";
const SECRETS = {
  ARENA_POOL_SERVICE_KEY: "app-secret-123",
  PROXY_KEY: "proxy-secret-456",
  AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "aws-secret-789",
  AWS_SESSION_TOKEN: "aws-session-000",
  POOL_DATABASE_URL: "postgres://pool:dbsecret@127.0.0.1/pool",
};

function environOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
    const eq = kv.indexOf("=");
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

function stateOf(dataDir: string, id: string): { pid: number | null; port: number } {
  return JSON.parse(readFileSync(path.join(dataDir, "local-instances", `${id}.json`), "utf8"));
}

describe("local provider: environment and launch intent", { skip: HAS_PROC ? false : "needs /proc (Linux)" }, () => {
  ensureBuilt();
  const dirs: string[] = [];
  after(() => dirs.forEach(killLocalInstances));
  const purpose = aPurpose();
  const provider = (dataDir: string) => new LocalProvider({ dataDir, runtime: "placeholder", command: null, codeDir: CODE_DIR, cwd: ROOT });
  const ours = (dataDir: string, id: string) => taggedProcesses({ home: dataDir, poolName: "p" }).filter((p) => p.instanceId === id);

  it("gives an instance only the allowlisted variables, never the backend's secrets", async () => {
    const dataDir = tempDir("local-env-");
    dirs.push(dataDir);
    const saved = { ...process.env };
    Object.assign(process.env, SECRETS, { POOL_DATA_DIR: dataDir, SOME_UNLISTED: "x" });
    try {
      await provider(dataDir).launch({ instanceId: "rsp-00000000000000e1", purpose, poolName: "p", ownerId: null });
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    }
    const { pid } = stateOf(dataDir, "rsp-00000000000000e1");
    const env = environOf(pid!);
    for (const [name, value] of Object.entries(SECRETS)) {
      assert.equal(env[name], undefined, `${name} reached the instance`);
      assert.ok(!Object.values(env).some((v) => v.includes(value)), `the value of ${name} reached the instance`);
    }
    assert.equal(env.SOME_UNLISTED, undefined);
    assert.equal(env.POOL_DATA_DIR, undefined);
    assert.equal(env.RSTUDIO_POOL_INSTANCE, "rsp-00000000000000e1");
    assert.equal(env.RSTUDIO_POOL_NAME, "p");
    assert.equal(env.PATH, process.env.PATH);
  });

  it("a restart finds a process whose launch crashed before its pid was written, and never spawns a second", async () => {
    const dataDir = tempDir("local-intent-");
    dirs.push(dataDir);
    const id = "rsp-00000000000000e2";
    const first = await provider(dataDir).launch({ instanceId: id, purpose, poolName: "p", ownerId: null });
    const { pid } = stateOf(dataDir, id);

    // Crash after the spawn, before the pid reached the file: only the intent is there.
    const file = path.join(dataDir, "local-instances", `${id}.json`);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), pid: null }));
    const again = await provider(dataDir).launch({ instanceId: id, purpose, poolName: "p", ownerId: null });
    assert.equal(again.providerId, first.providerId);
    assert.deepEqual(ours(dataDir, id).map((p) => p.pid), [pid], "one process, the first one");
    assert.equal(stateOf(dataDir, id).pid, pid, "the pid is written down");

    // No file at all (a crash before this version wrote intents): still found, not doubled.
    rmSync(file);
    await provider(dataDir).launch({ instanceId: id, purpose, poolName: "p", ownerId: null });
    assert.deepEqual(ours(dataDir, id).map((p) => p.pid), [pid]);

    // And the reconciler's listing shows a tagged process whose file is gone.
    rmSync(file);
    const listed = await provider(dataDir).list("p");
    assert.deepEqual(listed.map((p) => p.instanceId), [id]);
    await provider(dataDir).terminate([{ id, providerId: first.providerId, purpose: "rstudio", ownerId: null, availabilityZone: null, instanceType: null, market: null, details: {} }]);
    assert.deepEqual(ours(dataDir, id), [], "terminated");
  });

  it("an intent whose spawn never happened is launched, once", async () => {
    const dataDir = tempDir("local-intent-");
    dirs.push(dataDir);
    const id = "rsp-00000000000000e3";
    const p = provider(dataDir);
    await p.launch({ instanceId: id, purpose, poolName: "p", ownerId: null });
    const { pid } = stateOf(dataDir, id);
    process.kill(-pid!, "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    const file = path.join(dataDir, "local-instances", `${id}.json`);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), pid: null }));
    assert.deepEqual(await p.list("p"), [], "an intent with nothing running is not an instance");
    await provider(dataDir).launch({ instanceId: id, purpose, poolName: "p", ownerId: null });
    const now = ours(dataDir, id);
    assert.equal(now.length, 1);
    assert.notEqual(now[0]!.pid, pid);
  });
});

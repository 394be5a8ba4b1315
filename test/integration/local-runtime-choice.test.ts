/**
 * What the local provider tells the operator about its runtime: `auto` logs the runtime it chose
 * for each app and why it skipped the ones before it; an explicit `docker` runtime with no Docker
 * daemon fails the claim with that reason (the instance is `failed`, not a silent `lost`).
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, test } from "node:test";
import { loadConfig } from "../../backend/config/load";
import { createLogger } from "../../backend/log";
import { LocalProvider } from "../../backend/providers/local/provider";
import { dockerProblem } from "../../backend/providers/local/runtimes";
import { serve } from "../../backend/server";
import { hashToken, insertToken, insertUser, newToken } from "../../backend/store/users";
import { tempDir } from "../support/builders";
import { killLocalInstances } from "../support/local";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) {
    killLocalInstances(d);
    rmSync(d, { recursive: true, force: true });
  }
});

const ORDER = ["docker", "rserver", "command", "jupyter", "placeholder"];

test("auto logs the runtime it chose for each app and why it skipped the others", async () => {
  const dataDir = tempDir("rsp-choice-");
  dirs.push(dataDir);
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = { info: (obj: object, msg: string) => lines.push({ obj: obj as Record<string, unknown>, msg }), warn: () => undefined };
  const provider = new LocalProvider({ dataDir, runtime: "auto", command: null, log });
  const rstudio = await provider.resolveRuntime("rstudio");
  const jupyter = await provider.resolveRuntime("jupyter");
  await provider.resolveRuntime("rstudio");
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 2, "logged once per app");
  for (const [line, app, runtime] of [[lines[0]!, "rstudio", rstudio], [lines[1]!, "jupyter", jupyter]] as const) {
    assert.equal(line.obj.event, "local-runtime");
    assert.equal(line.obj.app, app);
    assert.equal(line.obj.runtime, runtime);
    const skipped = line.obj.skipped as { runtime: string; reason: string }[];
    assert.deepEqual(skipped.map((s) => s.runtime), ORDER.slice(0, ORDER.indexOf(runtime)), "every runtime before the chosen one is explained");
    assert.ok(skipped.every((s) => s.reason.length > 0));
    assert.match(line.msg, new RegExp(`runs ${app} purposes with the ${runtime} runtime`));
  }
});

test("POOL_LOCAL_RUNTIME=docker without a Docker daemon: the claim fails with that reason", async (t) => {
  if ((await dockerProblem()) === null) {
    t.skip("a Docker daemon answers on this machine; the no-daemon case cannot be shown here");
    return;
  }
  const dataDir = tempDir("rsp-docker-");
  dirs.push(dataDir);
  const config = loadConfig({ POOL_DATA_DIR: dataDir, PORT: "0", POOL_LOCAL_RUNTIME: "docker", POOL_TICK_MS: "50", MAX_INSTANCES: "1" });
  const running = await serve({ config, log: createLogger({ level: "silent" }), announce: () => undefined });
  try {
    const token = newToken();
    await insertUser(running.store.db, "alice", false, Date.now());
    await insertToken(running.store.db, "alice", hashToken(token), Date.now());
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${running.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
      return (await res.json()) as { instance: { instanceId: string; state: string; stateReason: string | null } };
    };
    const { instance } = await api("POST", "/v1/claims", {});
    let now = instance;
    const deadline = Date.now() + 30_000;
    while (now.state === "launching" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      now = (await api("GET", `/v1/instances/${instance.instanceId}`)).instance;
    }
    assert.equal(now.state, "failed");
    assert.match(now.stateReason ?? "", /Failed to start a docker instance: (docker is not on the PATH|the docker client is installed but no Docker daemon answers)/);
  } finally {
    await running.close();
  }
});

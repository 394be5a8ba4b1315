/**
 * The local provider's `jupyter` runtime with the real Jupyter Notebook and R kernel: R code runs
 * over Jupyter's REST and WebSocket API through the extension's own tunnel (TunnelManager and its
 * TcpForwarder) and prints `[1] 2`; the instance is framed-allowed, tokenless on 127.0.0.1, gets
 * no backend secrets, and its busy kernels count for the busy check. Then the whole path: a
 * Jupyter purpose claimed through the real backend, its app in /v1/purposes, released at the end.
 * Skipped loudly without Jupyter + IRkernel; a failure under JUPYTER_REQUIRED=1 or CI=true.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after } from "node:test";
import { loadConfig } from "../../backend/config/load";
import { createLogger } from "../../backend/log";
import { isOurProcess, LocalProvider } from "../../backend/providers/local/provider";
import { serve } from "../../backend/server";
import { hashToken, insertToken, insertUser, newToken } from "../../backend/store/users";
import { BackendClient } from "../../extension/core/backend-client";
import { ClaimFlow } from "../../extension/core/claim-flow";
import { systemClock } from "../../extension/core/emitter";
import { TcpForwarder } from "../../extension/core/tunnels/forwarder";
import { TunnelManager } from "../../extension/core/tunnels/tunnel-manager";
import { aPurpose, tempDir } from "../support/builders";
import { NotebookClient, jupyterTest } from "../support/jupyter";
import { killLocalInstances } from "../support/local";
import { RecordingLog } from "../unit/extension/fakes";
import { untilWithin } from "../support/until";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) {
    killLocalInstances(d);
    rmSync(d, { recursive: true, force: true });
  }
});

const until = untilWithin(90_000, 200);

function environOf(pid: number): Map<string, string> {
  return new Map(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as [string, string]),
  );
}

jupyterTest("jupyter runtime: R runs 1 + 1 through the extension's forwarder; framing, no token, no secrets, busy kernels", { timeout: 180_000 }, async () => {
  const dataDir = tempDir("rsp-jupyter-");
  dirs.push(dataDir);
  const purpose = aPurpose({ name: "notebooks", app: "jupyter", servicePort: 8888 });
  const windowMs = 2000;
  const provider = new LocalProvider({ dataDir, runtime: "auto", command: null, jupyterActivityWindowMs: windowMs });
  // A secret of the backend's must not reach Jupyter or its R kernels.
  process.env.RSTUDIO_POOL_TEST_SECRET = "do-not-leak";
  const id = "rsp-00000000000000j1";
  let launched;
  try {
    launched = await provider.launch({ instanceId: id, purpose, poolName: "p", ownerId: "alice" });
  } finally {
    delete process.env.RSTUDIO_POOL_TEST_SECRET;
  }
  assert.equal(launched.instanceType, "local-jupyter", "auto picks the jupyter runtime for a Jupyter purpose");
  assert.deepEqual(launched.details, { app: "jupyter", runtime: "jupyter" });
  await until("Jupyter ready", async () => (await provider.describe([launched.providerId])).find((p) => p.ready));

  const ref = { id, providerId: launched.providerId, purpose: purpose.name, ownerId: "alice", availabilityZone: null, instanceType: null, market: null, details: {} };
  const conn = await provider.connect(ref, purpose, { userId: "alice" });
  assert.equal(conn.kind, "direct");
  if (conn.kind !== "direct") return;
  assert.equal(conn.host, "127.0.0.1");
  assert.equal(conn.app, "jupyter");
  await assert.rejects(provider.connect(ref, purpose, { userId: "alice", app: "rstudio" }), /serves Jupyter only/);

  const state = JSON.parse(readFileSync(path.join(dataDir, "local-instances", `${id}.json`), "utf8")) as { pid: number };
  const env = environOf(state.pid);
  assert.equal(env.has("RSTUDIO_POOL_TEST_SECRET"), false, "the backend's environment is not passed on");
  const home = provider.homeDir(id);
  assert.equal(env.get("HOME"), home);
  assert.equal(readFileSync(`/proc/${state.pid}/cmdline`, "utf8").split("\0").includes("--ip=127.0.0.1"), true);

  // The extension's forwarder in front, as for a direct connection.
  let traffic = 0;
  const forwarder = new TcpForwarder({ upstream: () => ({ host: conn.host, port: conn.port }), onTraffic: () => traffic++ });
  const localPort = await forwarder.listen();
  try {
    const nb = new NotebookClient(`http://127.0.0.1:${localPort}`);
    const tree = await nb.open();
    assert.equal(tree.status, 200, "no token: the tree page opens without logging in");
    assert.match(tree.headers.get("content-security-policy") ?? "", /frame-ancestors [^;]*vscode-webview:[^;]*http:\/\/localhost:\*/);
    const specs = await nb.json<{ default: string; kernelspecs: Record<string, unknown> }>("GET", "/api/kernelspecs");
    assert.equal(specs.default, "ir", "the R kernel is the default");

    const kernel = await nb.startKernel("ir");
    const result = await nb.execute(kernel.id, "1 + 1");
    assert.equal(result.status, "ok");
    assert.deepEqual(result.outputs, ["[1] 2"]);
    const wd = await nb.execute(kernel.id, "cat(getwd())");
    assert.deepEqual(wd.outputs, [home], "R works in the instance's home");
    assert.ok(traffic > 0, "the forwarder saw the traffic (the keep-alive counts it)");

    // Busy check: a kernel running code is busy; an idle Jupyter past the activity window is not.
    const long = nb.execute(kernel.id, "Sys.sleep(6); 'done'");
    await until("kernel busy", async () => (await nb.json<{ execution_state: string }[]>("GET", "/api/kernels?no_track_activity=1")).some((k) => k.execution_state === "busy"), 10_000);
    assert.equal(await provider.isBusy(ref), true, "a busy kernel is work");
    assert.deepEqual((await long).outputs, ['[1] "done"']);
    await new Promise((r) => setTimeout(r, windowMs + 500));
    assert.equal(await provider.isBusy(ref), false, "idle kernels and no recent activity: not busy");
    await nb.stopKernel(kernel.id);
  } finally {
    await forwarder.close();
  }

  await provider.terminate([ref]);
  assert.equal(isOurProcess(state.pid, id), false, "terminated");
  assert.equal(existsSync(home), true, "the instance's home is kept, like a home volume");
});

jupyterTest("backend: a Jupyter purpose is listed with its app, claimed through the extension's tunnel, runs R, released", { timeout: 180_000 }, async () => {
  const dataDir = tempDir("rsp-jupyter-api-");
  dirs.push(dataDir);
  const configFile = path.join(dataDir, "purposes.yaml");
  writeFileSync(configFile, ["purposes:", "  - name: rstudio", "    max: 1", "  - name: notebooks", "    app: jupyter", "    description: Jupyter with R", "    max: 1", ""].join("\n"));
  const config = loadConfig({ POOL_DATA_DIR: dataDir, PORT: "0", POOL_CONFIG: configFile, POOL_LOCAL_RUNTIME: "auto", POOL_TICK_MS: "100" });
  const running = await serve({ config, log: createLogger({ level: "silent" }), announce: () => undefined });
  try {
    const token = newToken();
    await insertUser(running.store.db, "alice", false, Date.now());
    await insertToken(running.store.db, "alice", hashToken(token), Date.now());
    const client = new BackendClient({ baseUrl: () => running.url, token: async () => token, log: new RecordingLog() });

    const { purposes } = await client.purposes();
    assert.deepEqual(purposes.map((p) => [p.name, p.app, p.apps]), [
      ["rstudio", "rstudio", [{ app: "rstudio", port: 8787 }]],
      ["notebooks", "jupyter", [{ app: "jupyter", port: 8888 }]],
    ]);

    const log = new RecordingLog();
    const tunnels = new TunnelManager({ client, pluginPath: () => "unused", checkPlugin: async () => "unused", spawn: () => { throw new Error("direct only"); }, clock: systemClock, log });
    const flow = new ClaimFlow({ client, openTunnel: (i, s) => tunnels.open(i.instanceId, s), clock: systemClock, log, pollMs: 200, timeoutMs: 120_000 });
    const outcome = await flow.run("notebooks", () => undefined, new AbortController().signal);
    assert.equal(outcome.kind, "ready");
    if (outcome.kind !== "ready") return;
    assert.equal(outcome.instance.app, "jupyter");
    assert.deepEqual(outcome.instance.apps, ["jupyter"]);

    const nb = new NotebookClient(`http://127.0.0.1:${outcome.localPort}`);
    await nb.open();
    const kernel = await nb.startKernel();
    assert.equal(kernel.name, "ir");
    assert.deepEqual((await nb.execute(kernel.id, "1 + 1")).outputs, ["[1] 2"]);

    const released = await client.release(outcome.instance.instanceId);
    assert.equal(released.state === "releasing" || released.state === "terminated", true);
    await tunnels.dispose();
    await until("terminated", async () => (await client.instance(outcome.instance.instanceId)).state === "terminated", 30_000);
  } finally {
    await running.close();
  }
});

/**
 * The extension's BackendClient, ClaimFlow and TunnelManager against a real in-process backend
 * (backend/server.ts serve(): SQLite in a temp dir, the local provider with its placeholder
 * "RStudio"), on 127.0.0.1 port 0. Everything is closed at the end.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../../../backend/config/load";
import { createLogger } from "../../../backend/log";
import { serve, type RunningServer } from "../../../backend/server";
import { hashToken, insertToken, insertUser, newToken } from "../../../backend/store/users";
import { BackendClient } from "../../../extension/core/backend-client";
import { ClaimFlow, type ClaimStage } from "../../../extension/core/claim-flow";
import { systemClock } from "../../../extension/core/emitter";
import { describeFailure, ExtensionError } from "../../../extension/core/errors";
import { TunnelManager } from "../../../extension/core/tunnels/tunnel-manager";
import { killLocalInstances } from "../../support/local";
import { RecordingLog } from "../../unit/extension/fakes";

let dir: string;
let running: RunningServer;
let token: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rsp-ext-it-"));
  const config = loadConfig({ POOL_DATA_DIR: dir, PORT: "0", POOL_LOCAL_RUNTIME: "placeholder", POOL_TICK_MS: "50", MAX_INSTANCES: "1", TIMEOUT_INSTANCE: "600000" });
  running = await serve({ config, log: createLogger({ level: "silent" }), announce: () => undefined });
  token = newToken();
  await insertUser(running.store.db, "alice", false, Date.now());
  await insertToken(running.store.db, "alice", hashToken(token), Date.now());
});

after(async () => {
  await running?.close();
  // A released instance may still be terminating when the server closes (instances outlive it by design).
  killLocalInstances(dir);
  rmSync(dir, { recursive: true, force: true });
});

const clientFor = (t: string | undefined, url = () => running.url) => new BackendClient({ baseUrl: url, token: async () => t, log: new RecordingLog() });

test("claim → boot → tunnel → RStudio answers; heartbeat, costs, release", async () => {
  const client = clientFor(token);
  assert.equal((await client.me()).userId, "alice");
  const purposes = await client.purposes();
  assert.equal(purposes.purposes[0]!.name, "rstudio");

  const log = new RecordingLog();
  const tunnels = new TunnelManager({
    client,
    pluginPath: () => "session-manager-plugin",
    checkPlugin: async () => "unused",
    spawn: () => {
      throw new Error("the local provider connects directly");
    },
    clock: systemClock,
    log,
  });
  const flow = new ClaimFlow({ client, openTunnel: (i, s) => tunnels.open(i.instanceId, s), clock: systemClock, log, pollMs: 100, timeoutMs: 60_000 });
  const stages: ClaimStage[] = [];
  const outcome = await flow.run(undefined, (s) => stages.push(s), new AbortController().signal);
  assert.equal(outcome.kind, "ready");
  if (outcome.kind !== "ready") return;
  assert.equal(stages[0], "waiting");
  assert.deepEqual(stages.slice(-2), ["tunnel", "ready"]);
  assert.equal(outcome.instance.state, "running");

  const page = await (await fetch(`http://127.0.0.1:${outcome.localPort}/`)).text();
  assert.match(page, /RStudio Pool · placeholder instance/, "the placeholder answers through our tunnel");

  const mine = await client.instances();
  assert.deepEqual(mine.map((i) => i.instanceId), [outcome.instance.instanceId]);
  const beat = await client.heartbeat(outcome.instance.instanceId);
  assert.ok(Date.parse(beat.idleDeadline) > Date.now());
  const costs = await client.costs();
  assert.equal(costs.currency, "USD");
  assert.equal(costs.instances.length, 1);

  // The pool holds one instance: a second user's claim is refused with the backend's reason.
  const bobToken = newToken();
  await insertUser(running.store.db, "bob", false, Date.now());
  await insertToken(running.store.db, "bob", hashToken(bobToken), Date.now());
  const refused = await clientFor(bobToken).claim(undefined).then(() => null, (e: unknown) => e);
  assert.ok(refused instanceof ExtensionError);
  assert.equal(refused.code, "POOL_EXHAUSTED");
  assert.match(describeFailure("claim", "RStudio", refused).message, /^Failed to claim RStudio: /);

  const released = await client.release(outcome.instance.instanceId);
  assert.equal(released.state, "releasing");
  await tunnels.close(outcome.instance.instanceId);
  const err = (await client.heartbeat(outcome.instance.instanceId).catch((e) => e)) as ExtensionError;
  assert.ok(err.code === "INSTANCE_NOT_RUNNING" || err.code === "INSTANCE_NOT_FOUND", err.code);
  await tunnels.dispose();
});

test("a bad token is UNAUTHORIZED with the sign-in step; a dead backend is BACKEND_UNREACHABLE", async () => {
  const bad = (await clientFor("rsp_not-a-token").instances().catch((e) => e)) as ExtensionError;
  assert.equal(bad.code, "UNAUTHORIZED");
  assert.equal(bad.status, 401);
  assert.deepEqual(describeFailure("list", "your instances", bad).actions, ["signIn"]);

  const down = (await clientFor(token, () => "http://127.0.0.1:9").instances().catch((e) => e)) as ExtensionError;
  assert.equal(down.code, "BACKEND_UNREACHABLE");
  assert.match(down.message, /http:\/\/127\.0\.0\.1:9 does not answer/);
});

/**
 * Tunnel restart and cleanup with a real child process: a tiny fake session-manager-plugin
 * (fixtures/) honouring the plugin's command line and serving HTTP on the local port.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import type { ConnectionResponse, SsmConnection } from "../../../contract";
import { systemClock } from "../../../extension/core/emitter";
import { ExtensionError } from "../../../extension/core/errors";
import { freePort, httpAnswers } from "../../../extension/core/tunnels/net";
import { SsmTunnel, type SpawnFn, type SpawnedProcess } from "../../../extension/core/tunnels/ssm-tunnel";
import { TunnelManager } from "../../../extension/core/tunnels/tunnel-manager";
import { anSsmConnection, RecordingLog } from "./fakes";

const FAKE_PLUGIN = path.join(__dirname, "fixtures", "fake-session-manager-plugin.mjs");

function fakePlugin() {
  const record = path.join(mkdtempSync(path.join(tmpdir(), "rsp-plugin-")), "runs.jsonl");
  const children: SpawnedProcess[] = [];
  const commands: string[] = [];
  const spawnFn: SpawnFn = (command, args, options) => {
    commands.push(command);
    const child = spawn(process.execPath, [FAKE_PLUGIN, ...args], { env: { ...options.env, FAKE_PLUGIN_RECORD: record }, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    return child;
  };
  const runs = () =>
    readFileSync(record, "utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { pid: number; argv: string[]; sessionId: string; tokenLength: number });
  return { spawnFn, children, commands, runs };
}

async function get(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return res.text();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("SSM tunnel: a dropped session reconnects with a fresh session on the same port; dispose kills the plugin", async () => {
  const plugin = fakePlugin();
  const port = await freePort();
  let sessions = 0;
  const fetchConnection = async (): Promise<SsmConnection> => anSsmConnection({ sessionId: `alice-session-${++sessions}` });
  const log = new RecordingLog();
  const t = new SsmTunnel({ instanceId: "i-1", port, pluginPath: "/opt/session-manager-plugin", fetchConnection, spawn: plugin.spawnFn, clock: systemClock, log, backoffMs: [50, 100] });
  const states: string[] = [];
  t.onDidChangeState((s) => states.push(s));
  await t.start(await fetchConnection());
  assert.equal(t.state, "up");
  assert.equal(await get(port), "RStudio via alice-session-1");
  assert.deepEqual(plugin.commands, ["/opt/session-manager-plugin"]);

  // The session drops (the plugin exits on its own).
  const first = plugin.children[0]!;
  process.kill(first.pid!, "SIGKILL");
  await until(() => t.state === "reconnecting", "reconnecting");
  await until(() => t.state === "up", "up again");
  assert.equal(await get(port), "RStudio via alice-session-2", "fresh session, same port");
  assert.equal(t.starts, 2);
  assert.deepEqual(states, ["up", "reconnecting", "up"]);

  const runs = plugin.runs();
  assert.equal(runs.length, 2);
  for (const r of runs) {
    assert.equal(r.argv.length, 6);
    assert.equal(JSON.parse(r.argv[4]!).Parameters.localPortNumber[0], String(port));
    assert.ok(!r.argv.join(" ").includes("SECRET-TOKEN-VALUE-123"), "the token is not in argv");
    assert.equal(r.tokenLength, "SECRET-TOKEN-VALUE-123".length, "the plugin got the token from the environment");
  }
  assert.ok(!log.lines.join("\n").includes("SECRET-TOKEN-VALUE-123"), "nor in the log");

  const second = plugin.children[1]!;
  await t.dispose();
  assert.equal(t.state, "closed");
  assert.ok(!alive(second.pid!), "no plugin process outlives the tunnel");
  assert.equal(await httpAnswers(port), false);
});

test("SSM tunnel: backs off while the backend cannot give a session, gives up when the instance is gone", async () => {
  const plugin = fakePlugin();
  const port = await freePort();
  const answers: (SsmConnection | Error)[] = [
    anSsmConnection({ sessionId: "s-1" }),
    new ExtensionError("BACKEND_UNREACHABLE", "the backend does not answer"),
    new ExtensionError("INSTANCE_NOT_RUNNING", 'Instance "i-1" is interrupted; claim a new one.', { status: 409 }),
  ];
  let calls = 0;
  const fetchConnection = async () => {
    const a = answers[Math.min(calls++, answers.length - 1)]!;
    if (a instanceof Error) throw a;
    return a;
  };
  const t = new SsmTunnel({ instanceId: "i-1", port, pluginPath: "smp", fetchConnection, spawn: plugin.spawnFn, clock: systemClock, log: new RecordingLog(), backoffMs: [30, 60] });
  await t.start(await fetchConnection());
  process.kill(plugin.children[0]!.pid!, "SIGKILL");
  await until(() => t.state === "closed", "closed");
  assert.equal(calls, 3, "one failed attempt, then the instance was gone");
  assert.equal(plugin.children.length, 1, "never restarted without a session");
  assert.match(t.lastError ?? "", /interrupted; claim a new one/);
});

test("SSM tunnel: a plugin that never answers fails start() and leaves no process", async () => {
  const port = await freePort();
  const children: SpawnedProcess[] = [];
  const sleeper: SpawnFn = () => {
    const c = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    children.push(c);
    return c;
  };
  const t = new SsmTunnel({ instanceId: "i-1", port, pluginPath: "smp", fetchConnection: async () => anSsmConnection(), spawn: sleeper, clock: systemClock, log: new RecordingLog(), readyTimeoutMs: 300 });
  await assert.rejects(t.start(anSsmConnection()), (e: ExtensionError) => e.code === "TUNNEL_FAILED");
  await t.dispose();
  assert.ok(!alive(children[0]!.pid!));
});

function startRStudioStandIn(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((_req, res) => res.end("RStudio stand-in"));
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

test("tunnel manager, direct: one shared tunnel per instance through a local forwarder that sees traffic", async () => {
  const { server, port } = await startRStudioStandIn();
  let connectionCalls = 0;
  const traffic: string[] = [];
  const m = new TunnelManager({
    client: { connection: async (): Promise<ConnectionResponse> => (connectionCalls++, { kind: "direct", host: "127.0.0.1", port, path: "/" }) },
    pluginPath: () => "unused",
    checkPlugin: async () => {
      throw new Error("a direct tunnel must not need the plugin");
    },
    spawn: () => {
      throw new Error("a direct tunnel must not spawn");
    },
    clock: systemClock,
    log: new RecordingLog(),
    onTraffic: (id) => traffic.push(id),
  });
  const opening = [m.open("i-1"), m.open("i-1")];
  await m.closeAllExcept(new Set()); // a list fetched before the claim must not close a tunnel being opened
  const [a, b] = await Promise.all(opening);
  assert.equal(a, b, "shared");
  assert.equal(connectionCalls, 1);
  assert.notEqual(a.localPort, port, "panels use our forwarder's port");
  assert.equal(a.state, "up");
  assert.equal(await get(a.localPort), "RStudio stand-in");
  assert.ok(traffic.includes("i-1"));
  assert.equal(await m.open("i-1"), a, "reused later too");
  await m.closeAllExcept(new Set(["i-other"]));
  assert.equal(a.state, "closed");
  assert.equal(m.size, 0);
  assert.equal(await httpAnswers(a.localPort), false);
  await m.dispose();
  server.close();
});

test("tunnel manager, SSM: checks the plugin, forwards through it, and dispose ends the process", async () => {
  const plugin = fakePlugin();
  const ports: (number | undefined)[] = [];
  const m = new TunnelManager({
    client: { connection: async (_id: string, localPort?: number) => (ports.push(localPort), anSsmConnection()) },
    tunnelMode: () => "plugin",
    pluginPath: () => "/usr/local/bin/session-manager-plugin",
    checkPlugin: async (p) => (assert.equal(p, "/usr/local/bin/session-manager-plugin"), "1.2.707.0"),
    spawn: plugin.spawnFn,
    clock: systemClock,
    log: new RecordingLog(),
  });
  const t = await m.open("i-1");
  assert.equal(t.kind, "ssm");
  assert.ok(ports[0], "the backend was told the plugin's local port");
  assert.equal(await get(t.localPort), "RStudio via alice-0a1b2c3d4e5f");
  const pid = plugin.children[0]!.pid!;
  await m.dispose();
  assert.ok(!alive(pid));
  await assert.rejects(m.open("i-2"), /shutting down/);
});

test("tunnel manager, SSM without the plugin: a clear error, tunnel down, nothing spawned", async () => {
  const m = new TunnelManager({
    client: { connection: async () => anSsmConnection() },
    tunnelMode: () => "plugin",
    pluginPath: () => "session-manager-plugin",
    checkPlugin: async () => {
      throw new ExtensionError("PLUGIN_MISSING", "session-manager-plugin was not found", { setting: "rstudioPool.sessionManagerPluginPath" });
    },
    spawn: () => {
      throw new Error("must not spawn");
    },
    clock: systemClock,
    log: new RecordingLog(),
  });
  await assert.rejects(m.open("i-1"), (e: ExtensionError) => e.code === "PLUGIN_MISSING");
  assert.equal(m.get("i-1")?.state, "down");
  assert.match(m.get("i-1")?.lastError ?? "", /session-manager-plugin/);
  await m.dispose();
});

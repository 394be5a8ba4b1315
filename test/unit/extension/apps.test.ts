/** The extension and apps: which app an instance opens, a tunnel per app, and Jupyter's activity for the keep-alive. */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { test } from "node:test";
import type { AppName, ConnectionResponse, PurposeView } from "../../../contract";
import { JupyterActivityProbe, readJupyterAnswers } from "../../../extension/core/app-activity";
import { appTitle, appToOpen, instanceApps, mainApp, purposeServes, tunnelApp } from "../../../extension/core/apps";
import { systemClock } from "../../../extension/core/emitter";
import { ActivityMonitor, KeepAlive } from "../../../extension/core/keep-alive";
import { TunnelManager } from "../../../extension/core/tunnels/tunnel-manager";
import { anInstance, FakeClock, RecordingLog } from "./fakes";

const purpose = (over: Partial<PurposeView>): PurposeView => ({ name: "p", description: "", servicePort: 8787, hourlyPrice: null, currency: "USD", idleTimeoutSeconds: 3600, max: 1, ...over });

test("apps: an older backend's instance (no app) is RStudio; a claim opens the wanted app when served", () => {
  const old = anInstance();
  assert.equal(mainApp(old), "rstudio");
  assert.deepEqual(instanceApps(old), ["rstudio"]);
  const both = anInstance({ app: "rstudio", apps: ["rstudio", "jupyter"] });
  assert.equal(appToOpen(both, "jupyter"), "jupyter");
  assert.equal(appToOpen(anInstance({ app: "jupyter", apps: ["jupyter"] }), "rstudio"), "jupyter", "a local Jupyter standing in for RStudio opens Jupyter");
  assert.equal(tunnelApp(both, "rstudio"), undefined, "the main app keeps the instance's one tunnel");
  assert.equal(tunnelApp(both, "jupyter"), "jupyter");
  assert.equal(appTitle("jupyter"), "Jupyter");
});

test("apps: which purposes serve Jupyter", () => {
  assert.equal(purposeServes(purpose({}), "rstudio"), true);
  assert.equal(purposeServes(purpose({}), "jupyter"), false);
  assert.equal(purposeServes(purpose({ app: "jupyter", apps: [{ app: "jupyter", port: 8888 }] }), "jupyter"), true);
  assert.equal(purposeServes(purpose({ app: "rstudio", apps: [{ app: "rstudio", port: 8787 }, { app: "jupyter", port: 8888 }] }), "jupyter"), true);
});

function standIn(text: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((_req, res) => res.end(text));
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

test("tunnels: one per instance and app; the app is asked of the backend; closing the instance closes both", async () => {
  const rstudio = await standIn("rstudio");
  const jupyter = await standIn("jupyter");
  const asked: (AppName | undefined)[] = [];
  const m = new TunnelManager({
    client: {
      connection: async (_id: string, _lp?: number, _s?: AbortSignal, app?: AppName): Promise<ConnectionResponse> => (
        asked.push(app), { kind: "direct", host: "127.0.0.1", port: app === "jupyter" ? jupyter.port : rstudio.port, path: "/", app: app ?? "rstudio" }
      ),
    },
    pluginPath: () => "unused",
    checkPlugin: async () => "unused",
    spawn: () => {
      throw new Error("direct only");
    },
    clock: systemClock,
    log: new RecordingLog(),
  });
  const main = await m.open("i-1");
  const second = await m.open("i-1", undefined, "jupyter");
  assert.notEqual(main, second);
  assert.equal(await m.open("i-1"), main);
  assert.deepEqual(asked, [undefined, "jupyter"]);
  assert.equal(await (await fetch(`http://127.0.0.1:${second.localPort}/`)).text(), "jupyter");
  assert.deepEqual(second.upstreamAddress(), { host: "127.0.0.1", port: jupyter.port }, "the probe's address is the far end, not our forwarder");
  assert.equal(m.get("i-1", "jupyter"), second);
  await m.close("i-1");
  assert.equal(m.size, 0);
  assert.equal(main.state, "closed");
  assert.equal(second.state, "closed");
  await m.dispose();
  rstudio.server.close();
  jupyter.server.close();
});

test("jupyter probe: a busy kernel, or last_activity moving on, is work; the first reading only sets the baseline", async () => {
  let answers: Record<string, unknown> = { "/api/status": { last_activity: "2026-12-01T10:00:00Z" }, "/api/kernels?no_track_activity=1": [{ execution_state: "idle" }] };
  const paths: string[] = [];
  const probe = new JupyterActivityProbe(async (_h, _p, path) => (paths.push(path), answers[path]));
  const at = { host: "127.0.0.1", port: 1 };
  assert.equal(await probe.worked("i-1", at), false, "baseline");
  assert.equal(await probe.worked("i-1", at), false, "nothing moved");
  answers = { ...answers, "/api/status": { last_activity: "2026-12-01T10:05:00Z" } };
  assert.equal(await probe.worked("i-1", at), true, "activity moved on");
  answers = { ...answers, "/api/kernels?no_track_activity=1": [{ execution_state: "busy" }] };
  assert.equal(await probe.worked("i-1", at), true, "a kernel is computing");
  assert.ok(paths.includes("/api/kernels?no_track_activity=1"), "reading the kernels does not count as activity in Jupyter");
  assert.deepEqual(readJupyterAnswers(null, null), { lastActivity: null, busyKernels: 0 });
});

test("keep-alive: an instance nobody looks at gets a heartbeat while its Jupyter reports work, and none after", async () => {
  const clock = new FakeClock();
  const monitor = new ActivityMonitor(clock, 60_000);
  monitor.setWindowFocused(false);
  const beats: string[] = [];
  let working = true;
  const probed: string[] = [];
  const ka = new KeepAlive({
    monitor,
    heartbeat: async (id) => (beats.push(id), { instanceId: id, idleDeadline: new Date(0).toISOString() }),
    instances: () => ["i-1"],
    intervalMs: () => 10_000,
    clock,
    log: new RecordingLog(),
    probeAppWork: async (id) => (probed.push(id), working),
  });
  await ka.tick();
  assert.deepEqual(beats, ["i-1"]);
  assert.equal(monitor.activeReason("i-1"), "app");
  working = false;
  await clock.advance(61_000);
  await ka.tick();
  assert.deepEqual(beats, ["i-1"], "no work reported for longer than the window: no heartbeat");
  assert.equal(probed.length, 2);
  monitor.noteTraffic("i-1");
  await ka.tick();
  assert.equal(probed.length, 2, "not probed while in use otherwise");
  ka.dispose();
});

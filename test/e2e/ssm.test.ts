/**
 * The SSM path end to end: the backend (a test provider: placeholder instances behind made-up
 * EC2 targets) answers `kind: "ssm"` connections whose sessions live on the fake SSM gateway in
 * the backend's process.
 * 5n (default, rstudioPool.tunnel "native"): the extension's built-in client speaks the data
 * channel and smux to the gateway, which dials the placeholder; RStudio's page shows in the
 * webview; the gateway then closes the WebSocket while the page is open and the client resumes
 * the session through the backend: the same page (no reload) goes on loading over the tunnel.
 * 5 (rstudioPool.tunnel "plugin"): the extension starts the configured session-manager-plugin
 * (our stand-in, which honours the real command line and forwards TCP). Checks the exact command
 * line, that the session token stays out of argv and logs, and that releasing stops the plugin.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { claimFromPalette, releaseFromTree } from "./support/gestures";
import { e2eTest, REPO_ROOT, RESULTS_DIR } from "./support/harness";
import { isAlive, waitFor } from "./support/processes";
import { Session } from "./support/session";
import { fakeSessionToken, fakeTarget, SSM_ENDPOINT, SSM_REGION } from "./support/ssm-provider";

const PLUGIN = path.join(REPO_ROOT, "test", "e2e", "support", "fake-session-manager-plugin");

interface PluginRecord {
  pid: number;
  argv: string[];
  responseEnvName: string | null;
  sessionId: string;
  request: { Target: string; DocumentName: string; Parameters: Record<string, string[]> };
}

function records(file: string): PluginRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as PluginRecord);
}

/** Every file under `dir` whose text contains `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  if (!existsSync(dir)) return [];
  const hits: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) hits.push(...filesContaining(p, needle));
    else if (st.size < 20 * 1024 * 1024 && readFileSync(p).includes(needle)) hits.push(p);
  }
  return hits;
}

interface ProviderEvent {
  event: "start" | "resume" | "terminate";
  instanceId: string;
  sessionId: string;
  ok?: boolean;
  connections?: number;
}

function events(file: string): ProviderEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as ProviderEvent);
}

e2eTest("e2e: RStudio through the built-in SSM client, with a forced resume while the page is open", { timeout: 300_000 }, async (t) => {
  const name = "ssm-native";
  const record = path.join(RESULTS_DIR, name, "plugin-calls.jsonl");
  const eventsFile = path.join(RESULTS_DIR, name, "provider-events.jsonl");
  await Session.run(
    {
      name,
      backend: {
        command: { file: process.execPath, args: ["--import", "tsx", path.join(REPO_ROOT, "test", "e2e", "support", "ssm-backend.ts")] },
        // Long enough for the page to be up first; then the service "closes" the WebSocket.
        env: { E2E_SSM_CLOSE_AFTER_MS: "25000", E2E_SSM_EVENTS: eventsFile },
      },
      // The plugin is configured but must not be used: native is the default.
      settings: { "rstudioPool.sessionManagerPluginPath": PLUGIN },
      vscodeEnv: { E2E_FAKE_PLUGIN_RECORD: record },
    },
    async (s) => {
      let instanceId = "";
      let frame: Awaited<ReturnType<typeof claimFromPalette>>["frame"] | null = null;
      await s.step(t, "5n-a. Claim RStudio opens it through the built-in client (no plugin)", async () => {
        const claimed = await claimFromPalette(s);
        instanceId = claimed.instance.instanceId;
        frame = claimed.frame;
        assert.equal((await frame.locator("#instance-id").innerText()).trim(), instanceId);
        await s.wb.shot("rstudio-over-native-ssm");
        assert.deepEqual(records(record), [], "session-manager-plugin was never started");
        const starts = events(eventsFile).filter((e) => e.event === "start" && e.instanceId === instanceId);
        assert.ok(starts.length >= 1, "the backend started an SSM session");
      });

      await s.step(t, "5n-b. the service closes the WebSocket; the client resumes and the open page goes on", async () => {
        assert.ok(frame);
        const page = frame;
        // A mark in the page's window: a reload would lose it.
        await page.evaluate(`window.__e2eMark = "still-here"`);
        await waitFor("a resume through the backend", () => events(eventsFile).some((e) => e.event === "resume" && e.instanceId === instanceId && e.ok), { timeoutMs: 90_000 });
        const resume = events(eventsFile).find((e) => e.event === "resume" && e.ok)!;
        assert.equal(events(eventsFile).filter((e) => e.event === "start").length, 1, "no new session: the old one was resumed");
        // Requests from the open page still reach the instance through the resumed session.
        const text = await waitForValue(() => page.evaluate<string>(`fetch(location.href, { cache: "no-store" }).then((r) => r.text())`), (v) => v.includes("instance-id"), 30_000);
        assert.ok(text.includes(instanceId), "the page's own request went through the tunnel");
        assert.equal(await page.evaluate<string>(`window.__e2eMark`), "still-here", "the page was not reloaded");
        assert.equal((await page.locator("#instance-id").innerText()).trim(), instanceId);
        assert.ok(resume.sessionId.startsWith(`e2e-user-${instanceId}-`));
        await s.wb.shot("after-resume");
      });

      await s.step(t, "5n-c. no log holds the session token; the extension logged the resume", async () => {
        const token = fakeSessionToken(instanceId);
        const logs = path.join(s.vscode.userDataDir, "logs");
        assert.deepEqual([...filesContaining(logs, token), ...filesContaining(s.dir, token).filter((f) => !f.endsWith(".png"))], []);
        assert.ok(filesContaining(logs, "resumed;").length > 0, "the extension's log says it resumed");
      });

      await s.step(t, "5n-d. releasing closes the tunnel", async () => {
        await releaseFromTree(s);
        await s.wb.shot("released");
      });
    },
  );
});

async function waitForValue<T>(get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown = null;
  for (;;) {
    try {
      last = await get();
      if (ok(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > until) throw new Error(`timed out; last value ${String(last)}; last error ${String(lastErr)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

e2eTest("e2e: RStudio through an SSM port forward (rstudioPool.tunnel = plugin, stand-in session-manager-plugin)", { timeout: 300_000 }, async (t) => {
  const name = "ssm";
  // Inside the session's results folder (emptied when the session starts, before the plugin runs).
  const record = path.join(RESULTS_DIR, name, "plugin-calls.jsonl");
  await Session.run(
    {
      name,
      backend: { command: { file: process.execPath, args: ["--import", "tsx", path.join(REPO_ROOT, "test", "e2e", "support", "ssm-backend.ts")] } },
      settings: { "rstudioPool.sessionManagerPluginPath": PLUGIN, "rstudioPool.tunnel": "plugin" },
      vscodeEnv: { E2E_FAKE_PLUGIN_RECORD: record },
    },
    async (s) => {
      let instanceId = "";
      let pluginPid = 0;
      await s.step(t, "5a. Claim RStudio opens it through session-manager-plugin", async () => {
        const { instance, frame } = await claimFromPalette(s);
        instanceId = instance.instanceId;
        assert.equal((await frame.locator("#instance-id").innerText()).trim(), instanceId);
        await s.wb.shot("rstudio-over-ssm");

        const calls = records(record);
        assert.ok(calls.length >= 1, "the plugin was started");
        const call = calls[calls.length - 1]!;
        pluginPid = call.pid;
        const [responseArg, region, operation, profile, requestJson, endpoint] = call.argv;
        assert.equal(call.argv.length, 6);
        assert.match(responseArg!, /^AWS_SSM_START_SESSION_RESPONSE/, "argument 1 names the variable holding the response");
        assert.equal(call.responseEnvName, responseArg);
        assert.equal(region, SSM_REGION);
        assert.equal(operation, "StartSession");
        assert.equal(profile, "");
        assert.equal(endpoint, SSM_ENDPOINT);
        const request = JSON.parse(requestJson!) as PluginRecord["request"];
        assert.equal(request.Target, fakeTarget(instanceId));
        assert.equal(request.DocumentName, "AWS-StartPortForwardingSession");
        const placeholder = s.backend.localInstances().find((i) => i.instanceId === instanceId);
        assert.ok(placeholder);
        assert.deepEqual(request.Parameters.portNumber, [String(placeholder.port)]);
        assert.match(request.Parameters.localPortNumber?.[0] ?? "", /^\d+$/);
        assert.match(call.sessionId, new RegExp(`^e2e-user-${instanceId}-`));

        const token = fakeSessionToken(instanceId);
        assert.ok(!call.argv.some((a) => a.includes(token)), "the session token is not on the command line");
        assert.ok(isAlive(pluginPid), "the plugin runs while RStudio is open");
      });

      await s.step(t, "5b. no log holds the session token", async () => {
        const token = fakeSessionToken(instanceId);
        const leaks = [...filesContaining(path.join(s.vscode.userDataDir, "logs"), token), ...filesContaining(s.dir, token)];
        assert.deepEqual(leaks, []);
        // The extension's own log does mention the plugin's start, so the search looked in the right place.
        assert.ok(filesContaining(path.join(s.vscode.userDataDir, "logs"), "session-manager-plugin").length > 0, "the extension logged the plugin start");
      });

      await s.step(t, "5c. releasing stops the plugin", async () => {
        await releaseFromTree(s);
        await waitFor("the plugin to exit", () => !isAlive(pluginPid), { timeoutMs: 15_000 });
        await s.wb.shot("released");
      });
    },
  );
});

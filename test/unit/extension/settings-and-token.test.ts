import assert from "node:assert/strict";
import { test } from "node:test";
import { readSettings } from "../../../extension/core/settings";
import { TokenStore } from "../../../extension/ui/token-store";

test("settings: defaults, clamping and the plugin on PATH", () => {
  const none = readSettings({ get: () => undefined });
  assert.deepEqual(none, { backendUrl: "http://127.0.0.1:8080", defaultPurpose: "", openIn: "editor", heartbeatSeconds: 60, sessionManagerPluginPath: "session-manager-plugin", tunnel: "native" });
  const values: Record<string, unknown> = { backendUrl: " http://pool:9000 ", openIn: "browser", heartbeatSeconds: 1, sessionManagerPluginPath: "/opt/smp" };
  const s = readSettings({ get: <T>(k: string) => values[k] as T });
  assert.equal(s.backendUrl, "http://pool:9000");
  assert.equal(s.openIn, "browser");
  assert.equal(s.heartbeatSeconds, 10, "clamped to the minimum");
  assert.equal(s.sessionManagerPluginPath, "/opt/smp");
  assert.equal(s.tunnel, "native", "the built-in client unless told otherwise");
  for (const mode of ["plugin", "auto", "native"] as const) assert.equal(readSettings({ get: <T>(k: string) => (k === "tunnel" ? mode : undefined) as T }).tunnel, mode);
  assert.equal(readSettings({ get: <T>(k: string) => (k === "tunnel" ? "ssh" : undefined) as T }).tunnel, "native", "an unknown value falls back to native");
});

function memorySecrets() {
  const m = new Map<string, string>();
  return { get: async (k: string) => m.get(k), store: async (k: string, v: string) => void m.set(k, v), delete: async (k: string) => void m.delete(k) };
}

test("token: the stored one wins, RSTUDIO_POOL_TOKEN is the fallback, sign-out removes the stored one", async () => {
  const store = new TokenStore(memorySecrets(), { RSTUDIO_POOL_TOKEN: " env-token " });
  let changes = 0;
  store.onDidChange(() => changes++);
  assert.equal(await store.get(), "env-token");
  await store.set(" stored-token\n");
  assert.equal(await store.get(), "stored-token");
  await store.clear();
  assert.equal(await store.get(), "env-token");
  assert.equal(changes, 2);
  assert.equal(await new TokenStore(memorySecrets(), {}).get(), undefined);
});

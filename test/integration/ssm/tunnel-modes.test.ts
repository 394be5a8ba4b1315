/**
 * The tunnel manager with rstudioPool.tunnel: "native" carries the page through the fake
 * gateway with no plugin; "auto" falls back to session-manager-plugin (the e2e stand-in, a real
 * child process) when the session asks for KMS; "native" with KMS refuses with the setting named.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";
import type { SsmConnection } from "../../../contract";
import { systemClock } from "../../../extension/core/emitter";
import { ExtensionError } from "../../../extension/core/errors";
import { TunnelManager } from "../../../extension/core/tunnels/tunnel-manager";
import type { SpawnFn } from "../../../extension/core/tunnels/ssm-tunnel";
import type { TunnelMode } from "../../../extension/core/settings";
import { FakeSsmGateway } from "../../support/ssm/fake-gateway";
import type { GatewayFaults } from "../../support/ssm/faults";
import { RecordingLog } from "../../unit/extension/fakes";
import { get, startInstance } from "./harness";

const PLUGIN = path.resolve(__dirname, "..", "..", "e2e", "support", "fake-session-manager-plugin");
const spawnPlugin: SpawnFn = (command, args, options) => spawn(command, args, { env: options.env, stdio: ["ignore", "pipe", "pipe"] });

let gateway: FakeSsmGateway;
let instance: Awaited<ReturnType<typeof startInstance>>;
before(async () => {
  gateway = await FakeSsmGateway.start();
  instance = await startInstance();
});
after(async () => {
  await gateway.close();
  instance.server.close();
});

function manager(mode: TunnelMode, faults: GatewayFaults, plugin: { checks: number }) {
  return new TunnelManager({
    tunnelMode: () => mode,
    client: {
      connection: async (_id: string, localPort?: number): Promise<SsmConnection> => {
        const s = gateway.createSession({ target: "i-0123456789abcdef0", targetPort: instance.port, faults });
        return { kind: "ssm", ...s, target: "i-0123456789abcdef0", region: "eu-central-1", documentName: "AWS-StartPortForwardingSession", parameters: { portNumber: [String(instance.port)], localPortNumber: [String(localPort)] }, endpoint: "https://ssm.eu-central-1.amazonaws.com" };
      },
      resumeSession: async (_id, sid) => gateway.resume(sid)!,
      endSession: async (_id, sid) => ({ sessionId: sid, ended: gateway.terminate(sid) }),
    },
    pluginPath: () => PLUGIN,
    checkPlugin: async () => (plugin.checks++, "1.2.707.0"),
    spawn: spawnPlugin,
    clock: systemClock,
    log: new RecordingLog(),
    readyTimeoutMs: 20_000,
  });
}

test("native: the page comes through the built-in client; the plugin is never looked for", async () => {
  const plugin = { checks: 0 };
  const m = manager("native", {}, plugin);
  try {
    const t = await m.open("r-1");
    assert.equal(t.via, "native");
    assert.match((await get(t.localPort, "/x")).body.toString(), /RStudio \/x/);
    assert.equal(plugin.checks, 0);
  } finally {
    await m.dispose();
  }
});

test("auto: KMS asked for, so the plugin carries the tunnel", async () => {
  const plugin = { checks: 0 };
  const m = manager("auto", { kms: true }, plugin);
  try {
    const t = await m.open("r-1");
    assert.equal(t.via, "plugin");
    assert.equal(plugin.checks, 1);
    assert.match((await get(t.localPort, "/y")).body.toString(), /RStudio \/y/);
  } finally {
    await m.dispose();
  }
});

test("native: KMS asked for is refused, naming the preference and the setting", async () => {
  const m = manager("native", { kms: true }, { checks: 0 });
  try {
    await assert.rejects(m.open("r-1"), (err: ExtensionError) => err.code === "SSM_KMS_REQUIRED" && err.setting === "rstudioPool.tunnel");
    assert.equal(m.get("r-1")?.state, "down");
  } finally {
    await m.dispose();
  }
});

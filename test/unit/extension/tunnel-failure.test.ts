/** The toast when the claim worked and the connection did not: truthful, one next step. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ExtensionError, PLUGIN_INSTALL_URL } from "../../../extension/core/errors";
import { KMS_PREFERENCE } from "../../../extension/core/ssm/handshake";
import { describeTunnelFailure, TunnelOpenError } from "../../../extension/core/tunnel-failure";
import { checkPlugin } from "../../../extension/core/tunnels/plugin-check";
import type { InstanceView } from "../../../contract";

const inst = { instanceId: "r-7", purpose: "rstudio", state: "running", hourlyPrice: 0.0832, currency: "USD" } as InstanceView;

test("a tunnel failure says the connection failed, the claim holds and it bills, and one next step", () => {
  const f = describeTunnelFailure(new TunnelOpenError(inst, new ExtensionError("TUNNEL_FAILED", "the instance refused the connection to port 8787 (is RStudio Server running?)")));
  assert.equal(
    f.message,
    "Failed to connect to r-7: the instance refused the connection to port 8787 (is RStudio Server running?). Your claim holds: r-7 is running at $0.08/h until you release it. Retry; if it keeps failing, look at the output.",
  );
  assert.doesNotMatch(f.message, /Failed to claim/);
  assert.deepEqual(f.actions, ["retry", "showOutput"]);
});

test("plugin missing (tunnel = plugin): the install instructions appear once", async () => {
  const missing = await checkPlugin("/nope/smp", async () => {
    throw Object.assign(new Error("spawn ENOENT"), { code: "ENOENT" });
  }).catch((e: unknown) => e);
  const f = describeTunnelFailure(new TunnelOpenError(inst, missing));
  assert.equal(f.message.split(PLUGIN_INSTALL_URL).length - 1, 1, f.message);
  assert.equal(f.message.split("session-manager-plugin").length - 1, 2, `the cause names it once, the step once: ${f.message}`);
  assert.match(f.message, /Your claim holds: r-7 is running/);
});

test("KMS: names the preference and the one setting that gets past it", () => {
  const kms = new ExtensionError("SSM_KMS_REQUIRED", `the SSM session asks for KMS encryption, which the built-in client does not do. The cause is ${KMS_PREFERENCE}`, { setting: "rstudioPool.tunnel" });
  const f = describeTunnelFailure(new TunnelOpenError(inst, kms));
  assert.match(f.message, /Session Manager preferences/);
  assert.match(f.message, /Set rstudioPool.tunnel to "plugin"/);
  assert.equal(f.setting, "rstudioPool.tunnel");
  assert.deepEqual(f.actions, ["openSettings"]);
});

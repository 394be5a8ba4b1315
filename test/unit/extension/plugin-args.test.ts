import assert from "node:assert/strict";
import { test } from "node:test";
import { describeFailure, PLUGIN_INSTALL_URL, type ExtensionError } from "../../../extension/core/errors";
import { buildPluginInvocation, loggableArgs, RESPONSE_ENV_NAME } from "../../../extension/core/tunnels/plugin-args";
import { checkPlugin, compareVersions, MIN_PLUGIN_VERSION } from "../../../extension/core/tunnels/plugin-check";
import { anSsmConnection } from "./fakes";

test("the six-argument command line, with the response only in the environment", () => {
  const inv = buildPluginInvocation(anSsmConnection(), 41234);
  assert.deepEqual(inv.args, [
    "AWS_SSM_START_SESSION_RESPONSE_RSTUDIO_POOL",
    "eu-west-1",
    "StartSession",
    "",
    '{"Target":"i-0123456789abcdef0","DocumentName":"AWS-StartPortForwardingSession","Parameters":{"portNumber":["8787"],"localPortNumber":["41234"]}}',
    "https://ssm.eu-west-1.amazonaws.com",
  ]);
  assert.ok(inv.args[0]!.startsWith("AWS_SSM_START_SESSION_RESPONSE"));
  assert.deepEqual(Object.keys(inv.env), [RESPONSE_ENV_NAME]);
  assert.deepEqual(JSON.parse(inv.env[RESPONSE_ENV_NAME]!), {
    SessionId: "alice-0a1b2c3d4e5f",
    TokenValue: "SECRET-TOKEN-VALUE-123",
    StreamUrl: "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/alice-0a1b2c3d4e5f",
  });
  assert.ok(!inv.args.join(" ").includes("SECRET-TOKEN-VALUE-123"), "the token is not in argv");
  assert.ok(!loggableArgs(inv.args).includes("SECRET"), "nor in the logged command line");
});

test("our local port replaces whatever the backend put in the parameters", () => {
  const inv = buildPluginInvocation(anSsmConnection({ parameters: { portNumber: ["8787"], localPortNumber: ["9999"], host: ["10.0.0.5"] } }), 5555);
  assert.deepEqual(JSON.parse(inv.args[4]!).Parameters, { portNumber: ["8787"], localPortNumber: ["5555"], host: ["10.0.0.5"] });
});

test("plugin missing: PLUGIN_MISSING; the install link and the setting appear once, in the next step", async () => {
  const enoent = Object.assign(new Error("spawn session-manager-plugin ENOENT"), { code: "ENOENT" });
  const err = (await checkPlugin("session-manager-plugin", async () => {
    throw enoent;
  }).catch((e) => e)) as ExtensionError;
  assert.equal(err.code, "PLUGIN_MISSING");
  assert.match(err.message, /"session-manager-plugin" was not found/);
  assert.equal(err.setting, "rstudioPool.sessionManagerPluginPath");
  const shown = describeFailure("open the tunnel to", "r-1", err).message;
  assert.equal(shown.split(PLUGIN_INSTALL_URL).length - 1, 1, `the link once: ${shown}`);
  assert.equal(shown.split("rstudioPool.sessionManagerPluginPath").length - 1, 1, `the setting once: ${shown}`);
});

test("plugin too old: PLUGIN_TOO_OLD naming both versions; new enough: its version", async () => {
  const old = (await checkPlugin("/opt/smp", async () => "1.2.30.0\n").catch((e) => e)) as ExtensionError;
  assert.equal(old.code, "PLUGIN_TOO_OLD");
  assert.ok(old.message.includes("1.2.30.0") && old.message.includes(MIN_PLUGIN_VERSION));
  assert.equal(MIN_PLUGIN_VERSION, "1.2.536.0", "the first version that reads the session response from an environment variable");
  assert.equal(describeFailure("open the tunnel to", "r-1", old).message.split(PLUGIN_INSTALL_URL).length - 1, 1);
  assert.equal(await checkPlugin("/opt/smp", async () => "1.2.707.0\n"), "1.2.707.0");
  const garbage = (await checkPlugin("/bin/true", async () => "").catch((e) => e)) as ExtensionError;
  assert.equal(garbage.code, "PLUGIN_MISSING");
});

test("versions compare numerically", () => {
  assert.ok(compareVersions("1.2.10.0", "1.2.9.0") > 0);
  assert.ok(compareVersions("1.2.536.0", MIN_PLUGIN_VERSION) === 0);
  assert.ok(compareVersions("1.2.398.0", MIN_PLUGIN_VERSION) < 0);
  assert.ok(compareVersions("1.1.999", "1.2.0") < 0);
});

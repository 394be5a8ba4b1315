import assert from "node:assert/strict";
import { test } from "node:test";
import { BackendClient } from "../../../extension/core/backend-client";
import { CancelledError, describeFailure, ExtensionError, isCancel, PLUGIN_INSTALL_URL } from "../../../extension/core/errors";
import { RecordingLog } from "./fakes";

type Call = { url: string; init: RequestInit };

function clientWith(respond: (call: Call) => Response | Promise<Response>, token: string | null = "tok-SECRET") {
  const calls: Call[] = [];
  const log = new RecordingLog();
  const client = new BackendClient({
    baseUrl: () => "http://127.0.0.1:8080/",
    token: async () => token ?? undefined,
    log,
    fetch: (async (url: URL, init: RequestInit) => {
      const call = { url: String(url), init };
      calls.push(call);
      return respond(call);
    }) as unknown as typeof fetch,
  });
  return { client, calls, log };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

test("requests carry the bearer token and JSON body to /v1 paths", async () => {
  const { client, calls, log } = clientWith(() => json(201, { instance: { instanceId: "i-1" }, source: "launched" }));
  const res = await client.claim("gpu");
  assert.equal(res.source, "launched");
  assert.equal(calls[0]!.url, "http://127.0.0.1:8080/v1/claims");
  assert.equal(calls[0]!.init.method, "POST");
  assert.equal((calls[0]!.init.headers as Record<string, string>).authorization, "Bearer tok-SECRET");
  assert.equal(calls[0]!.init.body, '{"purpose":"gpu"}');
  assert.ok(!log.lines.join("\n").includes("tok-SECRET"), "the token is never logged");
});

test("backend errors keep their code; messages read 'Failed to <verb> <target>: <cause>' plus what to do", async () => {
  const cases: [number, string, string, RegExp, string[]][] = [
    [503, "POOL_EXHAUSTED", "The pool is full (10 of 10 instances in use); try again in a few minutes.", /^Failed to claim RStudio: the pool is full \(10 of 10 instances in use\); try again in a few minutes\.$/, ["retry"]],
    [402, "BUDGET_EXCEEDED", "Your monthly budget of $50.00 is spent ($51.20); new claims are refused until next month.", /^Failed to claim RStudio: your monthly budget of \$50\.00 is spent \(\$51\.20\); new claims are refused until next month\.$/, []],
    [401, "UNAUTHORIZED", "The token is not valid (unknown or revoked). Ask an admin for a new one and sign in again.", /^Failed to claim RStudio: the token is not valid .*\. Sign in again with a valid API token\.$/, ["signIn"]],
  ];
  for (const [status, code, message, expected, actions] of cases) {
    const { client } = clientWith(() => json(status, { error: { code, message } }));
    const err = await client.claim(undefined).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ExtensionError);
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    const f = describeFailure("claim", "RStudio", err);
    assert.match(f.message, expected);
    assert.deepEqual(f.actions, actions);
  }
});

test("backend down: BACKEND_UNREACHABLE naming the URL and the setting", async () => {
  const { client } = clientWith(() => {
    throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
  });
  const err = await client.instances().then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ExtensionError);
  assert.equal(err.code, "BACKEND_UNREACHABLE");
  const f = describeFailure("list", "your instances", err);
  assert.equal(
    f.message,
    "Failed to list your instances: the backend at http://127.0.0.1:8080 does not answer (ECONNREFUSED). Check that the backend runs and the setting rstudioPool.backendUrl points at it.",
  );
  assert.deepEqual(f.actions, ["openSettings", "showOutput"]);
  assert.equal(f.setting, "rstudioPool.backendUrl");
});

test("no token: NOT_SIGNED_IN without calling the backend", async () => {
  const { client, calls } = clientWith(() => json(200, {}), null);
  const err = await client.costs().then(() => null, (e: unknown) => e);
  assert.equal((err as ExtensionError).code, "NOT_SIGNED_IN");
  assert.equal(calls.length, 0);
  assert.deepEqual(describeFailure("load", "your costs", err).actions, ["signIn"]);
});

test("a non-JSON answer (wrong URL) is BAD_RESPONSE with a hint", async () => {
  const { client } = clientWith(() => new Response("<html>hello</html>", { status: 404 }));
  const err = (await client.me().catch((e) => e)) as ExtensionError;
  assert.equal(err.code, "BAD_RESPONSE");
  assert.match(err.message, /HTTP 404 \(not JSON: is rstudioPool\.backendUrl the pool backend\?\)/);
});

test("plugin errors point at the install link and the setting; cancels are not failures", () => {
  const f = describeFailure("open the tunnel to", "i-1", new ExtensionError("PLUGIN_MISSING", '"session-manager-plugin" was not found', { setting: "rstudioPool.sessionManagerPluginPath" }));
  assert.ok(f.message.includes(PLUGIN_INSTALL_URL));
  assert.ok(f.message.includes("rstudioPool.sessionManagerPluginPath"));
  assert.deepEqual(f.actions, ["installPlugin", "openSettings"]);
  assert.ok(isCancel(new CancelledError()));
  const abort = new Error("x");
  abort.name = "AbortError";
  assert.ok(isCancel(abort));
  assert.ok(!isCancel(new ExtensionError("TIMEOUT", "slow")));
});

test("unknown errors still read as a sentence and offer the output", () => {
  const f = describeFailure("release", "RStudio i-1", new Error("Something broke."));
  assert.equal(f.message, "Failed to release RStudio i-1: something broke. See the output for details.");
  assert.deepEqual(f.actions, ["showOutput"]);
});

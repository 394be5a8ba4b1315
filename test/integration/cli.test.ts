import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { tempDir } from "../support/builders";
import { runCli, startServe, type ServeHandle } from "../support/cli";
import { killLocalInstances } from "../support/local";

describe("rstudio-pool CLI and serve", () => {
  const dataDir = tempDir("cli-");
  const env = { POOL_DATA_DIR: dataDir, POOL_LOCAL_RUNTIME: "placeholder", LOG_LEVEL: "debug" };
  let server: ServeHandle;

  before(async () => {
    server = await startServe(env);
  });
  after(async () => {
    await server?.stop();
    killLocalInstances(dataDir);
  });

  it("creates the admin user on first start and says how to get its token", () => {
    assert.match(server.stderr(), /Created the admin user "admin"/);
    assert.match(server.stderr(), /user token admin/);
  });

  it("answers /healthz once it listens", async () => {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
  });

  it("user add prints a token alone on stdout, stores only its hash, and the token works", async () => {
    const res = runCli(["user", "add", "alice"], env);
    assert.equal(res.status, 0, res.stderr);
    const lines = res.stdout.split("\n").filter(Boolean);
    assert.equal(lines.length, 1);
    const token = lines[0]!;
    assert.match(token, /^rsp_[A-Za-z0-9_-]{43}$/);
    const me = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(await me.json(), { userId: "alice", isAdmin: false });

    const { default: Database } = await import("better-sqlite3");
    const db = new Database(`${dataDir}/pool.db`, { readonly: true });
    const dump = JSON.stringify(db.prepare("select * from api_tokens").all());
    db.close();
    assert.ok(!dump.includes(token), "the token itself is not stored");
    assert.ok(!dump.includes(token.slice(4)), "no part of it either");
  });

  it("refuses a second add, issues more tokens with user token, lists and revokes", async () => {
    const dup = runCli(["user", "add", "alice"], env);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /USER_EXISTS/);
    const t2 = runCli(["user", "token", "alice"], env).stdout.trim();
    const list = runCli(["user", "list"], env);
    assert.match(list.stdout, /^alice\tno\t2\t/m);
    assert.match(list.stdout, /^admin\tyes\t0\t/m);
    const rev = runCli(["user", "revoke", "alice"], env);
    assert.equal(rev.status, 0);
    const me = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${t2}` } });
    assert.equal(me.status, 401);
    assert.equal(runCli(["user", "token", "nobody"], env).status, 1);
    assert.equal(runCli(["user", "add", "bad user"], env).status, 1);
  });

  it("stops start-up on invalid configuration with a message naming the field", () => {
    const res = runCli(["serve"], { ...env, MAX_INSTANCES: "lots" });
    assert.equal(res.status, 78);
    assert.match(res.stderr, /INVALID_CONFIG.*MAX_INSTANCES: must be a whole number/);
  });

  it("never logs a token", async () => {
    const token = runCli(["user", "add", "bob"], env).stdout.trim();
    await fetch(`${server.url}/v1/claims`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" });
    await fetch(`${server.url}/v1/claims`, { method: "POST", headers: { authorization: `Bearer ${token}x`, "content-type": "application/json" }, body: "{}" });
    await new Promise((r) => setTimeout(r, 300));
    const logs = server.output();
    assert.match(logs, /"event":"claim"/, "the claim was logged");
    assert.ok(!logs.includes(token.slice(4, 20)), "but not the token");
  });

  it("keeps a claimed local instance across a restart of the backend", async () => {
    const token = runCli(["user", "add", "carol"], env).stdout.trim();
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const claim: any = await (await fetch(`${server.url}/v1/claims`, { method: "POST", headers: auth, body: "{}" })).json();
    const id = claim.instance.instanceId;
    let state = "";
    for (let i = 0; i < 100 && state !== "running"; i++) {
      await new Promise((r) => setTimeout(r, 200));
      state = ((await (await fetch(`${server.url}/v1/instances/${id}`, { headers: auth })).json()) as any).instance.state;
    }
    assert.equal(state, "running");
    await server.stop();
    server = await startServe(env);
    const after: any = await (await fetch(`${server.url}/v1/instances`, { headers: auth })).json();
    assert.equal(after.instances.length, 1);
    assert.equal(after.instances[0].instanceId, id);
    assert.equal(after.instances[0].state, "running");
    const conn: any = await (await fetch(`${server.url}/v1/instances/${id}/connection`, { method: "POST", headers: auth, body: "{}" })).json();
    assert.equal(conn.kind, "direct");
    assert.match(await (await fetch(`http://${conn.host}:${conn.port}/`)).text(), /stands in for RStudio Server/);
  });
});

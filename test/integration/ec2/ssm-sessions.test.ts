/**
 * Resume and end through the backend, end to end below VS Code: the EC2 provider (real SDK
 * clients against the fake AWS server, whose StartSession creates the session in the fake
 * gateway), the real app on 127.0.0.1, the extension's BackendClient and the native tunnel. The
 * gateway closes the WebSocket mid-download; the tunnel resumes through POST
 * /v1/instances/:id/sessions/:sid/resume and the download finishes on the same connection.
 * Owner-only: another user, another instance's session, a bad id are refused and change nothing.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { after, before, test } from "node:test";
import request from "supertest";
import { createApp } from "../../../backend/api/app";
import { LedgerCostService } from "../../../backend/cost/service";
import { silentLogger } from "../../../backend/log";
import { freePort } from "../../../backend/net/free-port";
import { Pool } from "../../../backend/pool/service";
import { openStore, type Store } from "../../../backend/store/db";
import { getInstance } from "../../../backend/store/instances";
import { migrateToLatest } from "../../../backend/store/migrate";
import { hashToken, insertToken, insertUser } from "../../../backend/store/users";
import { BackendClient } from "../../../extension/core/backend-client";
import { systemClock } from "../../../extension/core/emitter";
import { NativeSsmTunnel } from "../../../extension/core/ssm/native-tunnel";
import { ec2PoolConfig, ec2PurposeConfig, fakeProvider } from "../../support/aws/builders";
import { startFakeAws, type FakeAws } from "../../support/aws/fake-aws-server";
import { FakeSsmGateway } from "../../support/ssm/fake-gateway";
import { RecordingLog } from "../../unit/extension/fakes";
import { BIG, get, sha, startInstance } from "../ssm/harness";

let fake: FakeAws;
let gateway: FakeSsmGateway;
let instance: Awaited<ReturnType<typeof startInstance>>;
let store: Store;
let pool: Pool;
let server: Server;
let baseUrl: string;

before(async () => {
  fake = await startFakeAws();
  gateway = await FakeSsmGateway.start();
  instance = await startInstance();
  fake.world.dataChannel = gateway;
  fake.world.instancePort = () => instance.port; // every "EC2 instance" serves from this process
  const config = ec2PoolConfig([ec2PurposeConfig({ name: "sess", idleTimeoutSeconds: 600 })]);
  store = openStore({ databaseUrl: null, dataDir: config.dataDir });
  await migrateToLatest(store);
  pool = new Pool({ config, store, provider: fakeProvider(fake) });
  await pool.prepare();
  const now = Date.now();
  for (const u of ["dave", "eve"]) {
    await insertUser(pool.db, u, false, now);
    await insertToken(pool.db, u, hashToken(`token-${u}`), now);
  }
  const app = createApp({ pool, costs: new LedgerCostService(pool.db, pool.config, pool.ctx.clock), log: silentLogger() });
  server = createServer(app).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await pool?.stop();
  server?.close();
  await store?.close();
  await gateway?.close();
  instance?.server.close();
  await fake?.close();
});

async function runningInstance(user: string): Promise<string> {
  const claim = await request(server).post("/v1/claims").set("authorization", `Bearer token-${user}`).send({ purpose: "sess" });
  assert.ok([200, 201].includes(claim.status), JSON.stringify(claim.body));
  const id = claim.body.instance.instanceId as string;
  for (let i = 0; i < 30 && (await getInstance(pool.db, id))?.state !== "running"; i++) {
    await pool.loop.tick({ forceReconcile: true });
    await pool.loop.launcher.settle();
  }
  assert.equal((await getInstance(pool.db, id))?.state, "running");
  return id;
}

test("a forced close mid-download is resumed through the backend; the download completes on the same connection", async () => {
  const id = await runningInstance("dave");
  gateway.defaultFaults = { closeAfterMs: 400 };
  const client = new BackendClient({ baseUrl: () => baseUrl, token: async () => "token-dave", log: new RecordingLog() });
  const port = await freePort();
  const tunnel = new NativeSsmTunnel({
    instanceId: id,
    port,
    clock: systemClock,
    log: new RecordingLog(),
    backoffMs: [0, 200],
    fetchConnection: async () => {
      const c = await client.connection(id, port);
      assert.equal(c.kind, "ssm");
      return c as Extract<typeof c, { kind: "ssm" }>;
    },
    resume: (sid) => client.resumeSession(id, sid),
    terminate: async (sid) => void (await client.endSession(id, sid)),
  });
  try {
    const first = await client.connection(id, port);
    assert.equal(first.kind, "ssm");
    assert.match((first as { streamUrl: string }).streamUrl, /^ws:\/\/127\.0\.0\.1:/, "StartSession gave the fake gateway's URL");
    await tunnel.start(first as Extract<typeof first, { kind: "ssm" }>);
    const slow = await get(port, "/slow");
    assert.equal(slow.body.toString().split("\n").filter(Boolean).length, 10);
    assert.equal(sha((await get(port, "/big")).body), sha(BIG));
    const s = gateway.sessions.get(tunnel.sessionId!)!;
    assert.equal(s.resumes, 1, "one ResumeSession, from the backend");
    assert.equal(tunnel.counts.resumes, 1);
    assert.equal(tunnel.counts.sessions, 1);
    assert.ok(fake.world.calls.some((c) => c.action === "ResumeSession"), "the backend called ssm:ResumeSession");
    assert.ok(fake.world.calls.some((c) => c.action === "DescribeSessions"), "after checking the session's target");

    // eve cannot resume or end dave's session: 404, and the gateway saw no resume.
    const eve = await request(server).post(`/v1/instances/${id}/sessions/${s.sessionId}/resume`).set("authorization", "Bearer token-eve").send({});
    assert.equal(eve.status, 404);
    assert.equal(eve.body.error.code, "INSTANCE_NOT_FOUND");
    const eveEnd = await request(server).delete(`/v1/instances/${id}/sessions/${s.sessionId}`).set("authorization", "Bearer token-eve");
    assert.equal(eveEnd.status, 404);
    assert.equal(s.resumes, 1);
    assert.equal(s.terminated, false);

    // A session to another target, even dave's own id for it, is not resumed through this instance.
    const stray = gateway.createSession({ target: "i-0fffffffffffffff0", targetPort: instance.port });
    fake.world.sessions.push({ sessionId: stray.sessionId, target: "i-0fffffffffffffff0", documentName: "AWS-StartPortForwardingSession", parameters: {}, reason: null, status: "Connected" });
    const strayRes = await request(server).post(`/v1/instances/${id}/sessions/${stray.sessionId}/resume`).set("authorization", "Bearer token-dave").send({});
    assert.equal(strayRes.status, 404);
    assert.equal(strayRes.body.error.code, "SSM_SESSION_NOT_FOUND");
    assert.equal(gateway.sessions.get(stray.sessionId)!.resumes, 0);

    const bad = await request(server).post(`/v1/instances/${id}/sessions/${encodeURIComponent("x y/../z")}/resume`).set("authorization", "Bearer token-dave").send({});
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "INVALID_REQUEST");
  } finally {
    gateway.defaultFaults = {};
    const sid = tunnel.sessionId;
    await tunnel.dispose();
    // Disposing ended the session through DELETE /v1/.../sessions/:sid → TerminateSession.
    for (let i = 0; i < 50 && sid && !gateway.sessions.get(sid)!.terminated; i++) await new Promise((r) => setTimeout(r, 50));
    if (sid) assert.equal(gateway.sessions.get(sid)!.terminated, true);
  }
});

test("the session routes are in the OpenAPI document", async () => {
  const o = await request(server).get("/v1/openapi.json").set("authorization", "Bearer token-dave");
  assert.ok(o.body.paths["/v1/instances/{id}/sessions/{sessionId}/resume"]?.post);
  assert.ok(o.body.paths["/v1/instances/{id}/sessions/{sessionId}"]?.delete);
});

test("resuming a session that has ended says so (404 SSM_SESSION_NOT_FOUND) so the client opens a new one", async () => {
  const id = (await pool.listMine("dave"))[0]!.id;
  const conn = await request(server).post(`/v1/instances/${id}/connection`).set("authorization", "Bearer token-dave").send({});
  assert.equal(conn.status, 200);
  const ended = await request(server).delete(`/v1/instances/${id}/sessions/${conn.body.sessionId}`).set("authorization", "Bearer token-dave");
  assert.deepEqual(ended.body, { sessionId: conn.body.sessionId, ended: true });
  const again = await request(server).delete(`/v1/instances/${id}/sessions/${conn.body.sessionId}`).set("authorization", "Bearer token-dave");
  assert.deepEqual(again.body, { sessionId: conn.body.sessionId, ended: false }, "ending twice is not an error");
  const res = await request(server).post(`/v1/instances/${id}/sessions/${conn.body.sessionId}/resume`).set("authorization", "Bearer token-dave").send({});
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, "SSM_SESSION_NOT_FOUND");
});

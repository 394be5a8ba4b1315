/**
 * The EC2 provider under the real Pool (SQLite in a temp dir) and the real Express app, with the
 * real SDK clients talking to the fake AWS server: spot interruption and the replacement with
 * the same home volume, a warm instance handed to a user (volume attached and mounted through
 * SSM), the busy check, session brokering for the owner only, and release detaching the home.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import request from "supertest";
import { createApp } from "../../../backend/api/app";
import { silentLogger } from "../../../backend/log";
import { LedgerCostService } from "../../../backend/cost/service";
import { Pool } from "../../../backend/pool/service";
import type { Ec2Provider } from "../../../backend/providers/ec2/provider";
import { getInstance } from "../../../backend/store/instances";
import { hashToken, insertToken, insertUser } from "../../../backend/store/users";
import { ec2PoolConfig, ec2PurposeConfig } from "../../support/aws/builders";
import { fakeAwsForFile } from "../../support/aws/ec2-pool-fixture";

const aws = fakeAwsForFile();

async function makePool(purposeOver: Parameters<typeof ec2PurposeConfig>[0] = {}, poolOver: Parameters<typeof ec2PoolConfig>[1] = {}): Promise<{ pool: Pool; provider: Ec2Provider; clock: { t: number; now(): number } }> {
  const clock = { t: Date.now(), now: () => clock.t };
  const config = ec2PoolConfig([ec2PurposeConfig({ idleTimeoutSeconds: 600, ...purposeOver })], poolOver);
  const { pool, provider } = await aws.ec2Pool(config, { clock, provider: { purposes: config.purposes, now: () => clock.now() } });
  return { pool, provider, clock };
}

/** Ticks the lifecycle until `done` holds (launches run in the background of a tick). */
async function tickUntil(pool: Pool, done: () => Promise<boolean>, max = 20): Promise<void> {
  for (let i = 0; i < max; i++) {
    await pool.loop.tick({ forceReconcile: true });
    await pool.loop.launcher.settle();
    if (await done()) return;
  }
  throw new Error("condition not reached");
}

const stateOf = async (pool: Pool, id: string) => (await getInstance(pool.db, id))?.state;

test("a spot instance is interrupted; the user's next claim gets a new instance with the same home volume", async () => {
  const { pool } = await makePool({ name: "spotty", ec2: { market: "spot" } });
  const first = await pool.claim("alice", "spotty");
  assert.equal(first.source, "launched");
  await tickUntil(pool, async () => (await stateOf(pool, first.instance.id)) === "running");
  const row1 = (await getInstance(pool.db, first.instance.id))!;
  // The home is made once the instance runs, in its zone, and named by the instance's HomeVolume tag.
  const homeId = aws.fake.world.instances.get(row1.providerId!)!.tags.HomeVolume!;
  assert.match(homeId, /^vol-/);
  assert.equal(aws.fake.world.volumes.get(homeId)!.zone, row1.availabilityZone);
  assert.equal(aws.fake.world.mounted.get(row1.providerId!), homeId, "mounted before the instance counted as running");
  assert.equal(aws.fake.world.volumes.get(homeId)!.attachment?.instanceId, row1.providerId, "attached once it ran");
  assert.equal(row1.market, "spot");

  aws.fake.world.interruptSpot(row1.providerId!);
  await pool.loop.tick({ forceReconcile: true });
  const ended = (await getInstance(pool.db, first.instance.id))!;
  assert.equal(ended.state, "interrupted");
  assert.equal(ended.stateReason, "Server.SpotInstanceTermination");
  assert.equal(aws.fake.world.volumes.get(homeId)!.state, "available", "the home volume survives");

  const second = await pool.claim("alice", "spotty");
  assert.equal(second.source, "launched");
  assert.notEqual(second.instance.id, first.instance.id);
  await tickUntil(pool, async () => (await stateOf(pool, second.instance.id)) === "running");
  const row2 = (await getInstance(pool.db, second.instance.id))!;
  assert.notEqual(row2.providerId, row1.providerId);
  assert.equal(aws.fake.world.instances.get(row2.providerId!)!.tags.HomeVolume, homeId, "same home volume");
  assert.equal(row2.availabilityZone, aws.fake.world.volumes.get(homeId)!.zone, "launched in the volume's zone");
  assert.equal(aws.fake.world.volumes.get(homeId)!.attachment?.instanceId, row2.providerId);
  const homes = [...aws.fake.world.volumes.values()].filter((v) => v.tags.Role === "home" && v.tags.Owner === "alice" && v.tags.Purpose === "spotty");
  assert.equal(homes.length, 1, "no second home was made");
  await pool.stop();
});

test("a warm instance is handed to a user: Owner tag, home attached and mounted through SSM; release unmounts and detaches", async () => {
  const { pool } = await makePool({ name: "warm", minFree: 1 });
  await tickUntil(pool, async () => (await pool.db.selectFrom("instances").selectAll().where("purpose", "=", "warm").where("state", "=", "running").execute()).length === 1);
  const warmRow = (await pool.db.selectFrom("instances").selectAll().where("purpose", "=", "warm").where("state", "=", "running").executeTakeFirst())!;
  const warmLaunch = aws.fake.world.instances.get(warmRow.provider_id!)!;
  assert.equal(warmLaunch.tags.Owner, undefined, "warm instances have no owner");
  assert.match(Buffer.from(String(warmLaunch.request.UserData), "base64").toString(), /^WAIT_FOR_HOME='0'$/m);

  const claim = await pool.claim("bob", "warm");
  assert.equal(claim.source, "warm");
  assert.equal(claim.instance.id, warmRow.id);
  aws.fake.world.calls.length = 0;
  await tickUntil(pool, async () => (await getInstance(pool.db, claim.instance.id))!.handedOverTo === "bob");
  const inst = aws.fake.world.instances.get(warmRow.provider_id!)!;
  assert.equal(inst.tags.Owner, "bob");
  const home = [...aws.fake.world.volumes.values()].find((v) => v.tags.Owner === "bob" && v.tags.Role === "home")!;
  assert.ok(home, "bob's home was created");
  assert.equal(home.zone, inst.zone);
  assert.equal(home.encrypted, true);
  assert.equal(home.attachment?.instanceId, inst.id);
  assert.equal(home.attachment?.device, "/dev/sdh");
  const send = aws.fake.world.callsOf("SendCommand").find((c) => !c.error)!;
  assert.equal(send.params.DocumentName, "AWS-RunShellScript");
  assert.deepEqual(send.params.InstanceIds, [inst.id]);
  assert.deepEqual((send.params.Parameters as { commands: string[] }).commands, [`/usr/local/sbin/rstudio-pool-home mount ${home.id} || true`, "/usr/local/sbin/rstudio-pool-home check"]);
  const order = aws.fake.world.calls.map((c) => c.action).filter((a) => ["CreateVolume", "AttachVolume", "SendCommand"].includes(a));
  assert.deepEqual(order, ["CreateVolume", "AttachVolume", "SendCommand"]);

  aws.fake.world.calls.length = 0;
  await pool.release("bob", claim.instance.id);
  await tickUntil(pool, async () => (await stateOf(pool, claim.instance.id)) === "terminated");
  const ok = aws.fake.world.calls.filter((c) => !c.error);
  const acts = ok.map((c) => c.action);
  const unmountAt = ok.findIndex((c) => c.action === "SendCommand" && /rstudio-pool-home unmount/.test(JSON.stringify(c.params)));
  assert.ok(unmountAt >= 0 && unmountAt < acts.indexOf("DetachVolume") && acts.indexOf("DetachVolume") < acts.indexOf("TerminateInstances"), acts.join(","));
  assert.ok(acts.indexOf("DescribeSessions") < acts.indexOf("TerminateInstances"), "the instance's sessions are looked up and ended first");
  aws.fake.world.advance();
  assert.equal(aws.fake.world.volumes.get(home.id)!.state, "available", "detached, never deleted");
  await pool.stop();
});

test("the busy check: a computing instance gets its deadline extended; an idle one is reaped", async () => {
  const { pool, clock } = await makePool({ name: "busy", ec2: { busyCheck: { enabled: true, cpuThreshold: 25, extendSeconds: 1800 } } });
  const c = await pool.claim("carol", "busy");
  await tickUntil(pool, async () => (await stateOf(pool, c.instance.id)) === "running");
  const row = (await getInstance(pool.db, c.instance.id))!;
  aws.fake.world.loads.set(row.providerId!, { load: 0.2, cpus: 2, rsession: 98.4 });
  clock.t += 700_000; // past the 600 s idle deadline
  await pool.loop.tick();
  const after1 = (await getInstance(pool.db, c.instance.id))!;
  assert.equal(after1.state, "running");
  assert.equal(after1.idleDeadline, clock.t + 1_800_000);
  const busyCall = aws.fake.world.callsOf("SendCommand").at(-1)!;
  assert.match(JSON.stringify(busyCall.params), /loadavg/);
  aws.fake.world.loads.set(row.providerId!, { load: 0.05, cpus: 2, rsession: 0 });
  clock.t += 1_900_000;
  await pool.loop.tick();
  assert.notEqual((await getInstance(pool.db, c.instance.id))!.state, "running");
  await pool.stop();
});

test("sessions: the owner gets an SSM port-forwarding session through the API; anyone else is refused", async () => {
  const { pool } = await makePool({ name: "sess" });
  const now = Date.now();
  for (const u of ["dave", "eve"]) {
    await insertUser(pool.db, u, false, now);
    await insertToken(pool.db, u, hashToken(`token-${u}`), now);
  }
  const app = createApp({ pool, costs: new LedgerCostService(pool.db, pool.config, pool.ctx.clock), log: silentLogger() });
  const claim = await request(app).post("/v1/claims").set("authorization", "Bearer token-dave").send({ purpose: "sess" });
  assert.ok([200, 201].includes(claim.status), JSON.stringify(claim.body));
  const id = claim.body.instance.instanceId as string;
  const early = await request(app).post(`/v1/instances/${id}/connection`).set("authorization", "Bearer token-dave").send({ localPort: 18787 });
  assert.equal(early.status, 409);
  assert.equal(early.body.error.code, "INSTANCE_NOT_RUNNING");
  await tickUntil(pool, async () => (await stateOf(pool, id)) === "running");

  const res = await request(app).post(`/v1/instances/${id}/connection`).set("authorization", "Bearer token-dave").send({ localPort: 18787 });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const providerId = (await getInstance(pool.db, id))!.providerId!;
  assert.equal(res.body.kind, "ssm");
  assert.equal(res.body.target, providerId);
  assert.equal(res.body.region, "us-east-1");
  assert.equal(res.body.documentName, "AWS-StartPortForwardingSession");
  assert.deepEqual(res.body.parameters, { portNumber: ["8787"], localPortNumber: ["18787"] });
  assert.match(res.body.streamUrl, /^wss:\/\//);
  assert.ok(res.body.tokenValue && res.body.sessionId);
  assert.equal(res.body.endpoint, aws.fake.url);
  const session = aws.fake.world.sessions.at(-1)!;
  assert.equal(session.sessionId, res.body.sessionId);
  assert.deepEqual(session.parameters, { portNumber: ["8787"], localPortNumber: ["18787"] });

  const sessionsBefore = aws.fake.world.sessions.length;
  const other = await request(app).post(`/v1/instances/${id}/connection`).set("authorization", "Bearer token-eve").send({ localPort: 18787 });
  assert.equal(other.status, 404);
  assert.equal(other.body.error.code, "INSTANCE_NOT_FOUND");
  assert.equal(aws.fake.world.sessions.length, sessionsBefore, "no session was started for eve");

  // The agent drops: a clear 503 SSM_AGENT_OFFLINE, no session.
  aws.fake.world.instances.get(providerId)!.ssmOnline = false;
  const offline = await request(app).post(`/v1/instances/${id}/connection`).set("authorization", "Bearer token-dave").send({ localPort: 18787 });
  assert.equal(offline.status, 503);
  assert.equal(offline.body.error.code, "SSM_AGENT_OFFLINE");
  assert.equal(aws.fake.world.sessions.length, sessionsBefore);
  aws.fake.world.instances.get(providerId)!.ssmOnline = true;

  // AWS refuses the session for lack of permission: a 502 PROVIDER_ERROR naming ssm:StartSession.
  aws.fake.world.failNext.set("StartSession", ["AccessDeniedException"]);
  const denied = await request(app).post(`/v1/instances/${id}/connection`).set("authorization", "Bearer token-dave").send({ localPort: 18787 });
  assert.equal(denied.status, 502);
  assert.equal(denied.body.error.code, "PROVIDER_ERROR");
  assert.match(denied.body.error.message, /ssm:StartSession/);
  await pool.stop();
});

test("a launch AWS refuses for good fails the instance with the reason; a throttled one is retried", async () => {
  const { pool } = await makePool({ name: "denied", ec2: { instanceTypes: ["t3.large"] } });
  aws.fake.world.failNext.set("RunInstances", ["UnauthorizedOperation"]);
  const c = await pool.claim("frank", "denied");
  await tickUntil(pool, async () => (await stateOf(pool, c.instance.id)) === "failed");
  assert.match((await getInstance(pool.db, c.instance.id))!.stateReason!, /lacks permission for ec2:RunInstances/);

  aws.fake.world.failNext.set("RunInstances", Array(9).fill("RequestLimitExceeded"));
  const d = await pool.claim("frank", "denied");
  await pool.loop.tick();
  await pool.loop.launcher.settle();
  const row = (await getInstance(pool.db, d.instance.id))!;
  assert.equal(row.state, "launching", "kept for a retry");
  assert.match(row.stateReason!, /throttling/);
  await pool.stop();
});

test("a heartbeat that lands while the reaper waits for the busy check wins: the instance is not reaped", async () => {
  const { pool, provider, clock } = await makePool({ name: "racy", ec2: { busyCheck: { enabled: true, cpuThreshold: 25, extendSeconds: 1800 } } });
  const c = await pool.claim("gina", "racy");
  await tickUntil(pool, async () => (await stateOf(pool, c.instance.id)) === "running");
  clock.t += 700_000;
  const real = provider.isBusy.bind(provider);
  provider.isBusy = async (ref, purpose) => {
    const busy = await real(ref, purpose);
    await pool.heartbeat("gina", c.instance.id); // answered 200 with a new deadline
    return busy;
  };
  await pool.loop.tick();
  const row = (await getInstance(pool.db, c.instance.id))!;
  assert.equal(row.state, "running", "the reap re-checked the deadline in its guarded update");
  assert.equal(row.ownerId, "gina");
  assert.ok(row.idleDeadline! > clock.t);
  await pool.stop();
});

test("hand-overs stay in the zone of the user's home: a warm spare elsewhere is not given to them", async () => {
  const { pool } = await makePool({ name: "zoned", minFree: 0 });
  const first = await pool.claim("hank", "zoned");
  await tickUntil(pool, async () => (await stateOf(pool, first.instance.id)) === "running");
  const homeZone = (await getInstance(pool.db, first.instance.id))!.availabilityZone!;
  await pool.release("hank", first.instance.id);
  await tickUntil(pool, async () => (await stateOf(pool, first.instance.id)) === "terminated");
  // Only spares in the other zone: hank must get a launch in his home's zone, not one of them.
  const other = homeZone === "us-east-1a" ? "us-east-1b" : "us-east-1a";
  aws.fake.world.noCapacity.add(`*@${homeZone}`);
  const spare = await pool.claim("ivy", "zoned");
  await tickUntil(pool, async () => (await stateOf(pool, spare.instance.id)) === "running");
  await pool.release("ivy", spare.instance.id);
  aws.fake.world.noCapacity.clear();
  await pool.db.updateTable("instances").set({ state: "running", owner_id: null, idle_deadline: null, availability_zone: other }).where("id", "=", spare.instance.id).execute();
  const again = await pool.claim("hank", "zoned");
  assert.equal(again.source, "launched", "no hand-over across zones");
  await tickUntil(pool, async () => (await stateOf(pool, again.instance.id)) === "running");
  const row = (await getInstance(pool.db, again.instance.id))!;
  assert.equal(row.availabilityZone, homeZone);
  await pool.stop();
});

test("spot prices the provider sees are recorded in spot_prices (the ledger bills the price in force)", async () => {
  const { pool } = await makePool({ name: "priced", ec2: { market: "spot" } });
  const c = await pool.claim("jo", "priced");
  await tickUntil(pool, async () => (await stateOf(pool, c.instance.id)) === "running");
  const rows = await pool.db.selectFrom("spot_prices").selectAll().execute();
  assert.ok(rows.some((r) => r.instance_type === "t3.large" && r.availability_zone === "us-east-1a"), JSON.stringify(rows));
  assert.ok(rows.every((r) => Number(r.hourly_price) > 0));
  await pool.stop();
});

test("the old protocol: GET_STATUS shows the EC2 instance id and accepts it as instanceId (as the old service answered)", async () => {
  const { pool } = await makePool({ name: "rstudio" }, { appKey: "app-key-123", proxyKey: "proxy-key-456" });
  const app = createApp({ pool, costs: new LedgerCostService(pool.db, pool.config, pool.ctx.clock), log: silentLogger() });
  const req = await request(app).post("/").set("authorization", "Bearer app-key-123").send({ command: "REQUEST_RSTUDIO", payload: { userId: "kim" } });
  assert.equal(req.status, 200, JSON.stringify(req.body));
  const id = req.body.instanceId as string;
  await tickUntil(pool, async () => (await stateOf(pool, id)) === "running");
  const ec2Id = (await getInstance(pool.db, id))!.providerId!;
  const byPool = await request(app).post("/").set("authorization", "Bearer app-key-123").send({ command: "GET_STATUS", payload: { instanceId: id } });
  assert.equal(byPool.body.instance.ec2InstanceId, ec2Id);
  const byEc2 = await request(app).post("/").set("authorization", "Bearer app-key-123").send({ command: "GET_STATUS", payload: { instanceId: ec2Id } });
  assert.equal(byEc2.status, 200, JSON.stringify(byEc2.body));
  assert.equal(byEc2.body.instance.instanceId, id);
  assert.equal(byEc2.body.instance.ec2InstanceId, ec2Id);
  assert.equal(byEc2.body.instance.userId, "kim");
  const unknown = await request(app).post("/").set("authorization", "Bearer app-key-123").send({ command: "GET_STATUS", payload: { instanceId: "i-0123456789abcdef0" } });
  assert.equal(unknown.status, 404);
  const del = await request(app).post("/").set("authorization", "Bearer proxy-key-456").send({ command: "DELETE", payload: { instanceId: ec2Id } });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.equal(await stateOf(pool, id), "releasing");
  await pool.stop();
});

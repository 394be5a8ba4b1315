/**
 * The EC2 provider as AWS really behaves, on the wire-format fake: capacity is per type and
 * zone (the walk crosses zones), a user's launch keeps to their home's zone for a while and then
 * their home moves, error classes that belong to one type or to spot, readiness checked on the
 * instance (an unmountable home fails the instance), one bad id not blocking SSM's answer for the
 * others, StartSession tried once, the busy check retried, and prices of the purpose's own zones.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { PoolError } from "../../../backend/errors";
import { ec2PurposeConfig, fakeProvider } from "../../support/aws/builders";
import { startFakeAws, type FakeAws } from "../../support/aws/fake-aws-server";
import { FakeWorld } from "../../support/aws/fake-world";

let fake: FakeAws;
before(async () => {
  fake = await startFakeAws();
});
after(() => fake.close());
beforeEach(() => {
  const fresh = new FakeWorld();
  for (const k of ["instances", "volumes", "snapshots", "mounted", "rstudioDown", "mountFails", "ssmRejects", "noCapacity", "failNext"] as const) (fake.world[k] as { clear(): void }).clear();
  fake.world.calls.length = 0;
  fake.world.sessions.length = 0;
  fake.world.hasDefaultVpc = fresh.hasDefaultVpc;
});

type Wire = Record<string, any>;
const runs = () => fake.world.callsOf("RunInstances").map((c) => ({ subnet: (c.params as Wire).NetworkInterface[0].SubnetId as string, type: (c.params as Wire).InstanceType as string, spot: Boolean((c.params as Wire).InstanceMarketOptions), error: c.error ?? "ok" }));
const ref = (providerId: string, zone: string | null = null) => ({ id: "x", providerId, purpose: "rstudio", ownerId: null, availabilityZone: zone, instanceType: null, market: null, details: {} });

async function describeUntil(provider: ReturnType<typeof fakeProvider>, id: string, done: (p: Awaited<ReturnType<typeof provider.describe>>[number]) => boolean, max = 10) {
  for (let i = 0; i < max; i++) {
    const [p] = await provider.describe([id]);
    if (p && done(p)) return p;
  }
  throw new Error(`describe(${id}) never reached the condition`);
}

test("a zone short of capacity: the launch moves on to the same type in the next zone, not to the next type", async () => {
  const provider = fakeProvider(fake);
  fake.world.noCapacity.add("*@us-east-1a");
  const res = await provider.launch({ instanceId: "rsp-00000000000ca001", purpose: ec2PurposeConfig(), poolName: "test-pool", ownerId: null });
  assert.equal(res.availabilityZone, "us-east-1b");
  assert.equal(res.instanceType, "t3.large", "the first type, in the zone that had it");
  assert.ok(runs().every((r) => r.type === "t3.large"));
});

test("a user's home zone has no capacity: the pool waits there (and says why), then moves the home to where capacity is", async () => {
  const clock = { t: Date.now() };
  const provider = fakeProvider(fake, { now: () => clock.t });
  const purpose = ec2PurposeConfig({ ec2: { homeMoveAfterSeconds: 600 } });
  const first = await provider.launch({ instanceId: "rsp-00000000000ca010", purpose, poolName: "test-pool", ownerId: "alice" });
  await describeUntil(provider, first.providerId, (p) => p.ready);
  const home = fake.world.volumes.get(fake.world.instances.get(first.providerId)!.tags.HomeVolume!)!;
  home.data = "alice's analysis.R";
  await provider.release({ ...ref(first.providerId), ownerId: "alice" }, purpose);
  await provider.terminate([ref(first.providerId)]);
  fake.world.advance();
  assert.equal(home.state, "available");

  fake.world.noCapacity.add(`*@${home.zone}`);
  fake.world.calls.length = 0;
  const req = { instanceId: "rsp-00000000000ca011", purpose, poolName: "test-pool", ownerId: "alice" };
  await assert.rejects(provider.launch(req), (e: unknown) => e instanceof PoolError && e.code === "PROVIDER_UNAVAILABLE" && /zone of your home/.test(e.message) && /moves your home/.test(e.message));
  assert.ok(runs().length > 0 && runs().every((r) => fake.world.subnets[r.subnet] === home.zone), "only the home's zone was tried");
  clock.t += 300_000;
  await assert.rejects(provider.launch(req), /in 300s it moves your home/);

  clock.t += 301_000;
  const moved = await provider.launch(req);
  assert.notEqual(moved.availabilityZone, home.zone);
  assert.match(String(moved.details!.notice), /your home is being copied/);
  const p = await describeUntil(provider, moved.providerId, (x) => x.ready);
  assert.equal(p.state, "running");
  const inst = fake.world.instances.get(moved.providerId)!;
  const newHome = fake.world.volumes.get(inst.tags.HomeVolume!)!;
  assert.equal(newHome.zone, moved.availabilityZone);
  assert.equal(newHome.data, "alice's analysis.R", "the files came along (snapshot copy)");
  assert.equal(newHome.tags.HomeMovedFrom, home.id);
  assert.equal(home.tags.Role, "home-moved", "the old home is kept but never chosen again");
  assert.equal(home.tags.HomeMovedTo, newHome.id);
  assert.notEqual(home.state, "deleted");
  assert.equal(fake.world.mounted.get(inst.id), newHome.id);
  assert.deepEqual(await provider.preferredZones("alice", purpose), [newHome.zone]);
});

test("error classes: a type that does not fit the image is skipped; the spot quota and a missing spot role go to on-demand", async () => {
  const provider = fakeProvider(fake);
  const arm = await provider.launch({ instanceId: "rsp-00000000000ca020", purpose: ec2PurposeConfig({ ec2: { instanceTypes: ["m7g.large", "t3.large"] } }), poolName: "test-pool", ownerId: null });
  assert.equal(arm.instanceType, "t3.large");
  assert.equal(runs().filter((r) => r.type === "m7g.large").length, 1, "the arm64 type was tried once, not in every zone");
  await assert.rejects(
    provider.launch({ instanceId: "rsp-00000000000ca021", purpose: ec2PurposeConfig({ ec2: { instanceTypes: ["m7g.large", "t4g.large"] } }), poolName: "test-pool", ownerId: null }),
    (e: unknown) => e instanceof PoolError && e.code === "INVALID_CONFIG" && /ec2\.instanceTypes/.test(e.message),
  );

  fake.world.calls.length = 0;
  fake.world.failNext.set("RunInstances", ["MaxSpotInstanceCountExceeded"]);
  const quota = await provider.launch({ instanceId: "rsp-00000000000ca022", purpose: ec2PurposeConfig({ ec2: { market: "spot" } }), poolName: "test-pool", ownerId: null });
  assert.equal(quota.market, "on-demand");
  assert.deepEqual(runs().map((r) => `${r.spot ? "spot" : "od"}:${r.error}`), ["spot:MaxSpotInstanceCountExceeded", "od:ok"], "straight to on-demand");

  fake.world.calls.length = 0;
  fake.world.failNext.set("RunInstances", ["AuthFailure.ServiceLinkedRoleCreationNotPermitted"]);
  const role = await provider.launch({ instanceId: "rsp-00000000000ca023", purpose: ec2PurposeConfig({ ec2: { market: "spot" } }), poolName: "test-pool", ownerId: null });
  assert.equal(role.market, "on-demand");
  fake.world.failNext.set("RunInstances", ["AuthFailure.ServiceLinkedRoleCreationNotPermitted"]);
  await assert.rejects(
    provider.launch({ instanceId: "rsp-00000000000ca024", purpose: ec2PurposeConfig({ ec2: { market: "spot", spotFallbackToOnDemand: false } }), poolName: "test-pool", ownerId: null }),
    (e: unknown) => e instanceof PoolError && e.code === "PROVIDER_ERROR" && /create-service-linked-role --aws-service-name spot\.amazonaws\.com/.test(e.message),
  );
});

test("readiness: one id SSM refuses does not hold up the others; a home that cannot be mounted fails the instance with the reason", async () => {
  // A "not yet" answer is checked again after 5 s (of this clock, which each describe moves on).
  const clock = { t: Date.now() };
  const provider = fakeProvider(fake, { now: () => (clock.t += 3_000) });
  const a = await provider.launch({ instanceId: "rsp-00000000000ca030", purpose: ec2PurposeConfig(), poolName: "test-pool", ownerId: null });
  const b = await provider.launch({ instanceId: "rsp-00000000000ca031", purpose: ec2PurposeConfig(), poolName: "test-pool", ownerId: null });
  fake.world.ssmRejects.add(b.providerId);
  let seen: Awaited<ReturnType<typeof provider.describe>> = [];
  for (let i = 0; i < 4; i++) seen = await provider.describe([a.providerId, b.providerId]);
  assert.equal(seen.find((p) => p.providerId === a.providerId)!.ready, true);
  assert.equal(seen.find((p) => p.providerId === b.providerId)!.ready, false);

  fake.world.rstudioDown.add(a.providerId);
  const c = await provider.launch({ instanceId: "rsp-00000000000ca032", purpose: ec2PurposeConfig(), poolName: "test-pool", ownerId: null });
  fake.world.rstudioDown.add(c.providerId);
  for (let i = 0; i < 4; i++) assert.equal((await provider.describe([c.providerId]))[0]!.ready, false, "running and agent online, but RStudio does not answer yet");
  fake.world.rstudioDown.delete(c.providerId);
  await describeUntil(provider, c.providerId, (p) => p.ready);

  const owned = await provider.launch({ instanceId: "rsp-00000000000ca033", purpose: ec2PurposeConfig(), poolName: "test-pool", ownerId: "bob" });
  fake.world.advance();
  const failed = await describeUntil(provider, owned.providerId, (p) => {
    const homeId = fake.world.instances.get(owned.providerId)!.tags.HomeVolume;
    if (homeId) fake.world.mountFails.add(homeId);
    return p.state === "terminated";
  });
  assert.match(failed.stateReason!, /not usable: home volume vol-\w+ did not appear/);
  fake.world.advance();
  assert.equal(fake.world.instances.get(owned.providerId)!.state, "terminated");
  const home = [...fake.world.volumes.values()].find((v) => v.tags.Owner === "bob" && v.tags.Role === "home")!;
  assert.equal(home.state, "available", "bob's home survives for his next instance");
});

test("StartSession is sent once (not idempotent); the busy check is retried before it gives up", async () => {
  const provider = fakeProvider(fake);
  const purpose = ec2PurposeConfig({ ec2: { busyCheck: { enabled: true, cpuThreshold: 25, extendSeconds: 600, attempts: 3 } } });
  const a = await provider.launch({ instanceId: "rsp-00000000000ca040", purpose, poolName: "test-pool", ownerId: null });
  await describeUntil(provider, a.providerId, (p) => p.ready);
  fake.world.calls.length = 0;
  fake.world.failNext.set("StartSession", ["InternalServerError"]);
  await assert.rejects(provider.connect(ref(a.providerId), purpose, { userId: "u", localPort: 1 }), /tried once \(not retried automatically\)/);
  assert.equal(fake.world.callsOf("StartSession").length, 1);

  fake.world.loads.set(a.providerId, { load: 3, cpus: 2, rsession: 99 });
  fake.world.failNext.set("SendCommand", ["InternalServerError", "InternalServerError", "InternalServerError", "InternalServerError", "InternalServerError", "InternalServerError"]);
  assert.equal(await provider.isBusy(ref(a.providerId), purpose), true, "busy after retries: the running job is not reaped");
  fake.world.failNext.set("SendCommand", Array(30).fill("InternalServerError"));
  await assert.rejects(provider.isBusy(ref(a.providerId), purpose), /failed 3 times/);
  fake.world.failNext.clear();
});

test("prices: a spot purpose shows the price of the zones it can launch in; the prices seen are handed to the pool", async () => {
  const provider = fakeProvider(fake);
  const onlyB = ec2PurposeConfig({ ec2: { market: "spot", subnetIds: ["subnet-0b2"] } });
  const anywhere = ec2PurposeConfig({ ec2: { market: "spot" } });
  const pb = await provider.priceOf(onlyB);
  const pa = await provider.priceOf(anywhere);
  assert.ok(pb! > pa!, `${pb} is us-east-1b's price, not the cheapest zone's ${pa}`);
  const seen = provider.observedSpotPrices();
  assert.deepEqual(new Set(seen.map((s) => s.availabilityZone)), new Set(["us-east-1a", "us-east-1b"]));
  assert.ok(seen.every((s) => s.instanceType === "t3.large" && s.hourlyPrice > 0 && s.at > 0));
  assert.deepEqual(provider.observedSpotPrices(), [], "drained");
});

test("no subnets configured: the default VPC's default subnets; a region without a default VPC is a clear config error", async () => {
  const provider = fakeProvider(fake);
  const legacy = ec2PurposeConfig({ ec2: { subnetIds: [] } });
  const res = await provider.launch({ instanceId: "rsp-00000000000ca050", purpose: legacy, poolName: "test-pool", ownerId: null });
  assert.ok(["us-east-1a", "us-east-1b"].includes(res.availabilityZone!));
  assert.ok(fake.world.callsOf("DescribeVpcs").length === 1);
  fake.world.hasDefaultVpc = false;
  await assert.rejects(fakeProvider(fake).launch({ instanceId: "rsp-00000000000ca051", purpose: legacy, poolName: "test-pool", ownerId: null }), (e: unknown) => e instanceof PoolError && e.code === "INVALID_CONFIG" && /SUBNET_IDS/.test(e.message));
});

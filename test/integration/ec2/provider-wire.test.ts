/**
 * The EC2 provider's real SDK clients against the fake AWS server (EC2 query/XML, SSM JSON 1.1):
 * what goes over the wire for a launch, spot fallback, throttling, pagination, termination and
 * how AWS error codes come back as PoolErrors.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { PoolError } from "../../../backend/errors";
import { cellToken } from "../../../backend/providers/ec2/launch-plan";
import { LaunchQueue } from "../../../backend/providers/ec2/launch-queue";
import { FakeWorld } from "../../support/aws/fake-world";
import { startFakeAws, type FakeAws } from "../../support/aws/fake-aws-server";
import { ec2PurposeConfig, fakeProvider } from "../../support/aws/builders";

let fake: FakeAws;
before(async () => {
  fake = await startFakeAws();
});
after(() => fake.close());
beforeEach(() => {
  const w = new FakeWorld();
  Object.assign(fake.world, { calls: w.calls });
  fake.world.instances.clear();
  fake.world.volumes.clear();
  fake.world.calls.length = 0;
  fake.world.noCapacity.clear();
  fake.world.failNext.clear();
  fake.world.runInstancesBucket = null;
});

type Wire = Record<string, any>;
const lastRun = (): Wire => fake.world.callsOf("RunInstances").filter((c) => !c.error).at(-1)!.params as Wire;

test("an owned spot launch, field by field on the wire", async () => {
  const provider = fakeProvider(fake);
  const purpose = ec2PurposeConfig({ ec2: { market: "spot", spotMaxPrice: 0.06 } });
  const res = await provider.launch({ instanceId: "rsp-00000000000000a1", purpose, poolName: "test-pool", ownerId: "alice" });
  const p = lastRun();
  assert.equal(p.Version, "2016-11-15");
  assert.equal(p.ImageId, "ami-0aaaaaaaaaaaaaaa2", "the newest AMI with the tag");
  assert.equal(p.InstanceType, "t3.large");
  assert.equal(p.ClientToken, cellToken("rsp-00000000000000a1", "t3.large", "spot", p.NetworkInterface[0].SubnetId));
  assert.deepEqual([p.MinCount, p.MaxCount], ["1", "1"]);
  assert.deepEqual(p.MetadataOptions, { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: "1", InstanceMetadataTags: "disabled" });
  assert.equal(p.NetworkInterface[0].AssociatePublicIpAddress, "false");
  assert.deepEqual(p.NetworkInterface[0].SecurityGroupId, ["sg-0123abcd"]);
  assert.equal(p.InstanceMarketOptions.MarketType, "spot");
  assert.equal(p.InstanceMarketOptions.SpotOptions.MaxPrice, "0.06");
  assert.equal(p.BlockDeviceMapping[0].Ebs.Encrypted, "true");
  assert.equal(p.IamInstanceProfile.Name, "rstudio-pool-instance");
  const userData = Buffer.from(p.UserData, "base64").toString("utf8");
  assert.match(userData, /^#!\/bin\/bash/);
  assert.match(userData, /^WAIT_FOR_HOME='1'$/m, "RStudio waits for alice's home");
  const specs = Object.fromEntries(p.TagSpecification.map((s: Wire) => [s.ResourceType, Object.fromEntries(s.Tag.map((t: Wire) => [t.Key, t.Value]))]));
  assert.equal(specs.instance.Pool, "test-pool");
  assert.equal(specs.instance.Owner, "alice");
  assert.equal(specs.instance.PoolInstanceId, "rsp-00000000000000a1");
  assert.equal(specs.instance.CostCenter, "research");
  assert.equal(specs.volume.Pool, "test-pool");
  assert.equal(specs.volume.Owner, "alice");
  // What EC2 made of it: the instance and its root volume carry the tags; the home volume exists, encrypted, in the same zone.
  const inst = fake.world.instances.get(res.providerId)!;
  assert.equal(inst.lifecycle, "spot");
  assert.equal(res.market, "spot");
  assert.equal(res.hourlyPrice! > 0 && res.hourlyPrice! < 0.0832, true, "spot price from DescribeSpotPriceHistory");
  const root = fake.world.volumesOf(res.providerId)[0]!;
  assert.equal(root.tags.PoolInstanceId, "rsp-00000000000000a1");
  assert.equal(root.encrypted, true);
  assert.equal(res.availabilityZone, inst.zone);
  assert.equal([...fake.world.volumes.values()].filter((v) => v.tags.Role === "home").length, 0, "no home before the instance runs (it would pin alice to a zone)");
  // Once it runs, describe() makes the home in the instance's zone, attaches it, has it mounted, then says ready.
  let ready = false;
  for (let i = 0; i < 6 && !ready; i++) ready = (await provider.describe([res.providerId]))[0]!.ready;
  assert.ok(ready);
  const home = fake.world.volumes.get(inst.tags.HomeVolume!)!;
  assert.deepEqual([home.tags.Owner, home.tags.Pool, home.tags.Role, home.encrypted, home.zone], ["alice", "test-pool", "home", true, inst.zone]);
  assert.equal(fake.world.mounted.get(inst.id), home.id);
});

test("the same launch again returns the same instance (client token), never a second one", async () => {
  const provider = fakeProvider(fake);
  const purpose = ec2PurposeConfig();
  const a = await provider.launch({ instanceId: "rsp-00000000000000b1", purpose, poolName: "test-pool", ownerId: null });
  const b = await provider.launch({ instanceId: "rsp-00000000000000b1", purpose, poolName: "test-pool", ownerId: null });
  assert.equal(a.providerId, b.providerId);
  assert.equal(fake.world.instances.size, 1);
  // Changed settings under the same token: EC2 says IdempotentParameterMismatch and the provider finds the first instance by its tag.
  const changed = ec2PurposeConfig({ ec2: { rootVolumeGiB: 40 } });
  const c = await provider.launch({ instanceId: "rsp-00000000000000b1", purpose: changed, poolName: "test-pool", ownerId: null });
  assert.equal(c.providerId, a.providerId);
  assert.equal(fake.world.callsOf("RunInstances").at(-1)!.error, "IdempotentParameterMismatch");
  assert.equal(fake.world.instances.size, 1);
});

test("spot fallback: next type, then on-demand, in order, each with its own token", async () => {
  const provider = fakeProvider(fake);
  fake.world.noCapacity.add("t3.large/spot");
  fake.world.noCapacity.add("m5.large/spot");
  const res = await provider.launch({ instanceId: "rsp-00000000000000c1", purpose: ec2PurposeConfig({ ec2: { market: "spot" } }), poolName: "test-pool", ownerId: null });
  const runs = fake.world.callsOf("RunInstances");
  // Each type in every subnet (zone) on spot, then on-demand; each cell with its own token.
  const cell = (c: (typeof runs)[number]) => {
    const w = c.params as Wire;
    const market = w.InstanceMarketOptions ? "spot" : "on-demand";
    assert.equal(w.ClientToken, cellToken("rsp-00000000000000c1", w.InstanceType, market, w.NetworkInterface[0].SubnetId));
    return `${w.InstanceType}/${market}/${w.NetworkInterface[0].SubnetId}/${c.error ?? "ok"}`;
  };
  assert.deepEqual(runs.map(cell), [
    "t3.large/spot/subnet-0a1/InsufficientInstanceCapacity",
    "t3.large/spot/subnet-0b2/InsufficientInstanceCapacity",
    "m5.large/spot/subnet-0a1/InsufficientInstanceCapacity",
    "m5.large/spot/subnet-0b2/InsufficientInstanceCapacity",
    "t3.large/on-demand/subnet-0a1/ok",
  ]);
  assert.equal(res.market, "on-demand");
  assert.equal(res.hourlyPrice, 0.0832);
  // No fallback allowed and no capacity: PROVIDER_UNAVAILABLE, which the pool retries.
  fake.world.noCapacity.add("t3.large");
  await assert.rejects(
    provider.launch({ instanceId: "rsp-00000000000000c2", purpose: ec2PurposeConfig({ ec2: { market: "spot", instanceTypes: ["t3.large"], spotFallbackToOnDemand: false } }), poolName: "test-pool", ownerId: null }),
    (e: unknown) => e instanceof PoolError && e.code === "PROVIDER_UNAVAILABLE" && /t3\.large spot in us-east-1a: InsufficientInstanceCapacity/.test(e.message),
  );
});

test("throttling: RequestLimitExceeded (HTTP 503 XML) is retried by the queue; a rush stays inside EC2's bucket", async () => {
  const provider = fakeProvider(fake, { queue: new LaunchQueue({ burst: 5, refillPerSecond: 40, baseBackoffMs: 20 }) });
  fake.world.failNext.set("RunInstances", ["RequestLimitExceeded", "RequestLimitExceeded"]);
  const res = await provider.launch({ instanceId: "rsp-00000000000000d1", purpose: ec2PurposeConfig(), poolName: "test-pool", ownerId: null });
  assert.ok(res.providerId.startsWith("i-"));
  assert.deepEqual(fake.world.callsOf("RunInstances").map((c) => c.error ?? "ok"), ["RequestLimitExceeded", "RequestLimitExceeded", "ok"]);
  assert.equal(provider.queue.stats.throttled, 2);

  // 12 launches at once against a fake EC2 that enforces EC2's RunInstances budget (burst 5,
  // 2 per second), through the default queue: none throttled, in arrival order, paced at 2/s.
  const rush = fakeProvider(fake, { queue: new LaunchQueue() });
  // Warm the image and subnet caches so the launches reach the queue in the order they were made.
  await rush.images.resolve(ec2PurposeConfig().ec2);
  await rush.subnets.describe(ec2PurposeConfig().ec2.subnetIds);
  fake.world.calls.length = 0;
  fake.world.runInstancesBucket = { capacity: 5, refillPerSecond: 2, tokens: 5, last: Date.now() };
  const ids = Array.from({ length: 12 }, (_, i) => `rsp-${(0xe00 + i).toString(16).padStart(16, "0")}`);
  await Promise.all(ids.map((id) => rush.launch({ instanceId: id, purpose: ec2PurposeConfig(), poolName: "test-pool", ownerId: null })));
  const runs = fake.world.callsOf("RunInstances");
  assert.equal(runs.filter((c) => c.error).length, 0, "the queue kept inside the budget");
  assert.deepEqual(
    runs.map((c) => (c.params as Wire).ClientToken),
    runs.map((c, i) => cellToken(ids[i]!, "t3.large", "on-demand", (c.params as Wire).NetworkInterface[0].SubnetId)),
    "in arrival order",
  );
  assert.equal(new Set(runs.map((c) => (c.params as Wire).NetworkInterface[0].SubnetId)).size, 2, "warm launches spread over the zones");
  const last = runs.at(-1)!.at - runs[0]!.at;
  // The first call can arrive late (it opens the connection), which shortens the span a little.
  assert.ok(last >= 3800 && last < 9000, `12 launches took ${last} ms; at 4 + 1.8/s the last one starts after 4.4 s`);
});

test("listing 2,500 instances: filtered on the Pool tag, paginated with MaxResults, bounded calls", async () => {
  const provider = fakeProvider(fake);
  for (let i = 0; i < 2500; i++) {
    const id = fake.world.newInstanceId();
    fake.world.instances.set(id, {
      id, imageId: "ami-1", type: "t3.large", state: i % 10 === 0 ? "terminated" : "running", stateReason: null, lifecycle: null, zone: "us-east-1a", subnetId: "subnet-0a1",
      privateDns: "ip", launchTime: new Date(), tags: { Pool: "test-pool", Purpose: "rstudio", PoolInstanceId: `rsp-${i.toString(16).padStart(16, "0")}` }, clientToken: "", request: {}, ssmOnline: true,
    });
  }
  for (let i = 0; i < 20; i++) {
    const id = fake.world.newInstanceId();
    fake.world.instances.set(id, { ...fake.world.instances.values().next().value!, id, tags: { Pool: "other-pool" } });
  }
  const list = await provider.list("test-pool");
  assert.equal(list.length, 2500);
  assert.equal(new Set(list.map((p) => p.providerId)).size, 2500);
  assert.equal(list.filter((p) => p.state === "terminated").length, 250);
  const calls = fake.world.callsOf("DescribeInstances");
  assert.equal(calls.length, 3, "1000 per page");
  for (const c of calls) {
    assert.equal((c.params as Wire).MaxResults, "1000");
    assert.deepEqual((c.params as Wire).Filter, [{ Name: "tag:Pool", Value: ["test-pool"] }]);
  }
  assert.equal(fake.world.callsOf("DescribeInstanceInformation").length, 0, "listing never asks SSM");
  // More than the bound allows: refuse rather than report a partial list (the reconciler would take the rest for lost).
  const small = fakeProvider(fake, { listPageSize: 100 });
  await assert.rejects(small.list("test-pool"), (e: unknown) => e instanceof PoolError && e.code === "PROVIDER_UNAVAILABLE");
});

test("terminate: gone instances are not an error; a batch with one unknown id still ends the others", async () => {
  const provider = fakeProvider(fake);
  const a = await provider.launch({ instanceId: "rsp-00000000000000f1", purpose: ec2PurposeConfig(), poolName: "test-pool", ownerId: null });
  const ref = (providerId: string) => ({ id: "x", providerId, purpose: "rstudio", ownerId: null, availabilityZone: null, instanceType: null, market: null, details: {} });
  await provider.terminate([ref("i-0000000000000dead"), ref(a.providerId)]);
  assert.equal(fake.world.instances.get(a.providerId)!.state, "shutting-down");
  await provider.terminate([ref("i-0000000000000dead")]);
});

test("AWS error codes through the real SDK become PoolErrors with clear messages", async () => {
  const provider = fakeProvider(fake);
  const cases: Array<[string, string, RegExp]> = [
    ["UnauthorizedOperation", "PROVIDER_ERROR", /lacks permission for ec2:RunInstances/],
    ["InvalidAMIID.NotFound", "INVALID_CONFIG", /AMI/],
    ["VcpuLimitExceeded", "PROVIDER_ERROR", /quota/],
    ["AuthFailure", "PROVIDER_ERROR", /credentials/],
    ["InternalError", "PROVIDER_UNAVAILABLE", /retries/],
  ];
  for (const [awsCode, poolCode, msg] of cases) {
    fake.world.failNext.set("RunInstances", [awsCode]);
    await assert.rejects(
      provider.launch({ instanceId: "rsp-0000000000000aa1", purpose: ec2PurposeConfig({ ec2: { instanceTypes: ["t3.large"] } }), poolName: "test-pool", ownerId: null }),
      (e: unknown) => e instanceof PoolError && e.code === poolCode && msg.test(e.message) && e.details?.awsCode === awsCode,
      awsCode,
    );
  }
  fake.world.failNext.set("DescribeInstances", ["RequestLimitExceeded", "RequestLimitExceeded", "RequestLimitExceeded", "RequestLimitExceeded"]);
  await assert.rejects(provider.list("test-pool"), (e: unknown) => e instanceof PoolError && e.code === "PROVIDER_THROTTLED");
});

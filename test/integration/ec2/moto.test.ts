/**
 * The EC2 provider against moto, an independent AWS emulator (so it catches what our own fake
 * agrees with us on): the real SDK clients, moto's EC2 and IAM, and a small SSM stand-in for
 * what moto lacks (test/support/aws/moto.ts). No subnets are configured, as in the old service's
 * deployments: the default VPC's default subnets. Covers launches (on-demand and spot, IMDSv2,
 * tags, the instance profile moto checks), the home made in the instance's zone after it runs,
 * the warm hand-over, release and termination, a home move's snapshot and copy, and a leftover
 * owned instance that a fresh database must not hand out.
 * Skips loudly without moto; fails instead with MOTO_REQUIRED=1 or CI=true.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DescribeInstancesCommand, DescribeVolumesCommand, type Instance } from "@aws-sdk/client-ec2";
import type { PurposeConfig } from "../../../backend/config/schema";
import { Ec2Provider } from "../../../backend/providers/ec2/provider";
import { LaunchQueue } from "../../../backend/providers/ec2/launch-queue";
import { Pool } from "../../../backend/pool/service";
import { openStore, type Store } from "../../../backend/store/db";
import { migrateToLatest } from "../../../backend/store/migrate";
import { ec2PoolConfig, ec2PurposeConfig } from "../../support/aws/builders";
import { motoSkip, startMoto, type MotoStack } from "../../support/aws/moto";

const skip = motoSkip();

describe("EC2 provider on moto", { skip }, () => {
  let moto: MotoStack;
  let imageId: string;
  const stores: Store[] = [];
  const providers: Ec2Provider[] = [];

  async function query(service: "iam" | "ec2", body: string): Promise<string> {
    const res = await fetch(moto.motoUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=x` },
      body,
    });
    const text = await res.text();
    assert.ok(res.ok, text);
    return text;
  }

  const provider = (purposes: PurposeConfig[] = [purpose()]) => {
    const p = new Ec2Provider({ region: "us-east-1", poolName: "moto-pool", clients: moto.clients(), queue: new LaunchQueue({ burst: 5, refillPerSecond: 100, baseBackoffMs: 5 }), pollMs: 5, purposes });
    providers.push(p);
    return p;
  };
  const purpose = (over: Record<string, unknown> = {}) =>
    ec2PurposeConfig({ name: "rstudio", ec2: { imageId, imageFilter: undefined, subnetIds: [], securityGroupIds: [], instanceTypes: ["t3.large"], ...over } });
  const instance = async (p: Ec2Provider, id: string): Promise<Instance> =>
    (await p.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
  const tags = (i: Instance) => Object.fromEntries((i.Tags ?? []).map((t) => [t.Key, t.Value]));
  async function untilReady(p: Ec2Provider, id: string) {
    for (let n = 0; n < 12; n++) if ((await p.describe([id]))[0]?.ready) return;
    throw new Error(`${id} never became ready on moto`);
  }

  before(async () => {
    moto = await startMoto();
    // moto checks that the instance profile exists, as EC2 does.
    await query("iam", "Action=CreateInstanceProfile&InstanceProfileName=rstudio-pool-instance&Version=2010-05-08");
    const images = await query("ec2", "Action=DescribeImages&Version=2016-11-15&Owner.1=amazon&Filter.1.Name=architecture&Filter.1.Value.1=x86_64");
    imageId = /<imageId>(ami-[0-9a-f]+)<\/imageId>/.exec(images)![1]!;
  });
  after(async () => {
    for (const p of providers) await p.close();
    for (const s of stores) await s.close();
    await moto?.close();
  });

  test("an owned launch in the default VPC: hardened RunInstances accepted, home made in its zone after it runs, attached and mounted", async () => {
    const p = provider();
    const res = await p.launch({ instanceId: "rsp-000000000000m001", purpose: purpose(), poolName: "moto-pool", ownerId: "alice" });
    const inst = await instance(p, res.providerId);
    assert.equal(inst.MetadataOptions?.HttpTokens, "required");
    assert.equal(inst.MetadataOptions?.HttpPutResponseHopLimit, 1);
    assert.equal(inst.IamInstanceProfile?.Arn, "arn:aws:iam::123456789012:instance-profile/rstudio-pool-instance");
    assert.deepEqual([tags(inst).Pool, tags(inst).Owner, tags(inst).PoolInstanceId], ["moto-pool", "alice", "rsp-000000000000m001"]);
    assert.equal(inst.Placement?.AvailabilityZone, res.availabilityZone);
    assert.ok(!inst.PublicIpAddress, "no public IP, even in a default subnet");
    await untilReady(p, res.providerId);
    const after = await instance(p, res.providerId);
    const homeId = tags(after).HomeVolume!;
    const home = (await p.clients.ec2.send(new DescribeVolumesCommand({ VolumeIds: [homeId] }))).Volumes![0]!;
    assert.equal(home.AvailabilityZone, res.availabilityZone);
    assert.equal(home.Encrypted, true);
    assert.equal(home.Attachments?.[0]?.InstanceId, res.providerId);
    assert.equal(moto.ssm.mounted.get(res.providerId), homeId);
    await p.terminate([{ id: "x", providerId: res.providerId, purpose: "rstudio", ownerId: null, availabilityZone: null, instanceType: null, market: null, details: {} }]);
  });

  test("spot, the warm hand-over, release (sessions ended, home detached) and termination", async () => {
    const p = provider([purpose({ market: "spot" })]);
    const res = await p.launch({ instanceId: "rsp-000000000000m002", purpose: purpose({ market: "spot" }), poolName: "moto-pool", ownerId: null });
    assert.equal(res.market, "spot");
    await untilReady(p, res.providerId);
    const ref = { id: "rsp-000000000000m002", providerId: res.providerId, purpose: "rstudio", ownerId: "bob", availabilityZone: res.availabilityZone, instanceType: res.instanceType, market: res.market, details: {} };
    await p.assign(ref, "bob", purpose({ market: "spot" }));
    const inst = await instance(p, res.providerId);
    assert.equal(tags(inst).Owner, "bob");
    const homeId = tags(inst).HomeVolume!;
    const session = await p.connect(ref, purpose(), { userId: "bob", localPort: 18787 });
    assert.equal(session.kind, "ssm");
    await p.release(ref, purpose());
    assert.ok(moto.ssm.sessions.every((s) => s.state === "Terminated"), "the session was ended");
    const home = (await p.clients.ec2.send(new DescribeVolumesCommand({ VolumeIds: [homeId] }))).Volumes![0]!;
    assert.ok(!home.Attachments?.some((a) => a.State === "attached"), "home detached");
    await p.terminate([ref]);
    assert.ok(["shutting-down", "terminated"].includes((await instance(p, res.providerId)).State!.Name!));
    assert.ok((await p.list("moto-pool")).some((x) => x.providerId === res.providerId));
  });

  test("a home move: snapshot of the old home, a new home from it in the other zone, the old one retagged", async () => {
    const p = provider();
    const pur = purpose();
    const home = await p.homes.ensureIn(pur, "carol", "us-east-1a");
    let moved = null;
    for (let n = 0; n < 5 && !moved; n++) moved = await p.homes.moveStep(pur, "carol", "us-east-1b", { ...home, state: "available" });
    assert.ok(moved, "moto completes the snapshot");
    assert.equal(moved.availabilityZone, "us-east-1b");
    const v = (await p.clients.ec2.send(new DescribeVolumesCommand({ VolumeIds: [moved.volumeId, home.volumeId] }))).Volumes!;
    const byId = Object.fromEntries(v.map((x) => [x.VolumeId, x]));
    assert.ok(byId[moved.volumeId]!.SnapshotId, "made from the snapshot");
    assert.equal(tags(byId[home.volumeId] as Instance).Role, "home-moved");
    assert.deepEqual(await p.preferredZones("carol", pur), ["us-east-1b"]);
  });

  test("a fresh database finds a leftover owned instance: it is terminated, not adopted as someone's warm spare", async () => {
    const old = provider();
    const owned = await old.launch({ instanceId: "rsp-000000000000m010", purpose: purpose(), poolName: "moto-pool", ownerId: "dave" });
    const clean = await old.launch({ instanceId: "rsp-000000000000m011", purpose: purpose(), poolName: "moto-pool", ownerId: null });
    const config = ec2PoolConfig([purpose({})], { poolName: "moto-pool" });
    const store = openStore({ databaseUrl: null, dataDir: config.dataDir });
    stores.push(store);
    await migrateToLatest(store);
    const pool = new Pool({ config, store, provider: provider(config.purposes) });
    await pool.prepare();
    await pool.loop.tick({ forceReconcile: true });
    const rows = await pool.db.selectFrom("instances").selectAll().execute();
    assert.ok(rows.some((r) => r.provider_id === clean.providerId), "the clean one was adopted");
    assert.ok(!rows.some((r) => r.provider_id === owned.providerId), "the owned one was not");
    assert.ok(["shutting-down", "terminated"].includes((await instance(old, owned.providerId)).State!.Name!));
    await pool.stop();
  });
});

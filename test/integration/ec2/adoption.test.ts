/**
 * A fresh database (or a second deployment with the same pool name) finds leftover pool
 * instances. One that was ever owned or carries a home must never become someone else's warm
 * spare: the reconciler terminates it, and the home volume survives. A clean one is adopted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ec2PoolConfig, ec2PurposeConfig, fakeProvider } from "../../support/aws/builders";
import { fakeAwsForFile } from "../../support/aws/ec2-pool-fixture";

const aws = fakeAwsForFile();

test("leftover instances: an owned one (home attached) is terminated, never handed out; a clean one is adopted", async () => {
  const purpose = ec2PurposeConfig({ name: "rstudio", minFree: 0 });
  const old = fakeProvider(aws.fake);
  const owned = await old.launch({ instanceId: "rsp-00000000000ad001", purpose, poolName: "test-pool", ownerId: "alice" });
  for (let i = 0; i < 5 && !(await old.describe([owned.providerId]))[0]!.ready; i++);
  const home = [...aws.fake.world.volumes.values()].find((v) => v.tags.Owner === "alice" && v.tags.Role === "home")!;
  assert.equal(home.attachment?.instanceId, owned.providerId, "alice's home is attached to the leftover");
  const clean = await old.launch({ instanceId: "rsp-00000000000ad002", purpose, poolName: "test-pool", ownerId: null });
  // A warm spare that was handed to bob, then the database was lost before it ended.
  const handed = await old.launch({ instanceId: "rsp-00000000000ad003", purpose, poolName: "test-pool", ownerId: null });
  aws.fake.world.instances.get(handed.providerId)!.tags.Owner = "bob";
  aws.fake.world.advance();

  const config = ec2PoolConfig([purpose]);
  const { pool } = await aws.ec2Pool(config);
  await pool.loop.tick({ forceReconcile: true });
  const rows = await pool.db.selectFrom("instances").selectAll().execute();
  assert.deepEqual(rows.map((r) => r.provider_id), [clean.providerId], "only the clean instance was adopted");
  aws.fake.world.advance();
  assert.equal(aws.fake.world.instances.get(owned.providerId)!.state, "terminated");
  assert.equal(aws.fake.world.instances.get(handed.providerId)!.state, "terminated");
  assert.equal(aws.fake.world.volumes.get(home.id)!.state, "available", "the home survives the termination");
  const events = await pool.db.selectFrom("events").selectAll().where("kind", "=", "orphan-terminated").execute();
  assert.equal(events.length, 2);
  assert.ok(events.some((e) => /not adoptable: owned by alice/.test(e.reason ?? "")), JSON.stringify(events.map((e) => e.reason)));
  // Nobody can be handed alice's instance: a claim by carol gets the clean spare or a new launch.
  const claim = await pool.claim("carol", "rstudio");
  assert.notEqual(claim.instance.providerId, owned.providerId);
  await pool.stop();
});

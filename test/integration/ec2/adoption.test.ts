/**
 * A fresh database (or a second deployment with the same pool name) finds leftover pool
 * instances. One that was ever owned or carries a home must never become someone else's warm
 * spare: the reconciler terminates it, and the home volume survives. A clean one is adopted.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Pool } from "../../../backend/pool/service";
import { openStore, type Store } from "../../../backend/store/db";
import { migrateToLatest } from "../../../backend/store/migrate";
import { ec2PoolConfig, ec2PurposeConfig, fakeProvider } from "../../support/aws/builders";
import { startFakeAws, type FakeAws } from "../../support/aws/fake-aws-server";

let fake: FakeAws;
const stores: Store[] = [];
before(async () => {
  fake = await startFakeAws();
});
after(async () => {
  for (const s of stores) await s.close();
  await fake.close();
});

test("leftover instances: an owned one (home attached) is terminated, never handed out; a clean one is adopted", async () => {
  const purpose = ec2PurposeConfig({ name: "rstudio", minFree: 0 });
  const old = fakeProvider(fake);
  const owned = await old.launch({ instanceId: "rsp-00000000000ad001", purpose, poolName: "test-pool", ownerId: "alice" });
  for (let i = 0; i < 5 && !(await old.describe([owned.providerId]))[0]!.ready; i++);
  const home = [...fake.world.volumes.values()].find((v) => v.tags.Owner === "alice" && v.tags.Role === "home")!;
  assert.equal(home.attachment?.instanceId, owned.providerId, "alice's home is attached to the leftover");
  const clean = await old.launch({ instanceId: "rsp-00000000000ad002", purpose, poolName: "test-pool", ownerId: null });
  // A warm spare that was handed to bob, then the database was lost before it ended.
  const handed = await old.launch({ instanceId: "rsp-00000000000ad003", purpose, poolName: "test-pool", ownerId: null });
  fake.world.instances.get(handed.providerId)!.tags.Owner = "bob";
  fake.world.advance();

  const config = ec2PoolConfig([purpose]);
  const store = openStore({ databaseUrl: null, dataDir: config.dataDir });
  stores.push(store);
  await migrateToLatest(store);
  const pool = new Pool({ config, store, provider: fakeProvider(fake) });
  await pool.prepare();
  await pool.loop.tick({ forceReconcile: true });
  const rows = await pool.db.selectFrom("instances").selectAll().execute();
  assert.deepEqual(rows.map((r) => r.provider_id), [clean.providerId], "only the clean instance was adopted");
  fake.world.advance();
  assert.equal(fake.world.instances.get(owned.providerId)!.state, "terminated");
  assert.equal(fake.world.instances.get(handed.providerId)!.state, "terminated");
  assert.equal(fake.world.volumes.get(home.id)!.state, "available", "the home survives the termination");
  const events = await pool.db.selectFrom("events").selectAll().where("kind", "=", "orphan-terminated").execute();
  assert.equal(events.length, 2);
  assert.ok(events.some((e) => /not adoptable: owned by alice/.test(e.reason ?? "")), JSON.stringify(events.map((e) => e.reason)));
  // Nobody can be handed alice's instance: a claim by carol gets the clean spare or a new launch.
  const claim = await pool.claim("carol", "rstudio");
  assert.notEqual(claim.instance.providerId, owned.providerId);
  await pool.stop();
});

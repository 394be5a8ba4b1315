/**
 * A spot interruption under the real Pool with the EC2 provider on the wire-format aws.fake, in
 * simulated time (the pool's clock and the fake's are one; instances take 150 s to boot): the
 * warning arrives as an observation, the instance becomes `interrupting`, a replacement is
 * launched for its user at once, the home leaves the old instance and is attached to the new
 * one, and at every tick the home is attached to at most one instance and never lost.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { applyObservation } from "../../../backend/pool/interruptions";
import { getInstance } from "../../../backend/store/instances";
import { listEvents } from "../../../backend/store/events";
import { INTERRUPTION_WARNING_MS } from "../../../backend/providers/types";
import { Ledger } from "../../../backend/cost/ledger";
import { ec2PoolConfig, ec2PurposeConfig } from "../../support/aws/builders";
import { fakeAwsForFile } from "../../support/aws/ec2-pool-fixture";

const BOOT_MS = 150_000;
const TICK_MS = 5_000;

const aws = fakeAwsForFile();

async function simulatedPool(purposeOver: Parameters<typeof ec2PurposeConfig>[0]) {
  const clock = { t: Date.parse("2026-12-01T09:00:00Z"), now: () => clock.t };
  aws.fake.world.now = clock.now;
  aws.fake.world.bootMs = BOOT_MS;
  const config = ec2PoolConfig([ec2PurposeConfig({ idleTimeoutSeconds: 3600, ...purposeOver })]);
  const { pool } = await aws.ec2Pool(config, { clock });
  /** One simulated tick: the clock moves on, the lifecycle runs, launches settle. */
  const step = async () => {
    clock.t += TICK_MS;
    await pool.loop.tick({ forceReconcile: true });
    await pool.loop.launcher.settle();
  };
  return { pool, clock, step };
}

test("a spot warning: replacement claimed and running with the same home, which is never on two instances", async () => {
  const { pool, clock, step } = await simulatedPool({ name: "spot-warned", ec2: { market: "spot" } });
  const claim = await pool.claim("alice", "spot-warned");
  for (let i = 0; i < 60 && (await getInstance(pool.db, claim.instance.id))!.state !== "running"; i++) await step();
  const old = (await getInstance(pool.db, claim.instance.id))!;
  assert.equal(old.state, "running");
  // The home is made once the instance runs, in its zone, and named by the instance's HomeVolume tag.
  const homeId = aws.fake.world.instances.get(old.providerId!)!.tags.HomeVolume!;
  assert.equal(aws.fake.world.volumes.get(homeId)!.attachment?.instanceId, old.providerId);

  // EC2 warns; in two minutes it takes the instance back, whatever we do.
  const warnedAt = clock.t;
  const outcome = await applyObservation(pool.ctx, { kind: "interruption-warning", providerId: old.providerId!, at: warnedAt, action: "terminate", deadline: warnedAt + INTERRUPTION_WARNING_MS });
  assert.equal(outcome.action, "interrupting");
  const replacementId = outcome.replacementId!;
  const warned = (await getInstance(pool.db, old.id))!;
  assert.equal(warned.state, "interrupting");
  assert.equal(warned.ownerId, null, "the old instance left its owner, who now holds the replacement");
  assert.equal(warned.details.replacementId, replacementId);
  const repl = (await getInstance(pool.db, replacementId))!;
  assert.equal(repl.ownerId, "alice");
  assert.equal(repl.details.replaces, old.id);
  // The same news again (a queue delivers at least once) changes nothing.
  assert.equal((await applyObservation(pool.ctx, { kind: "interruption-warning", providerId: old.providerId!, at: warnedAt, action: "terminate", deadline: warnedAt + INTERRUPTION_WARNING_MS })).action, "none");

  let readyAt: number | null = null;
  let homeOn: string | null = null;
  for (let i = 0; i < 120 && readyAt === null; i++) {
    if (clock.t >= warnedAt + INTERRUPTION_WARNING_MS) aws.fake.world.interruptSpot(old.providerId!);
    await step();
    const vol = aws.fake.world.volumes.get(homeId)!;
    assert.notEqual(vol.state, "deleted", "the home is never lost");
    const attachedTo = vol.attachment?.instanceId ?? null;
    const r = (await getInstance(pool.db, replacementId))!;
    assert.ok(attachedTo === null || attachedTo === old.providerId || attachedTo === r.providerId, `home attached to ${attachedTo}`);
    homeOn = attachedTo;
    if (r.state === "running" && attachedTo === r.providerId) readyAt = clock.t;
  }
  assert.ok(readyAt, "the replacement became ready with the home");
  const r = (await getInstance(pool.db, replacementId))!;
  assert.equal(homeOn, r.providerId);
  assert.equal(r.availabilityZone, aws.fake.world.volumes.get(homeId)!.zone, "in the home's zone");
  const end = (await getInstance(pool.db, old.id))!;
  assert.ok(["releasing", "terminated", "interrupted"].includes(end.state), end.state);
  // The user's claim now returns the replacement, without a new launch.
  const again = await pool.claim("alice", "spot-warned");
  assert.equal(again.source, "existing");
  assert.equal(again.instance.id, replacementId);

  const kinds = (await listEvents(pool.db, { instanceId: old.id })).map((e) => e.kind);
  assert.ok(kinds.includes("interruption-warning"), kinds.join(","));
  // Billed to alice until it was gone, then the replacement from its launch.
  for (let i = 0; i < 10 && !(await getInstance(pool.db, old.id))!.endedAt; i++) await step();
  const ended = (await getInstance(pool.db, old.id))!;
  const lines = await new Ledger(pool.db, pool.config).lines({ from: 0, to: clock.t }, clock.t, { ownerId: "alice" });
  const oldLine = lines.filter((l) => l.instanceId === old.id);
  assert.ok(oldLine.length > 0, "the interrupted instance is on alice's bill");
  assert.equal(Math.max(...oldLine.map((l) => l.to)), ended.endedAt, "billed to its end");
  process.stdout.write(`# spot warning → replacement ready with the home: ${(readyAt! - warnedAt) / 1000} s simulated (boot ${BOOT_MS / 1000} s, tick ${TICK_MS / 1000} s)\n`);
  await pool.stop();
});

test("a warm spare warned of an interruption gets no replacement and is taken out", async () => {
  const { pool, step } = await simulatedPool({ name: "spot-spare", minFree: 1, ec2: { market: "spot" } });
  let spare = null;
  for (let i = 0; i < 60 && !spare; i++) {
    await step();
    spare = (await pool.db.selectFrom("instances").selectAll().where("purpose", "=", "spot-spare").where("state", "=", "running").executeTakeFirst()) ?? null;
  }
  assert.ok(spare);
  const out = await applyObservation(pool.ctx, { kind: "interruption-warning", providerId: spare.provider_id!, at: pool.ctx.clock.now(), action: "terminate", deadline: pool.ctx.clock.now() + INTERRUPTION_WARNING_MS });
  assert.equal(out.action, "interrupting");
  assert.equal(out.replacementId, undefined);
  await step();
  assert.ok(["releasing", "terminated"].includes((await getInstance(pool.db, spare.id))!.state));
  await pool.stop();
});

test("news of instances that are not ours, or already ended, changes nothing", async () => {
  const { pool } = await simulatedPool({ name: "spot-none", ec2: { market: "spot" } });
  for (const o of [
    { kind: "interruption-warning" as const, providerId: "i-0123456789abcdef0", at: 0, action: "terminate", deadline: 1 },
    { kind: "rebalance-recommendation" as const, providerId: "i-0123456789abcdef0", at: 0 },
  ]) {
    assert.equal((await applyObservation(pool.ctx, o)).action, "none");
  }
  assert.equal((await pool.db.selectFrom("events").selectAll().execute()).length, 0);
  await pool.stop();
});

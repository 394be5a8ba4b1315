/**
 * Reading the spot watcher's notice files through SSM Run Command, with the real SDK client
 * against the wire-format fake: one command for many instances, the offline ones skipped.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NoticeReader } from "../../../backend/providers/ec2/notice-reader";
import { startFakeAws, type FakeAws } from "../../support/aws/fake-aws-server";
import { runningFakeInstance } from "../../support/aws/builders";

describe("notice reader over SSM Run Command", () => {
  let fake: FakeAws;
  before(async () => (fake = await startFakeAws()));
  after(async () => fake?.close());

  it("reads every instance's notice with one command per 50 instances", async () => {
    const ids = Array.from({ length: 53 }, () => runningFakeInstance(fake.world));
    const offline = runningFakeInstance(fake.world, { ssmOnline: false });
    fake.world.notices.set(ids[0]!, JSON.stringify({ kind: "interruption", notice: { action: "terminate", time: "2026-12-01T08:24:00Z" }, seenAt: "2026-12-01T08:22:03Z" }));
    fake.world.notices.set(ids[52]!, JSON.stringify({ kind: "rebalance", notice: { noticeTime: "2026-12-01T08:00:00Z" }, seenAt: "2026-12-01T08:00:04Z" }));
    fake.world.notices.set(ids[7]!, "{half a notice");
    const before = fake.world.callsOf("SendCommand").length;
    const reader = new NoticeReader(fake.clients().ssm, 1, 10_000);
    const found = await reader.read([...ids, offline]);
    assert.equal(fake.world.callsOf("SendCommand").length - before, 2, "54 targets in 2 commands");
    assert.deepEqual(
      found.map((o) => [o.kind, o.providerId]),
      [
        ["interruption-warning", ids[0]],
        ["rebalance-recommendation", ids[52]],
      ],
    );
    const warning = found[0]!;
    assert.equal(warning.kind === "interruption-warning" && warning.deadline, Date.parse("2026-12-01T08:24:00Z"), "EC2's own time, not the watcher's guess");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseInstanceEvent } from "../../../backend/providers/ec2/instance-events";
import { INTERRUPTION_WARNING_MS } from "../../../backend/providers/types";
import { rebalanceRecommendation, spotInterruptionWarning, stateChange, viaSns } from "../../support/aws/ec2-events";

const time = "2026-12-01T08:22:00Z";
const at = Date.parse(time);
const instanceId = "i-1234567890abcdef0";

describe("EC2 instance events from EventBridge", () => {
  it("reads an interruption warning, with the deadline two minutes on", () => {
    const o = parseInstanceEvent(JSON.stringify(spotInterruptionWarning({ instanceId, time, action: "stop" })));
    assert.deepEqual(o, { kind: "interruption-warning", providerId: instanceId, at, action: "stop", deadline: at + INTERRUPTION_WARNING_MS });
  });

  it("reads a rebalance recommendation and a state change", () => {
    assert.deepEqual(parseInstanceEvent(JSON.stringify(rebalanceRecommendation({ instanceId, time }))), { kind: "rebalance-recommendation", providerId: instanceId, at });
    assert.deepEqual(parseInstanceEvent(JSON.stringify(stateChange({ instanceId, time, state: "shutting-down" }))), {
      kind: "state-change",
      providerId: instanceId,
      at,
      state: "shutting-down",
    });
  });

  it("unwraps an SNS notification", () => {
    const o = parseInstanceEvent(JSON.stringify(viaSns(rebalanceRecommendation({ instanceId, time }))));
    assert.equal(o?.kind, "rebalance-recommendation");
  });

  it("refuses what is not an EC2 instance event", () => {
    const good = spotInterruptionWarning({ instanceId, time });
    for (const body of [
      "",
      "not json",
      "[]",
      "null",
      JSON.stringify({ ...good, source: "aws.s3" }),
      JSON.stringify({ ...good, "detail-type": "EC2 Something Else" }),
      JSON.stringify({ ...good, detail: { "instance-id": "i-nope; rm -rf /" } }),
      JSON.stringify({ ...good, detail: null }),
      JSON.stringify({ ...good, time: "yesterday" }),
      JSON.stringify({ ...stateChange({ instanceId, time, state: "running" }), detail: { "instance-id": instanceId } }),
      JSON.stringify({ Type: "Notification", Message: "{" }),
    ]) {
      assert.equal(parseInstanceEvent(body), null, body);
    }
  });
});

/**
 * The events queue reader against SQS in moto (an emulator we did not write), with the event
 * documents EC2 sends through EventBridge.
 */
import assert from "node:assert/strict";
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { after, before, describe, it } from "node:test";
import { SqsInstanceEvents } from "../../../backend/providers/ec2/instance-events";
import type { InstanceObservation } from "../../../backend/providers/types";
import { silentLogger } from "../../../backend/log";
import { rebalanceRecommendation, spotInterruptionWarning, stateChange, viaSns } from "../../support/aws/ec2-events";
import { motoSkip, startMoto, type MotoStack } from "../../support/aws/moto";

const skip = motoSkip();

describe("events queue in moto's SQS", { skip }, () => {
  let moto: MotoStack;
  let sqs: SQSClient;

  before(async () => {
    moto = await startMoto();
    sqs = new SQSClient({ region: "us-east-1", endpoint: moto.motoUrl, credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
  });
  after(async () => {
    sqs?.destroy();
    await moto?.close();
  });

  async function queue(name: string): Promise<string> {
    const q = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    return q.QueueUrl!;
  }
  // The reader hides what it receives for 1 s only, so a message it did not delete shows again soon.
  const readerOptions = { waitSeconds: 0, visibilitySeconds: 1, retrySeconds: 1 };
  // moto 5.2.3 answers GetQueueAttributes in the JSON protocol with a malformed body, so the
  // depth is read by a peek (visibility 0) once the reader's visibility timeout has passed.
  async function depth(url: string): Promise<number> {
    await new Promise((r) => setTimeout(r, 1200));
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
    return out.Messages?.length ?? 0;
  }

  it("hands each EC2 event to the handler once and empties the queue, unreadable ones included", async () => {
    const url = await queue("pool-events");
    const bodies = [
      spotInterruptionWarning({ instanceId: "i-0aaaaaaaaaaaaaaa1" }),
      rebalanceRecommendation({ instanceId: "i-0aaaaaaaaaaaaaaa2" }),
      viaSns(stateChange({ instanceId: "i-0aaaaaaaaaaaaaaa3", state: "terminated" })),
      { hello: "world" },
    ];
    for (const b of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(b) }));
    const seen: InstanceObservation[] = [];
    const reader = new SqsInstanceEvents(sqs, url, silentLogger(), readerOptions);
    const total = { handled: 0, dropped: 0, failed: 0 };
    for (let i = 0; i < 5 && total.handled + total.dropped < 4; i++) {
      const o = await reader.receive(async (obs) => void seen.push(obs));
      total.handled += o.handled;
      total.dropped += o.dropped;
      total.failed += o.failed;
    }
    assert.deepEqual(total, { handled: 3, dropped: 1, failed: 0 });
    assert.deepEqual(seen.map((s) => [s.kind, s.providerId]).sort(), [
      ["interruption-warning", "i-0aaaaaaaaaaaaaaa1"],
      ["rebalance-recommendation", "i-0aaaaaaaaaaaaaaa2"],
      ["state-change", "i-0aaaaaaaaaaaaaaa3"],
    ]);
    assert.equal(await depth(url), 0);
  });

  it("leaves a message whose handler failed, and it comes back", async () => {
    const url = await queue("pool-events-retry");
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(spotInterruptionWarning({ instanceId: "i-0bbbbbbbbbbbbbbb1" })) }));
    const reader = new SqsInstanceEvents(sqs, url, silentLogger(), readerOptions);
    const first = await reader.receive(async () => {
      throw new Error("database away");
    });
    assert.deepEqual(first, { handled: 0, dropped: 0, failed: 1 });
    assert.equal(await depth(url), 1, "still on the queue");
    let again: InstanceObservation | null = null;
    const end = Date.now() + 15_000;
    while (!again && Date.now() < end) {
      await reader.receive(async (o) => void (again = o));
      if (!again) await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal((again as InstanceObservation | null)?.providerId, "i-0bbbbbbbbbbbbbbb1");
    assert.equal(await depth(url), 0);
  });
});

/**
 * EC2's own news about our instances, as EventBridge delivers it to an SQS queue
 * (POOL_EVENTS_QUEUE_URL; deploy/terraform creates the rules and the queue): spot interruption
 * warnings (two minutes before the end), rebalance recommendations (earlier, when the instance
 * is at elevated risk) and state changes. A warning read here reaches the pool seconds after
 * EC2 sends it, where the reconciler would only see the instance gone.
 *
 * SQS delivers at least once and in no particular order, so the handler must be idempotent; a
 * message is deleted only after its handler succeeded (a failed one comes back after the
 * queue's visibility timeout). A message that is not an EC2 instance event is deleted with a
 * warning: kept, it would come back forever.
 */
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "pino";

import { INTERRUPTION_WARNING_MS, type InstanceObservation } from "../types";

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

function record(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/**
 * One observation from an SQS message body: the EventBridge event itself (the usual target
 * set-up), or the same event inside an SNS notification (a queue subscribed to a topic).
 * Returns null for anything else.
 */
export function parseInstanceEvent(body: string): InstanceObservation | null {
  let doc: Record<string, unknown> | null;
  try {
    doc = record(JSON.parse(body));
    if (doc?.Type === "Notification" && typeof doc.Message === "string") doc = record(JSON.parse(doc.Message));
  } catch {
    return null;
  }
  if (!doc || doc.source !== "aws.ec2") return null;
  const detail = record(doc.detail);
  const providerId = detail?.["instance-id"];
  if (typeof providerId !== "string" || !INSTANCE_ID.test(providerId)) return null;
  const at = typeof doc.time === "string" ? Date.parse(doc.time) : NaN;
  if (!Number.isFinite(at)) return null;
  switch (doc["detail-type"]) {
    case "EC2 Spot Instance Interruption Warning": {
      const action = typeof detail!["instance-action"] === "string" ? (detail!["instance-action"] as string) : "terminate";
      return { kind: "interruption-warning", providerId, at, action, deadline: at + INTERRUPTION_WARNING_MS };
    }
    case "EC2 Instance Rebalance Recommendation":
      return { kind: "rebalance-recommendation", providerId, at };
    case "EC2 Instance State-change Notification": {
      const state = detail!.state;
      return typeof state === "string" ? { kind: "state-change", providerId, at, state } : null;
    }
    default:
      return null;
  }
}

export interface ReceiveOutcome {
  handled: number;
  /** Not EC2 instance events: deleted. */
  dropped: number;
  /** The handler failed: left on the queue, to come back. */
  failed: number;
}

export interface SqsInstanceEventsOptions {
  /** Long-poll seconds (0 to 20); the caller runs receive() in its own loop, not in a tick. */
  waitSeconds?: number;
  /** How long a received message stays hidden from other replicas while it is handled. */
  visibilitySeconds?: number;
  /** When a message whose handler failed shows again: soon, the warning gives two minutes. */
  retrySeconds?: number;
}

export class SqsInstanceEvents {
  private readonly waitSeconds: number;
  private readonly visibilitySeconds: number;
  private readonly retrySeconds: number;

  constructor(
    private readonly sqs: Pick<SQSClient, "send">,
    private readonly queueUrl: string,
    private readonly log: Pick<Logger, "warn" | "error">,
    options: SqsInstanceEventsOptions = {},
  ) {
    this.waitSeconds = options.waitSeconds ?? 20;
    this.visibilitySeconds = options.visibilitySeconds ?? 30;
    this.retrySeconds = options.retrySeconds ?? 5;
  }

  /** One receive: up to 10 messages, each handled, the handled and the unreadable deleted. */
  async receive(handle: (o: InstanceObservation) => Promise<void>, signal?: AbortSignal): Promise<ReceiveOutcome> {
    const out = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: this.waitSeconds,
        VisibilityTimeout: this.visibilitySeconds,
      }),
      { abortSignal: signal },
    );
    const done: { Id: string; ReceiptHandle: string }[] = [];
    const retry: { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[] = [];
    const outcome: ReceiveOutcome = { handled: 0, dropped: 0, failed: 0 };
    for (const [i, m] of (out.Messages ?? []).entries()) {
      if (!m.ReceiptHandle) continue;
      const obs = parseInstanceEvent(m.Body ?? "");
      if (!obs) {
        this.log.warn({ messageId: m.MessageId }, "events queue: a message that is not an EC2 instance event was deleted");
        outcome.dropped++;
        done.push({ Id: String(i), ReceiptHandle: m.ReceiptHandle });
        continue;
      }
      try {
        await handle(obs);
        outcome.handled++;
        done.push({ Id: String(i), ReceiptHandle: m.ReceiptHandle });
      } catch (err) {
        outcome.failed++;
        retry.push({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: this.retrySeconds });
        this.log.error({ err, messageId: m.MessageId, observation: obs }, "events queue: handling failed; the message will come back");
      }
    }
    if (done.length) await this.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: done }));
    if (retry.length) await this.sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.queueUrl, Entries: retry }));
    return outcome;
  }
}

/**
 * EventBridge events as EC2 sends them (shapes from the EC2 user guide: "Spot Instance
 * interruption notices", "Rebalance recommendations", "State change events"), built per test.
 */
interface EventOptions {
  instanceId: string;
  time?: string;
  region?: string;
  account?: string;
}

function envelope(detailType: string, detail: Record<string, string>, o: EventOptions) {
  const region = o.region ?? "us-east-1";
  const account = o.account ?? "123456789012";
  return {
    version: "0",
    id: crypto.randomUUID(),
    "detail-type": detailType,
    source: "aws.ec2",
    account,
    time: o.time ?? new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    region,
    resources: [`arn:aws:ec2:${region}:${account}:instance/${o.instanceId}`],
    detail,
  };
}

export function spotInterruptionWarning(o: EventOptions & { action?: "terminate" | "stop" | "hibernate" }) {
  return envelope("EC2 Spot Instance Interruption Warning", { "instance-id": o.instanceId, "instance-action": o.action ?? "terminate" }, o);
}

export function rebalanceRecommendation(o: EventOptions) {
  return envelope("EC2 Instance Rebalance Recommendation", { "instance-id": o.instanceId }, o);
}

export function stateChange(o: EventOptions & { state: "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated" }) {
  return envelope("EC2 Instance State-change Notification", { "instance-id": o.instanceId, state: o.state }, o);
}

/** The same event as an SNS notification delivers it to a subscribed queue. */
export function viaSns(event: object) {
  return { Type: "Notification", MessageId: crypto.randomUUID(), TopicArn: "arn:aws:sns:us-east-1:123456789012:pool-events", Message: JSON.stringify(event) };
}

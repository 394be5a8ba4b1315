/**
 * SSM actions of the fake server, in SSM's JSON 1.1 protocol (X-Amz-Target: AmazonSSM.<Action>,
 * JSON bodies, errors as {"__type": code, "message": ...} with HTTP 400).
 */
import { randomBytes } from "node:crypto";
import type { FakeWorld } from "./fake-world";
import { AwsFault } from "./wire";

export { AwsFault as SsmFault };

type Body = Record<string, unknown>;

function describeInstanceInformation(world: FakeWorld, b: Body): unknown {
  const filters = (b.Filters as Array<{ Key: string; Values: string[] }> | undefined) ?? [];
  const idFilter = filters.find((f) => f.Key === "InstanceIds");
  if (idFilter && idFilter.Values.length > 50) throw new AwsFault("InvalidInstanceInformationFilterValue", "InstanceIds filter takes at most 50 values");
  const rejected = idFilter?.Values.find((id) => world.ssmRejects.has(id));
  if (rejected) throw new AwsFault("InvalidInstanceId", `Instance ${rejected} is not valid for this request.`);
  const list = [...world.instances.values()]
    .filter((i) => (!idFilter || idFilter.Values.includes(i.id)) && (i.ssmOnline || i.state === "running" || i.state === "stopped"))
    .filter((i) => i.state !== "pending")
    .map((i) => ({ InstanceId: i.id, PingStatus: i.ssmOnline ? "Online" : "ConnectionLost", LastPingDateTime: Date.now() / 1000, AgentVersion: "3.3.0.0", PlatformType: "Linux", ResourceType: "EC2Instance" }));
  return { InstanceInformationList: list };
}

/** Commands are kept per (command, instance): one SendCommand may target up to 50 instances. */
export function commandKey(commandId: string, instanceId: string): string {
  return `${commandId}/${instanceId}`;
}

function sendCommand(world: FakeWorld, b: Body): unknown {
  const ids = (b.InstanceIds as string[]) ?? [];
  if (b.DocumentName !== "AWS-RunShellScript") throw new AwsFault("InvalidDocument", `Document ${String(b.DocumentName)} does not exist`);
  if (ids.length < 1 || ids.length > 50) throw new AwsFault("ValidationException", "InstanceIds must name 1 to 50 instances");
  const offline = ids.filter((id) => !world.instances.get(id)?.ssmOnline);
  // The real service accepts a multi-target command and fails the unreachable targets; a
  // single offline target is refused outright.
  if (ids.length === 1 && offline.length) throw new AwsFault("InvalidInstanceId", "Instances [[" + ids[0] + "]] not in a valid state for account 123456789012");
  const commands = ((b.Parameters as Record<string, string[]>)?.commands ?? []) as string[];
  const commandId = randomBytes(16).toString("hex").replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, "$1-$2-$3-$4-$5");
  const cw = b.CloudWatchOutputConfig as { CloudWatchOutputEnabled?: boolean; CloudWatchLogGroupName?: string } | undefined;
  const request = { commandId, parameters: (b.Parameters as Record<string, string[]>) ?? {}, cloudWatchLogGroup: cw?.CloudWatchOutputEnabled ? (cw.CloudWatchLogGroupName ?? `/aws/ssm/${String(b.DocumentName)}`) : null };
  for (const id of ids) {
    const result = offline.includes(id) ? { status: "Undeliverable", stdout: "", stderr: "" } : world.commandHandler(id, commands, world, request);
    world.commands.set(commandKey(commandId, id), { commandId, instanceId: id, commands, status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "", polls: 0, ...("live" in result && result.live ? { live: result.live } : {}) });
  }
  return { Command: { CommandId: commandId, DocumentName: b.DocumentName, InstanceIds: ids, Status: "Pending", Parameters: b.Parameters } };
}

function getCommandInvocation(world: FakeWorld, b: Body): unknown {
  const c = world.commands.get(commandKey(String(b.CommandId), String(b.InstanceId)));
  if (!c) throw new AwsFault("InvocationDoesNotExist", "");
  c.polls++;
  if (c.live) {
    // Right after SendCommand the invocation is often not visible yet.
    if (c.polls === 1) throw new AwsFault("InvocationDoesNotExist", "");
    const status = c.live.status();
    const done = status !== "InProgress" && status !== "Pending";
    return {
      CommandId: c.commandId,
      InstanceId: c.instanceId,
      DocumentName: "AWS-RunShellScript",
      PluginName: "aws:runShellScript",
      Status: status,
      StatusDetails: c.live.statusDetails(),
      ResponseCode: c.live.responseCode(),
      ExecutionEndDateTime: c.live.endedAt(),
      // Filled only once the command has finished: the first 24,000 characters of stdout, 8,000 of stderr.
      StandardOutputContent: done ? c.live.stdout().slice(0, 24_000) : "",
      StandardErrorContent: done ? c.live.stderr().slice(0, 8_000) : "",
    };
  }
  // The first poll sees it still running, like the real service usually does.
  const status = c.polls === 1 ? "InProgress" : c.status;
  return {
    CommandId: c.commandId,
    InstanceId: c.instanceId,
    DocumentName: "AWS-RunShellScript",
    Status: status,
    StatusDetails: status,
    ResponseCode: status === "Success" ? 0 : status === "InProgress" ? -1 : 1,
    StandardOutputContent: status === "InProgress" ? "" : c.stdout,
    StandardErrorContent: status === "InProgress" ? "" : c.stderr,
  };
}

function startSession(world: FakeWorld, b: Body): unknown {
  const target = String(b.Target);
  const inst = world.instances.get(target);
  if (!inst || !inst.ssmOnline) throw new AwsFault("TargetNotConnected", `${target} is not connected.`);
  if (b.DocumentName !== "AWS-StartPortForwardingSession") throw new AwsFault("InvalidDocument", `Document ${String(b.DocumentName)} does not exist`);
  const parameters = (b.Parameters as Record<string, string[]>) ?? {};
  if (world.dataChannel) {
    const port = world.instancePort(target, Number(parameters.portNumber?.[0] ?? 0));
    const s = world.dataChannel.createSession({ target, targetPort: port });
    world.sessions.push({ sessionId: s.sessionId, target, documentName: String(b.DocumentName), parameters, reason: (b.Reason as string) ?? null, status: "Connected" });
    return { SessionId: s.sessionId, StreamUrl: s.streamUrl, TokenValue: s.tokenValue };
  }
  const sessionId = `rstudio-pool-${randomBytes(8).toString("hex")}`;
  world.sessions.push({ sessionId, target, documentName: String(b.DocumentName), parameters, reason: (b.Reason as string) ?? null, status: "Connected" });
  return {
    SessionId: sessionId,
    StreamUrl: `wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/${sessionId}?role=publish_subscribe`,
    TokenValue: `fake-token-${randomBytes(12).toString("hex")}`,
  };
}

function findSession(world: FakeWorld, b: Body) {
  const id = String(b.SessionId ?? "");
  if (!id) throw new AwsFault("ValidationException", "1 validation error detected: Value null at 'sessionId' failed to satisfy constraint: Member must not be null");
  return world.sessions.find((s) => s.sessionId === id) ?? null;
}

function describeSessions(world: FakeWorld, b: Body): unknown {
  const state = String(b.State ?? "");
  if (state !== "Active" && state !== "History") throw new AwsFault("ValidationException", "1 validation error detected: Value at 'state' failed to satisfy constraint: Member must satisfy enum value set: [Active, History]");
  const filters = (b.Filters as Array<{ key: string; value: string }> | undefined) ?? [];
  const byId = filters.find((f) => f.key === "SessionId")?.value;
  const target = filters.find((f) => f.key === "Target")?.value;
  const list = world.sessions
    .filter((s) => (state === "Active" ? s.status !== "Terminated" : s.status === "Terminated"))
    .filter((s) => !byId || s.sessionId === byId)
    .filter((s) => !target || s.target === target)
    .map((s) => ({ SessionId: s.sessionId, Target: s.target, Status: s.status ?? "Connected", DocumentName: s.documentName, Owner: "arn:aws:sts::123456789012:assumed-role/rstudio-pool-backend/session", Reason: s.reason ?? undefined }));
  return { Sessions: list };
}

function resumeSession(world: FakeWorld, b: Body): unknown {
  const s = findSession(world, b);
  if (!s || s.status === "Terminated") throw new AwsFault("DoesNotExistException", `Session ${String(b.SessionId)} does not exist`);
  const r = world.dataChannel?.resume(s.sessionId);
  if (world.dataChannel && !r) throw new AwsFault("DoesNotExistException", `Session ${s.sessionId} does not exist`);
  return r ? { SessionId: r.sessionId, StreamUrl: r.streamUrl, TokenValue: r.tokenValue } : { SessionId: s.sessionId, StreamUrl: `wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/${s.sessionId}?role=publish_subscribe`, TokenValue: `fake-token-${randomBytes(12).toString("hex")}` };
}

function terminateSession(world: FakeWorld, b: Body): unknown {
  const s = findSession(world, b);
  // TerminateSession answers success for an unknown or already ended session.
  if (s) {
    s.status = "Terminated";
    world.dataChannel?.terminate(s.sessionId);
  }
  return { SessionId: String(b.SessionId) };
}

/** CancelCommand: asks the agent to stop the command's invocations (on the given instances, or all). */
function cancelCommand(world: FakeWorld, b: Body): unknown {
  const id = String(b.CommandId ?? "");
  const only = (b.InstanceIds as string[] | undefined) ?? null;
  const found = [...world.commands.values()].filter((c) => c.commandId === id);
  if (!found.length) throw new AwsFault("InvalidCommandId", "");
  for (const c of found) {
    if (only && !only.includes(c.instanceId)) continue;
    if (c.live) c.live.cancel();
    else if (c.status === "InProgress" || c.status === "Pending") c.status = "Cancelled";
  }
  return {};
}

export const SSM_ACTIONS: Record<string, (world: FakeWorld, b: Body) => unknown> = {
  DescribeSessions: describeSessions,
  ResumeSession: resumeSession,
  TerminateSession: terminateSession,
  DescribeInstanceInformation: describeInstanceInformation,
  SendCommand: sendCommand,
  GetCommandInvocation: getCommandInvocation,
  CancelCommand: cancelCommand,
  StartSession: startSession,
};

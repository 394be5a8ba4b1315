/**
 * The in-memory EC2 + SSM world behind the fake AWS server: instances, volumes, tags, images,
 * subnets, spot prices, and switches for what tests need to provoke (no capacity for a type,
 * throttling, injected error codes, agents offline, spot interruptions). Every request the
 * server gets is kept in `calls` with its parsed wire parameters.
 */
import type { QueryValue } from "./wire";

export interface FakeInstance {
  id: string;
  imageId: string;
  type: string;
  state: "pending" | "running" | "shutting-down" | "terminated" | "stopping" | "stopped";
  stateReason: { code: string; message: string } | null;
  lifecycle: "spot" | null;
  zone: string;
  subnetId: string;
  privateDns: string;
  launchTime: Date;
  tags: Record<string, string>;
  clientToken: string;
  /** The RunInstances wire parameters (after parsing). */
  request: Record<string, QueryValue>;
  ssmOnline: boolean;
}

export interface FakeVolume {
  id: string;
  zone: string;
  size: number;
  type: string;
  encrypted: boolean;
  kmsKeyId: string | null;
  tags: Record<string, string>;
  state: "creating" | "available" | "in-use" | "deleted";
  attachment: { instanceId: string; device: string; state: "attaching" | "attached" | "detaching" } | null;
  deleteOnTermination: boolean;
  clientToken: string | null;
  createTime: Date;
  /** A stand-in for the files on it (copied by snapshots), and the snapshot it was made from. */
  data?: string | null;
  fromSnapshot?: string;
}

export interface FakeSnapshot {
  id: string;
  volumeId: string;
  size: number;
  state: "pending" | "completed";
  tags: Record<string, string>;
  encrypted: boolean;
  data: string | null;
}

/** Decides whether a call is allowed (an IAM policy in tests): null, or the denial message. */
export type Authorizer = (service: "ec2" | "ssm" | "logs", action: string, params: Record<string, unknown>, world: FakeWorld) => string | null;

export interface FakeCall {
  service: "ec2" | "ssm" | "logs";
  action: string;
  params: Record<string, unknown>;
  at: number;
  /** The error code answered, if any. */
  error?: string;
}

export interface FakeCommand {
  commandId: string;
  instanceId: string;
  commands: string[];
  status: string;
  stdout: string;
  stderr: string;
  polls: number;
  /** A command that runs for real (test/support/aws/ssm-live-commands.ts): its state is read from it on every poll. */
  live?: LiveCommand;
}

/** A Run Command invocation in progress on the fake instance: status, output and cancel as the agent reports them. */
export interface LiveCommand {
  status(): string;
  statusDetails(): string;
  responseCode(): number;
  stdout(): string;
  stderr(): string;
  /** ISO time the script ended, or "" while it runs. */
  endedAt(): string;
  cancel(): void;
}

/** The CloudWatch Logs the fake serves (GetLogEvents): group -> stream -> events. */
export interface FakeLogEvent {
  timestamp: number;
  message: string;
  ingestionTime: number;
}

export interface FakeSession {
  sessionId: string;
  target: string;
  documentName: string;
  parameters: Record<string, string[]>;
  reason: string | null;
  /** "Connected" until TerminateSession (then "Terminated"). */
  status?: string;
}

/**
 * Where StartSession's data channel lives when a test runs the fake gateway
 * (test/support/ssm/fake-gateway.ts): the session is created there and its ws:// URL returned.
 */
export interface FakeDataChannelHost {
  createSession(opts: { target: string; targetPort: number; sessionId?: string }): { sessionId: string; streamUrl: string; tokenValue: string };
  resume(sessionId: string): { sessionId: string; streamUrl: string; tokenValue: string } | null;
  terminate(sessionId: string): boolean;
}

export type CommandHandler = (
  instanceId: string,
  commands: string[],
  world: FakeWorld,
  /** The whole SendCommand request (executionTimeout, CloudWatchOutputConfig, …). */
  request?: { commandId: string; parameters: Record<string, string[]>; cloudWatchLogGroup: string | null },
) => { status: string; stdout?: string; stderr?: string; live?: LiveCommand };

let seq = 0;
const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

export class FakeWorld {
  readonly instances = new Map<string, FakeInstance>();
  readonly volumes = new Map<string, FakeVolume>();
  readonly snapshots = new Map<string, FakeSnapshot>();
  /** When set, every call is checked before it runs; a denial answers UnauthorizedOperation / AccessDeniedException. */
  authorize: Authorizer | null = null;
  readonly commands = new Map<string, FakeCommand>();
  /** CloudWatch Logs (group -> stream -> events), what GetLogEvents reads. */
  readonly logGroups = new Map<string, Map<string, FakeLogEvent[]>>();
  readonly sessions: FakeSession[] = [];
  readonly calls: FakeCall[] = [];
  images: Array<{ id: string; name: string; created: string; tags: Record<string, string>; rootDevice: string; owner: string; architecture: string }> = [
    { id: "ami-0aaaaaaaaaaaaaaa1", name: "rstudio-2026-11-09", created: "2026-11-09T03:00:00.000Z", tags: { Role: "rstudio" }, rootDevice: "/dev/xvda", owner: "self", architecture: "x86_64" },
    { id: "ami-0aaaaaaaaaaaaaaa2", name: "rstudio-2026-11-16", created: "2026-11-16T03:00:00.000Z", tags: { Role: "rstudio" }, rootDevice: "/dev/xvda", owner: "self", architecture: "x86_64" },
  ];
  subnets: Record<string, string> = { "subnet-0a1": "us-east-1a", "subnet-0b2": "us-east-1b" };
  /** The default VPC's default subnets (DescribeSubnets default-for-az). */
  defaultSubnets: string[] = ["subnet-0a1", "subnet-0b2"];
  hasDefaultVpc = true;
  /** Instance types that are not x86_64 (RunInstances refuses them with an x86 image). */
  typeArchitectures: Record<string, string> = { "m7g.large": "arm64", "t4g.large": "arm64" };
  /** Instance ids SSM refuses in a DescribeInstanceInformation filter (the whole call fails). */
  readonly ssmRejects = new Set<string>();
  /** Home volumes mounted per instance (what `rstudio-pool-home mount` did), and RStudio not answering. */
  readonly mounted = new Map<string, string>();
  readonly rstudioDown = new Set<string>();
  readonly mountFails = new Set<string>();
  spotPrices: Record<string, number> = { "t3.large": 0.0301, "m5.large": 0.0352 };
  /** "type" or "type/spot" or "type/on-demand": RunInstances answers InsufficientInstanceCapacity. */
  readonly noCapacity = new Set<string>();
  /** Error codes answered to the next calls of an action (FIFO), e.g. {RunInstances: ["RequestLimitExceeded"]}. */
  readonly failNext = new Map<string, string[]>();
  /** When set, RunInstances runs its own token bucket like EC2's and answers RequestLimitExceeded past it. */
  runInstancesBucket: { capacity: number; refillPerSecond: number; tokens: number; last: number } | null = null;
  /** New instances come up running (with their agent online) after this many describes; 0 = at once. */
  bootDescribes = 0;
  /** When set, new instances also need this long (by `now`) before they run: a boot time. */
  bootMs = 0;
  /** The world's clock (tests that simulate time set it to the pool's). */
  now: () => number = () => Date.now();
  agentsOnlineOnBoot = true;
  private readonly describesSeen = new Map<string, number>();
  /** Busy-check answers per instance: {load, cpus, rsession}. */
  readonly loads = new Map<string, { load: number; cpus: number; rsession: number }>();
  /** What the spot watcher wrote to each instance's notice file (spot-watcher.sh). */
  readonly notices = new Map<string, string>();
  commandHandler: CommandHandler = defaultCommandHandler;
  /** The fake gateway, when a test runs one; without it StartSession returns a wss:// URL nobody serves. */
  dataChannel: FakeDataChannelHost | null = null;
  /** The port the gateway's agent dials on the "instance" for a target (default: portNumber). */
  instancePort: (target: string, portNumber: number) => number = (_t, p) => p;

  /** Appends events to a stream (created with its group as needed), as an agent or awslogs driver would. */
  putLogEvents(group: string, stream: string, messages: string[]): void {
    const streams = this.logGroups.get(group) ?? new Map<string, FakeLogEvent[]>();
    this.logGroups.set(group, streams);
    const events = streams.get(stream) ?? [];
    streams.set(stream, events);
    const at = Date.now();
    for (const message of messages) events.push({ timestamp: at, message, ingestionTime: at });
  }

  record(call: FakeCall): void {
    this.calls.push(call);
  }

  callsOf(action: string): FakeCall[] {
    return this.calls.filter((c) => c.action === action);
  }

  takeInjectedError(action: string): string | null {
    const q = this.failNext.get(action);
    if (!q || q.length === 0) return null;
    return q.shift()!;
  }

  /** EC2's RunInstances budget; true when the call may go through. */
  takeRunInstancesToken(now: number): boolean {
    const b = this.runInstancesBucket;
    if (!b) return true;
    b.tokens = Math.min(b.capacity, b.tokens + ((now - b.last) / 1000) * b.refillPerSecond);
    b.last = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    return false;
  }

  newInstanceId(): string {
    return `i-${hex(++seq, 17)}`;
  }

  newVolumeId(): string {
    return `vol-${hex(++seq, 17)}`;
  }

  /** Moves pending instances on; called on each DescribeInstances. */
  advance(): void {
    for (const inst of this.instances.values()) {
      if (inst.state === "pending") {
        const n = (this.describesSeen.get(inst.id) ?? 0) + 1;
        this.describesSeen.set(inst.id, n);
        if (n > this.bootDescribes && this.now() - inst.launchTime.getTime() >= this.bootMs) {
          inst.state = "running";
          if (this.agentsOnlineOnBoot) inst.ssmOnline = true;
        }
      }
      if (inst.state === "shutting-down") this.finishTermination(inst);
    }
    for (const v of this.volumes.values()) {
      if (v.state === "creating") v.state = "available";
      if (v.attachment?.state === "attaching") v.attachment.state = "attached";
      if (v.attachment?.state === "detaching") {
        v.attachment = null;
        v.state = "available";
      }
    }
  }

  terminate(id: string, reason: { code: string; message: string }): void {
    const inst = this.instances.get(id);
    if (!inst || inst.state === "terminated") return;
    inst.state = "shutting-down";
    inst.stateReason = reason;
    inst.ssmOnline = false;
  }

  private finishTermination(inst: FakeInstance): void {
    inst.state = "terminated";
    for (const v of this.volumes.values()) {
      if (v.attachment?.instanceId !== inst.id) continue;
      if (v.deleteOnTermination) v.state = "deleted";
      else v.state = "available";
      v.attachment = null;
    }
  }

  /** Spot takes the instance back (it is gone at once, as after the two-minute warning). */
  interruptSpot(id: string): void {
    this.terminate(id, { code: "Server.SpotInstanceTermination", message: "Server.SpotInstanceTermination: Spot instance termination" });
    this.finishTermination(this.instances.get(id)!);
  }

  volumesOf(instanceId: string): FakeVolume[] {
    return [...this.volumes.values()].filter((v) => v.attachment?.instanceId === instanceId);
  }

  liveInstances(): FakeInstance[] {
    return [...this.instances.values()].filter((i) => i.state !== "terminated");
  }
}

/** What `rstudio-pool-home check` prints on this instance. */
function checkLine(instanceId: string, world: FakeWorld, failed: string | null): string {
  if (failed) return `rstudio-pool-failed: ${failed}`;
  const inst = world.instances.get(instanceId);
  const waitsForHome = /^WAIT_FOR_HOME='1'$/m.test(Buffer.from(String(inst?.request.UserData ?? ""), "base64").toString());
  const home = world.mounted.get(instanceId);
  if (waitsForHome && !home) return "rstudio-pool-waiting-for-home";
  if (world.rstudioDown.has(instanceId)) return "rstudio-pool-starting";
  return `rstudio-pool-ready home=${home ?? "none"}`;
}

export const defaultCommandHandler: CommandHandler = (instanceId, commands, world) => {
  const script = commands.join("\n");
  const mount = /rstudio-pool-home mount (vol-[0-9a-f]+)/.exec(script);
  if (mount) {
    const v = world.volumes.get(mount[1]!);
    let failed: string | null = null;
    if (world.mountFails.has(mount[1]!) || !(v?.attachment?.instanceId === instanceId && v.attachment.state === "attached")) failed = `home volume ${mount[1]} did not appear`;
    else world.mounted.set(instanceId, v.id);
    return { status: "Success", stdout: `${checkLine(instanceId, world, failed)}\n` };
  }
  if (/rstudio-pool-home check/.test(script)) return { status: "Success", stdout: `${checkLine(instanceId, world, null)}\n` };
  if (/rstudio-pool-home unmount/.test(script)) {
    world.mounted.delete(instanceId);
    return { status: "Success", stdout: "unmounted\n" };
  }
  if (/notice\.json/.test(script)) return { status: "Success", stdout: world.notices.get(instanceId) ?? "" };
  if (/loadavg/.test(script)) {
    const l = world.loads.get(instanceId) ?? { load: 0.05, cpus: 2, rsession: 0 };
    return { status: "Success", stdout: `load=${l.load} cpus=${l.cpus} rsession=${l.rsession}\n` };
  }
  return { status: "Failed", stderr: "unknown script\n" };
};

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
}

export interface FakeSnapshot {
  id: string;
  volumeId: string;
  size: number;
  state: "pending" | "completed";
  tags: Record<string, string>;
  encrypted: boolean;
}

/** Decides whether a call is allowed (an IAM policy in tests): null, or the denial message. */
export type Authorizer = (service: "ec2" | "ssm", action: string, params: Record<string, unknown>, world: FakeWorld) => string | null;

export interface FakeCall {
  service: "ec2" | "ssm";
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
}

export interface FakeSession {
  sessionId: string;
  target: string;
  documentName: string;
  parameters: Record<string, string[]>;
  reason: string | null;
}

export type CommandHandler = (instanceId: string, commands: string[], world: FakeWorld) => { status: string; stdout?: string; stderr?: string };

let seq = 0;
const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

export class FakeWorld {
  readonly instances = new Map<string, FakeInstance>();
  readonly volumes = new Map<string, FakeVolume>();
  readonly snapshots = new Map<string, FakeSnapshot>();
  /** When set, every call is checked before it runs; a denial answers UnauthorizedOperation / AccessDeniedException. */
  authorize: Authorizer | null = null;
  readonly commands = new Map<string, FakeCommand>();
  readonly sessions: FakeSession[] = [];
  readonly calls: FakeCall[] = [];
  images: Array<{ id: string; name: string; created: string; tags: Record<string, string>; rootDevice: string; owner: string }> = [
    { id: "ami-0aaaaaaaaaaaaaaa1", name: "rstudio-2026-11-09", created: "2026-11-09T03:00:00.000Z", tags: { Role: "rstudio" }, rootDevice: "/dev/xvda", owner: "self" },
    { id: "ami-0aaaaaaaaaaaaaaa2", name: "rstudio-2026-11-16", created: "2026-11-16T03:00:00.000Z", tags: { Role: "rstudio" }, rootDevice: "/dev/xvda", owner: "self" },
  ];
  subnets: Record<string, string> = { "subnet-0a1": "us-east-1a", "subnet-0b2": "us-east-1b" };
  spotPrices: Record<string, number> = { "t3.large": 0.0301, "m5.large": 0.0352 };
  /** "type" or "type/spot" or "type/on-demand": RunInstances answers InsufficientInstanceCapacity. */
  readonly noCapacity = new Set<string>();
  /** Error codes answered to the next calls of an action (FIFO), e.g. {RunInstances: ["RequestLimitExceeded"]}. */
  readonly failNext = new Map<string, string[]>();
  /** When set, RunInstances runs its own token bucket like EC2's and answers RequestLimitExceeded past it. */
  runInstancesBucket: { capacity: number; refillPerSecond: number; tokens: number; last: number } | null = null;
  /** New instances come up running (with their agent online) after this many describes; 0 = at once. */
  bootDescribes = 0;
  agentsOnlineOnBoot = true;
  private readonly describesSeen = new Map<string, number>();
  /** Busy-check answers per instance: {load, cpus, rsession}. */
  readonly loads = new Map<string, { load: number; cpus: number; rsession: number }>();
  commandHandler: CommandHandler = defaultCommandHandler;

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
        if (n > this.bootDescribes) {
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

export const defaultCommandHandler: CommandHandler = (instanceId, commands, world) => {
  const script = commands.join("\n");
  const mount = /rstudio-pool-home mount (vol-[0-9a-f]+)/.exec(script);
  if (mount) {
    const v = world.volumes.get(mount[1]!);
    if (v?.attachment?.instanceId === instanceId && v.attachment.state === "attached") return { status: "Success", stdout: `mounted ${v.id}\n` };
    return { status: "Failed", stderr: `home volume ${mount[1]} did not appear\n` };
  }
  if (/rstudio-pool-home unmount/.test(script)) return { status: "Success", stdout: "unmounted\n" };
  if (/loadavg/.test(script)) {
    const l = world.loads.get(instanceId) ?? { load: 0.05, cpus: 2, rsession: 0 };
    return { status: "Success", stdout: `load=${l.load} cpus=${l.cpus} rsession=${l.rsession}\n` };
  }
  return { status: "Failed", stderr: "unknown script\n" };
};

/**
 * A provider that boots instantly and lives in memory, for pool tests and benchmarks that
 * measure the service itself. Knobs let a test make launches fail, instances vanish or be
 * interrupted, and instances report themselves busy. It records every launch by token, so
 * a test can prove a restart never launched twice.
 */
import type { ConnectionResponse } from "../../contract";
import type { PurposeConfig } from "../../backend/config/schema";
import { PoolError } from "../../backend/errors";
import type { InstanceRef, LaunchRequest, LaunchResult, Provider, ProviderInstance } from "../../backend/providers/types";

interface FakeInstance {
  providerId: string;
  instanceId: string;
  purpose: string;
  poolName: string;
  state: ProviderInstance["state"];
  ready: boolean;
  interrupted: boolean;
  stateReason: string | null;
  ownerId: string | null;
  launchedAt: number;
  zone: string;
}

export class InstantProvider implements Provider {
  readonly kind = "instant";
  readonly instances = new Map<string, FakeInstance>();
  readonly launchCalls: string[] = [];
  /** Every describe() call, with the ids asked about. */
  readonly describeCalls: string[][] = [];
  readonly terminated: string[] = [];
  readonly assigned: Array<{ instanceId: string; userId: string }> = [];
  /** Instances need this many describe() calls before they are ready (0: ready at once). */
  bootPolls = 0;
  private polls = new Map<string, number>();
  failNextLaunches: Array<PoolError | Error> = [];
  busy = new Set<string>();
  /** Zones new instances are placed in, in turn. */
  zones = ["us-east-1a"];
  /** Where each user's home is (what preferredZones answers). */
  homeZones = new Map<string, string[]>();
  /** Launches happen but answer only when the test says so (a launch "in flight"). */
  holdLaunches = false;
  private held: Array<() => void> = [];
  private seq = 0;

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    this.launchCalls.push(req.instanceId);
    const fail = this.failNextLaunches.shift();
    if (fail) throw fail;
    const existing = [...this.instances.values()].find((i) => i.instanceId === req.instanceId);
    if (existing) return this.result(existing, req.purpose);
    const inst: FakeInstance = {
      providerId: `i-${(++this.seq).toString(16).padStart(17, "0")}`,
      instanceId: req.instanceId,
      purpose: req.purpose.name,
      poolName: req.poolName,
      state: "running",
      ready: this.bootPolls === 0,
      interrupted: false,
      stateReason: null,
      ownerId: req.ownerId,
      launchedAt: Date.now(),
      zone: this.zones[this.seq % this.zones.length]!,
    };
    this.instances.set(inst.providerId, inst);
    // Held: the provider has launched, but its answer has not come back (yet).
    if (this.holdLaunches) await new Promise<void>((resolve) => this.held.push(resolve));
    return this.result(inst, req.purpose);
  }

  releaseHeldLaunches(): void {
    const held = this.held;
    this.held = [];
    for (const r of held) r();
  }

  private result(i: FakeInstance, purpose: PurposeConfig): LaunchResult {
    return { providerId: i.providerId, instanceType: "t3.large", market: "on-demand", availabilityZone: i.zone, hourlyPrice: purpose.hourlyPrice ?? 0.0832 };
  }

  private view(i: FakeInstance): ProviderInstance {
    return {
      providerId: i.providerId,
      instanceId: i.instanceId,
      poolName: i.poolName,
      purpose: i.purpose,
      state: i.state,
      ready: i.ready && i.state === "running",
      stateReason: i.stateReason,
      interrupted: i.interrupted,
      privateDnsName: `ip-10-0-0-${i.providerId.slice(-2)}.ec2.internal`,
      instanceType: "t3.large",
      market: "on-demand",
      availabilityZone: i.zone,
      launchedAt: i.launchedAt,
    };
  }

  async list(poolName: string): Promise<ProviderInstance[]> {
    return [...this.instances.values()].filter((i) => i.poolName === poolName).map((i) => this.view(i));
  }

  async listEveryPool(): Promise<ProviderInstance[]> {
    return [...this.instances.values()].map((i) => this.view(i));
  }

  /** The fake instance behind a pool id (to move it between pool names, say). */
  fake(instanceId: string): FakeInstance | undefined {
    return [...this.instances.values()].find((i) => i.instanceId === instanceId);
  }

  async describe(ids: string[]): Promise<ProviderInstance[]> {
    this.describeCalls.push([...ids]);
    const out: ProviderInstance[] = [];
    for (const id of ids) {
      const i = this.instances.get(id);
      if (!i) continue;
      const n = (this.polls.get(id) ?? 0) + 1;
      this.polls.set(id, n);
      if (n >= this.bootPolls) i.ready = true;
      out.push(this.view(i));
    }
    return out;
  }

  async terminate(refs: InstanceRef[]): Promise<void> {
    for (const r of refs) {
      const i = r.providerId ? this.instances.get(r.providerId) : undefined;
      if (i && i.state !== "terminated") {
        i.state = "terminated";
        this.terminated.push(i.instanceId);
      }
    }
  }

  async assign(ref: InstanceRef, userId: string): Promise<void> {
    this.assigned.push({ instanceId: ref.id, userId });
  }

  async release(): Promise<void> {}

  async connect(ref: InstanceRef): Promise<ConnectionResponse> {
    return { kind: "direct", host: "127.0.0.1", port: 8787, path: `/${ref.id}/` };
  }

  async isBusy(ref: InstanceRef): Promise<boolean> {
    return this.busy.has(ref.id);
  }

  async preferredZones(userId: string): Promise<string[]> {
    return this.homeZones.get(userId) ?? [];
  }

  async priceOf(purpose: PurposeConfig): Promise<number | null> {
    return purpose.hourlyPrice ?? 0.0832;
  }

  async close(): Promise<void> {}

  /** The instance disappears from the provider (someone deleted it). */
  vanish(instanceId: string): void {
    for (const [k, v] of this.instances) if (v.instanceId === instanceId) this.instances.delete(k);
  }

  /** The provider takes the instance back (spot interruption). */
  interrupt(instanceId: string): void {
    for (const v of this.instances.values()) {
      if (v.instanceId === instanceId) {
        v.state = "terminated";
        v.interrupted = true;
        v.stateReason = "Server.SpotInstanceTermination";
      }
    }
  }

  /** An instance carrying the pool's tag that the database does not know. */
  addStranger(poolName: string, purpose: string, instanceId = "rsp-00000000000000ff"): string {
    const providerId = `i-${(++this.seq).toString(16).padStart(17, "0")}`;
    this.instances.set(providerId, { providerId, instanceId, purpose, poolName, state: "running", ready: true, interrupted: false, stateReason: null, ownerId: null, launchedAt: Date.now(), zone: this.zones[0]! });
    return providerId;
  }
}

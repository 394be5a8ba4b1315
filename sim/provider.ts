/**
 * A simulated compute provider for the simulator: launches are accepted at once and become
 * ready one boot time later on the simulated clock; prices are fixed per hour. It keeps only
 * instances that are not terminated, like a provider's listing of a pool.
 */
import type { ConnectionResponse } from "../contract";
import type { Clock } from "../backend/pool/context";
import type { InstanceRef, LaunchRequest, LaunchResult, Provider, ProviderInstance } from "../backend/providers/types";

interface SimInstance {
  providerId: string;
  instanceId: string;
  purpose: string;
  launchedAt: number;
  readyAt: number;
}

export interface SimProviderOptions {
  clock: Clock;
  bootMs: number;
  hourlyPrice: number;
  poolName: string;
  /** Told when a launched instance will be ready, so the simulator ticks then. */
  onLaunch?: (readyAt: number) => void;
}

export class SimProvider implements Provider {
  readonly kind = "sim";
  private readonly live = new Map<string, SimInstance>();
  private readonly byInstanceId = new Map<string, string>();
  private next = 0;

  constructor(private readonly o: SimProviderOptions) {}

  private view(i: SimInstance): ProviderInstance {
    const ready = this.o.clock.now() >= i.readyAt;
    return {
      providerId: i.providerId,
      instanceId: i.instanceId,
      poolName: this.o.poolName,
      purpose: i.purpose,
      state: ready ? "running" : "pending",
      ready,
      stateReason: null,
      interrupted: false,
      privateDnsName: null,
      instanceType: "sim.large",
      market: "on-demand",
      availabilityZone: "sim-1a",
      launchedAt: i.launchedAt,
    };
  }

  async launch(request: LaunchRequest): Promise<LaunchResult> {
    let providerId = this.byInstanceId.get(request.instanceId);
    if (!providerId) {
      const now = this.o.clock.now();
      providerId = `sim-${++this.next}`;
      const inst = { providerId, instanceId: request.instanceId, purpose: request.purpose.name, launchedAt: now, readyAt: now + this.o.bootMs };
      this.live.set(providerId, inst);
      this.byInstanceId.set(request.instanceId, providerId);
      this.o.onLaunch?.(inst.readyAt);
    }
    return { providerId, instanceType: "sim.large", market: "on-demand", availabilityZone: "sim-1a", hourlyPrice: this.o.hourlyPrice };
  }

  async list(): Promise<ProviderInstance[]> {
    return [...this.live.values()].map((i) => this.view(i));
  }

  async describe(providerIds: string[]): Promise<ProviderInstance[]> {
    return providerIds.flatMap((id) => {
      const i = this.live.get(id);
      return i ? [this.view(i)] : [];
    });
  }

  async terminate(refs: InstanceRef[]): Promise<void> {
    for (const r of refs) {
      if (!r.providerId) continue;
      const i = this.live.get(r.providerId);
      if (i) this.byInstanceId.delete(i.instanceId);
      this.live.delete(r.providerId);
    }
  }

  async assign(): Promise<void> {}
  async release(): Promise<void> {}

  async connect(): Promise<ConnectionResponse> {
    throw new Error("the simulated provider has no connections");
  }

  async isBusy(): Promise<boolean> {
    return false;
  }

  async priceOf(): Promise<number | null> {
    return this.o.hourlyPrice;
  }

  async close(): Promise<void> {}
}

/**
 * Claiming RStudio, stage by stage: ask the backend for an instance, wait while it launches and
 * boots (polling its state), open the tunnel, and report "RStudio ready" once it answers
 * through the tunnel. A cancel stops waiting and is not an error: the instance stays claimed
 * (it shows in the tree; unused, the idle reaper takes it).
 */
import type { AppName, ClaimResponse, InstanceView } from "../../contract";
import { appToOpen } from "./apps";
import type { BackendClient } from "./backend-client";
import { sleep, type Clock, type Log } from "./emitter";
import { CancelledError, ExtensionError, isCancel, throwIfCancelled } from "./errors";
import { TunnelOpenError } from "./tunnel-failure";
import { isEnded } from "./instance-tree-model";

export type ClaimStage = "waiting" | "booting" | "tunnel" | "ready";

export const STAGE_TITLES: Record<ClaimStage, string> = {
  waiting: "Waiting for an instance",
  booting: "Booting",
  tunnel: "Opening the tunnel",
  ready: "RStudio ready",
};

export interface OpenedTunnel {
  localPort: number;
}

export interface ClaimFlowDeps {
  client: Pick<BackendClient, "claim" | "instance">;
  /** Opens (or reuses) the tunnel to a running instance's app and resolves once it answers through it. */
  openTunnel: (instance: InstanceView, signal: AbortSignal, app: AppName) => Promise<OpenedTunnel>;
  clock: Clock;
  log: Log;
  pollMs?: number;
  /** Give up waiting for a running instance after this long. */
  timeoutMs?: number;
}

export type ClaimOutcome =
  | { kind: "ready"; instance: InstanceView; source: ClaimResponse["source"]; localPort: number; app: AppName }
  | { kind: "cancelled"; instance: InstanceView | null };

export class ClaimFlow {
  constructor(private readonly d: ClaimFlowDeps) {}

  /** Claims an instance of the purpose and opens `app` on it (the instance's main app when it does not serve that one). */
  async run(purpose: string | undefined, onStage: (stage: ClaimStage, instance: InstanceView | null) => void, signal: AbortSignal, app?: AppName): Promise<ClaimOutcome> {
    let instance: InstanceView | null = null;
    try {
      onStage("waiting", null);
      const claimed = await this.d.client.claim(purpose, signal);
      instance = claimed.instance;
      this.d.log.info(`claimed ${instance.instanceId} (${instance.purpose}, ${claimed.source}, ${instance.state})`);
      instance = await this.untilRunning(instance, onStage, signal);
      onStage("tunnel", instance);
      const running = instance;
      const opened = appToOpen(instance, app);
      const tunnel = await this.d.openTunnel(instance, signal, opened).catch((err: unknown) => {
        // The claim worked; only the connection failed. Say so (the instance is billing).
        throw isCancel(err) ? err : new TunnelOpenError(running, err);
      });
      throwIfCancelled(signal);
      onStage("ready", instance);
      return { kind: "ready", instance, source: claimed.source, localPort: tunnel.localPort, app: opened };
    } catch (err) {
      if (isCancel(err) || signal.aborted) {
        this.d.log.info(`claim cancelled${instance ? ` while ${instance.instanceId} was ${instance.state}` : ""}`);
        return { kind: "cancelled", instance };
      }
      throw err;
    }
  }

  private async untilRunning(first: InstanceView, onStage: (s: ClaimStage, i: InstanceView) => void, signal: AbortSignal): Promise<InstanceView> {
    const deadline = this.d.clock.now() + (this.d.timeoutMs ?? 20 * 60_000);
    let inst = first;
    let last: ClaimStage = "waiting"; // run() reported it before claiming
    for (;;) {
      if (inst.state === "running") return inst;
      if (isEnded(inst)) {
        throw new ExtensionError("INSTANCE_ENDED", `instance ${inst.instanceId} is ${inst.state}${inst.stateReason ? ` (${inst.stateReason})` : ""}`);
      }
      const stage: ClaimStage = inst.state === "booting" ? "booting" : "waiting";
      if (stage !== last) onStage(stage, inst);
      last = stage;
      if (this.d.clock.now() >= deadline) {
        throw new ExtensionError("TIMEOUT", `instance ${inst.instanceId} was still ${inst.state} after ${Math.round((this.d.timeoutMs ?? 20 * 60_000) / 60_000)} minutes`);
      }
      await sleep(this.d.clock, this.d.pollMs ?? 2000, signal).catch((e) => {
        throw isCancel(e) ? new CancelledError() : e;
      });
      inst = await this.d.client.instance(inst.instanceId, signal);
    }
  }
}

/**
 * The readiness check on the instance itself, without blocking a tick: the first call sends
 * `rstudio-pool-home check` (or, for a user's instance, `mount VOL` then `check`) through Run
 * Command, later calls read its result. The script answers one line:
 * "rstudio-pool-ready home=<vol|none>", "rstudio-pool-failed: <reason>", or a waiting state.
 * Level-based: after a restart the command is simply sent again (mount is idempotent).
 */
import type { SsmOps } from "./ssm";

export const HOME_HELPER = "/usr/local/sbin/rstudio-pool-home";

export type Readiness = { kind: "ready" } | { kind: "pending"; detail: string } | { kind: "failed"; reason: string };

export function probeCommands(homeVolumeId: string | null): string[] {
  return homeVolumeId ? [`${HOME_HELPER} mount ${homeVolumeId} || true`, `${HOME_HELPER} check`] : [`${HOME_HELPER} check`];
}

/** Reads the check's line; `expectHome` is the volume that must be the one mounted. */
export function parseProbe(stdout: string, expectHome: string | null): Readiness {
  const line = stdout.split("\n").reverse().find((l) => l.startsWith("rstudio-pool-"))?.trim();
  if (!line) return { kind: "pending", detail: "no answer from the bootstrap yet" };
  const failed = /^rstudio-pool-failed: (.*)$/.exec(line);
  if (failed) return { kind: "failed", reason: failed[1]! };
  const ready = /^rstudio-pool-ready home=(\S+)$/.exec(line);
  if (ready) {
    if (expectHome && ready[1] !== expectHome) return { kind: "pending", detail: `home ${ready[1]} mounted, expected ${expectHome}` };
    return { kind: "ready" };
  }
  return { kind: "pending", detail: line.replace(/^rstudio-pool-/, "") };
}

export class ReadinessProbe {
  private readonly inFlight = new Map<string, { commandId: string; home: string | null; sentAt: number }>();
  private readonly ready = new Set<string>();
  /** When a check last answered "not yet": the next is sent only after recheckMs (Run Command has its own rate limits). */
  private readonly notYetAt = new Map<string, number>();

  constructor(
    private readonly ssm: SsmOps,
    private readonly now: () => number = Date.now,
    /** A command that has not finished after this long is sent again. */
    private readonly resendAfterMs = 10 * 60_000,
    private readonly recheckMs = 5_000,
  ) {}

  isKnownReady(instanceId: string): boolean {
    return this.ready.has(instanceId);
  }

  forget(instanceId: string): void {
    this.inFlight.delete(instanceId);
    this.ready.delete(instanceId);
    this.notYetAt.delete(instanceId);
  }

  async check(instanceId: string, homeVolumeId: string | null): Promise<Readiness> {
    if (this.ready.has(instanceId)) return { kind: "ready" };
    const sent = this.inFlight.get(instanceId);
    if (!sent || sent.home !== homeVolumeId || this.now() - sent.sentAt > this.resendAfterMs) {
      const last = this.notYetAt.get(instanceId);
      if (sent === undefined && last !== undefined && this.now() - last < this.recheckMs) return { kind: "pending", detail: "checked a moment ago" };
      const commandId = await this.ssm.sendShell(instanceId, probeCommands(homeVolumeId), { timeoutSeconds: 420, comment: homeVolumeId ? `rstudio-pool: mount ${homeVolumeId} and check` : "rstudio-pool: readiness check" });
      this.inFlight.set(instanceId, { commandId, home: homeVolumeId, sentAt: this.now() });
      return { kind: "pending", detail: "check sent" };
    }
    const res = await this.ssm.invocation(sent.commandId, instanceId);
    if (!res) return { kind: "pending", detail: "check running" };
    this.inFlight.delete(instanceId);
    const r = parseProbe(res.stdout, homeVolumeId);
    if (r.kind === "ready") this.ready.add(instanceId);
    else this.notYetAt.set(instanceId, this.now());
    return r;
  }
}

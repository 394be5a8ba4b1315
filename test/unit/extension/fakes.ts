/** Test doubles for the extension's plain classes: a fake clock, typed builders, a recording log. */
import type { CostsResponse, InstanceView, SsmConnection } from "../../../contract";
import type { Clock, Log } from "../../../extension/core/emitter";

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.parse("2026-11-23T10:00:00Z")) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing due timers in order (and letting promises settle between them). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const next = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await flush();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}

export class RecordingLog implements Log {
  lines: string[] = [];
  info(m: string) {
    this.lines.push(`info ${m}`);
  }
  warn(m: string) {
    this.lines.push(`warn ${m}`);
  }
  error(m: string) {
    this.lines.push(`error ${m}`);
  }
}

const T0 = "2026-11-23T09:00:00.000Z";

export function anInstance(over: Partial<InstanceView> = {}): InstanceView {
  return {
    instanceId: "i-0123456789abcdef0",
    purpose: "rstudio",
    state: "running",
    stateReason: null,
    ownerId: "alice",
    instanceType: "t3.large",
    market: "on-demand",
    hourlyPrice: 0.0832,
    currency: "USD",
    launchedAt: T0,
    runningAt: "2026-11-23T09:05:00.000Z",
    assignedAt: "2026-11-23T09:05:00.000Z",
    replacementId: null,
    endedAt: null,
    idleDeadline: "2026-11-23T10:45:00.000Z",
    expiresAt: "2026-11-23T21:00:00.000Z",
    ...over,
  };
}

export function someCosts(over: Partial<CostsResponse> = {}): CostsResponse {
  return {
    currency: "USD",
    ratePerHour: 0.42,
    spentToday: 1.5,
    spentThisMonth: 12.3,
    budget: 50,
    budgetUsed: 0.246,
    budgetState: "ok",
    instances: [{ instanceId: "i-0123456789abcdef0", purpose: "rstudio", hourlyPrice: 0.42 }],
    ...over,
  };
}

export function anSsmConnection(over: Partial<SsmConnection> = {}): SsmConnection {
  return {
    kind: "ssm",
    sessionId: "alice-0a1b2c3d4e5f",
    streamUrl: "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/alice-0a1b2c3d4e5f",
    tokenValue: "SECRET-TOKEN-VALUE-123",
    target: "i-0123456789abcdef0",
    region: "eu-west-1",
    documentName: "AWS-StartPortForwardingSession",
    parameters: { portNumber: ["8787"], localPortNumber: ["1"] },
    endpoint: "https://ssm.eu-west-1.amazonaws.com",
    ...over,
  };
}

/**
 * How the EC2 provider observes its instances between lists: from the events queue when one is
 * configured (EventBridge → SQS, seconds after EC2 sends a warning), else from the spot
 * watchers' notice files read through SSM every few seconds. One round per call; the pool runs
 * the rounds in a loop of its own, so a long poll never holds up the lifecycle tick.
 */
import { sleepUnlessAborted } from "../../sleep";
import type { InstanceObservation, InstanceRef } from "../types";
import type { SqsInstanceEvents } from "./instance-events";
import type { NoticeReader } from "./notice-reader";

export interface Ec2ObserverOptions {
  queue: Pick<SqsInstanceEvents, "receive"> | null;
  notices: Pick<NoticeReader, "read">;
  /** Pause between two rounds of notice reading (no queue). */
  noticeEveryMs?: number;
}

export class Ec2Observer {
  constructor(private readonly options: Ec2ObserverOptions) {}

  async observe(refs: InstanceRef[], handle: (o: InstanceObservation) => Promise<void>, signal: AbortSignal): Promise<void> {
    if (this.options.queue) {
      try {
        await this.options.queue.receive(handle, signal);
      } catch (err) {
        // A receive cut short by stopping is not a failure.
        if (!signal.aborted) throw err;
      }
      return;
    }
    // Only spot instances get interruption warnings and rebalance recommendations.
    const spot = refs.filter((r) => r.providerId && r.market === "spot").map((r) => r.providerId!);
    if (spot.length) for (const o of await this.options.notices.read(spot)) await handle(o);
    await sleepUnlessAborted(this.options.noticeEveryMs ?? 10_000, signal);
  }
}

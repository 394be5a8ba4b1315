/**
 * Without an events queue, the pool still learns of interruptions from the instances
 * themselves: the spot watcher (spot-watcher.sh) writes what it saw to a notice file, and this
 * reads that file from many instances with one Run Command (up to 50 targets a call), the same
 * channel the busy check uses. The instance role stays narrow: instances report nothing
 * through the AWS API.
 */
import { GetCommandInvocationCommand, SendCommandCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { parseNotice } from "../notices";
import type { InstanceObservation } from "../types";
import { SHELL_DOCUMENT } from "./ssm";

export const NOTICE_FILE = "/var/lib/rstudio-pool/notice.json";
/** SendCommand takes at most 50 instance ids. */
const TARGETS_PER_COMMAND = 50;
const TERMINAL = new Set(["Success", "Failed", "Cancelled", "TimedOut", "DeliveryTimedOut", "ExecutionTimedOut", "Undeliverable", "Terminated", "InvalidPlatform", "AccessDenied"]);

export class NoticeReader {
  constructor(
    private readonly ssm: Pick<SSMClient, "send">,
    private readonly pollMs = 1000,
    private readonly timeoutMs = 30_000,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /**
   * The notices of the given instances (those without one, or unreachable, are absent). Best
   * effort by design: a missed read is read again on the next round.
   */
  async read(providerIds: string[]): Promise<InstanceObservation[]> {
    const out: InstanceObservation[] = [];
    for (let i = 0; i < providerIds.length; i += TARGETS_PER_COMMAND) {
      out.push(...(await this.readBatch(providerIds.slice(i, i + TARGETS_PER_COMMAND))));
    }
    return out;
  }

  private async readBatch(ids: string[]): Promise<InstanceObservation[]> {
    const sent = await this.ssm.send(
      new SendCommandCommand({
        InstanceIds: ids,
        DocumentName: SHELL_DOCUMENT,
        Comment: "rstudio-pool: read interruption notices",
        TimeoutSeconds: 30,
        Parameters: { commands: [`cat ${NOTICE_FILE} 2>/dev/null || true`], executionTimeout: ["20"] },
      }),
    );
    const commandId = sent.Command?.CommandId;
    if (!commandId) return [];
    const pending = new Set(ids);
    const found: InstanceObservation[] = [];
    const deadline = Date.now() + this.timeoutMs;
    while (pending.size && Date.now() < deadline) {
      await this.sleep(this.pollMs);
      for (const id of [...pending]) {
        try {
          const inv = await this.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id }));
          if (!TERMINAL.has(inv.Status ?? "Pending")) continue;
          pending.delete(id);
          const obs = inv.Status === "Success" ? parseNotice(id, (inv.StandardOutputContent ?? "").trim()) : null;
          if (obs) found.push(obs);
        } catch {
          // Not visible yet right after SendCommand, or the agent is away: try again this round.
        }
      }
    }
    return found;
  }
}

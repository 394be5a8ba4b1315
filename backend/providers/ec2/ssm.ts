/**
 * What the provider asks of Systems Manager: whether instances' agents are online, running a
 * shell script on one instance and waiting for its result (Run Command), and opening a
 * port-forwarding session for the owner.
 */
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  StartSessionCommand,
  type SSMClient,
} from "@aws-sdk/client-ssm";
import type { Logger } from "pino";
import { silentLogger } from "../../log";
import { PoolError } from "../../errors";
import { aws, awsErrorCode, toPoolError } from "./aws-errors";

export const PORT_FORWARD_DOCUMENT = "AWS-StartPortForwardingSession";
export const SHELL_DOCUMENT = "AWS-RunShellScript";
/** DescribeInstanceInformation accepts at most 50 ids in its InstanceIds filter. */
const INFO_BATCH = 50;

export interface ShellResult {
  status: string;
  stdout: string;
  stderr: string;
}

const TERMINAL = new Set(["Success", "Failed", "Cancelled", "TimedOut", "DeliveryTimedOut", "ExecutionTimedOut", "Undeliverable", "Terminated", "InvalidPlatform", "AccessDenied"]);

export class SsmOps {
  constructor(
    private readonly ssm: SSMClient,
    private readonly pollMs = 1000,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
    /** StartSession only: one attempt (it is not idempotent; a blind retry opens a second session). */
    private readonly ssmOnce: SSMClient = ssm,
    private readonly log: Logger = silentLogger(),
  ) {}

  /**
   * The ids (of those given) whose SSM agent reports PingStatus Online. One id SSM refuses
   * (unregistered, malformed) fails its whole batch, so a failed batch is asked again id by
   * id: the bad one counts as offline and the others are not held up by it.
   */
  async onlineAgents(instanceIds: string[]): Promise<Set<string>> {
    const online = new Set<string>();
    for (let i = 0; i < instanceIds.length; i += INFO_BATCH) {
      const batch = instanceIds.slice(i, i + INFO_BATCH);
      try {
        for (const id of await this.onlineIn(batch)) online.add(id);
      } catch (err) {
        if (batch.length === 1 || (err instanceof PoolError && err.code === "PROVIDER_THROTTLED")) {
          this.log.warn({ event: "ssm-info-failed", instanceIds: batch, err: (err as Error).message }, "agent status unknown; counted offline");
          continue;
        }
        for (const id of batch) {
          const one = await this.onlineIn([id]).catch((e: unknown) => {
            this.log.warn({ event: "ssm-info-failed", instanceId: id, err: (e as Error).message }, "agent status unknown; counted offline");
            return [] as string[];
          });
          for (const x of one) online.add(x);
        }
      }
    }
    return online;
  }

  private async onlineIn(batch: string[]): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await aws({ action: "ssm:DescribeInstanceInformation" }, () =>
        this.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: "InstanceIds", Values: batch }], MaxResults: 50, NextToken: token })),
      );
      for (const info of page.InstanceInformationList ?? []) if (info.InstanceId && info.PingStatus === "Online") out.push(info.InstanceId);
      token = page.NextToken;
    } while (token);
    return out;
  }

  async requireOnline(instanceId: string): Promise<void> {
    const online = await this.onlineAgents([instanceId]);
    if (!online.has(instanceId)) {
      throw new PoolError("SSM_AGENT_OFFLINE", `The SSM agent of ${instanceId} is not online yet; wait a minute and connect again, or release it and claim a new instance.`, { providerId: instanceId });
    }
  }

  /** Sends a shell script through AWS-RunShellScript; returns the command id (poll with invocation()). */
  async sendShell(instanceId: string, commands: string[], options: { timeoutSeconds: number; comment: string }): Promise<string> {
    const sent = await aws({ action: "ssm:SendCommand", target: instanceId }, () =>
      this.ssm.send(
        new SendCommandCommand({
          InstanceIds: [instanceId],
          DocumentName: SHELL_DOCUMENT,
          Comment: options.comment.slice(0, 100),
          TimeoutSeconds: Math.max(30, options.timeoutSeconds),
          Parameters: { commands, executionTimeout: [String(options.timeoutSeconds)] },
        }),
      ),
    );
    const commandId = sent.Command?.CommandId;
    if (!commandId) throw new PoolError("PROVIDER_ERROR", `SSM SendCommand to ${instanceId} returned no command id.`);
    return commandId;
  }

  /** The command's result once it finished, or null while it runs (or is not visible yet). */
  async invocation(commandId: string, instanceId: string): Promise<ShellResult | null> {
    try {
      const inv = await this.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
      const status = inv.Status ?? "Pending";
      return TERMINAL.has(status) ? { status, stdout: inv.StandardOutputContent ?? "", stderr: inv.StandardErrorContent ?? "" } : null;
    } catch (err) {
      if (awsErrorCode(err) === "InvocationDoesNotExist") return null;
      throw toPoolError(err, { action: "ssm:GetCommandInvocation", target: instanceId });
    }
  }

  /** Runs a shell script through AWS-RunShellScript and waits (bounded) for its result. */
  async runShell(instanceId: string, commands: string[], options: { timeoutSeconds: number; comment: string }): Promise<ShellResult> {
    const commandId = await this.sendShell(instanceId, commands, options);
    const deadline = Date.now() + (options.timeoutSeconds + 30) * 1000;
    for (;;) {
      await this.sleep(this.pollMs);
      // Right after SendCommand the invocation may not be visible yet (null).
      const done = await this.invocation(commandId, instanceId);
      if (done) return done;
      if (Date.now() > deadline) {
        throw new PoolError("PROVIDER_UNAVAILABLE", `SSM command ${commandId} on ${instanceId} did not finish in ${options.timeoutSeconds}s.`);
      }
    }
  }

  async startPortForward(instanceId: string, remotePort: number, localPort: number, reason: string) {
    try {
      return await this.ssmOnce.send(
        new StartSessionCommand({
          Target: instanceId,
          DocumentName: PORT_FORWARD_DOCUMENT,
          Reason: reason.replace(/[^\w .:/=@-]/g, "").slice(0, 256),
          Parameters: { portNumber: [String(remotePort)], localPortNumber: [String(localPort)] },
        }),
      );
    } catch (err) {
      const e = toPoolError(err, { action: "ssm:StartSession", target: instanceId });
      // Not retried here: StartSession is not idempotent, a blind retry could open a second session.
      throw new PoolError(e.code, `${e.message} The session was tried once (not retried automatically); connect again.`, e.details);
    }
  }
}

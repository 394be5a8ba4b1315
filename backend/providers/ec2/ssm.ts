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
  ) {}

  /** The ids (of those given) whose SSM agent reports PingStatus Online. */
  async onlineAgents(instanceIds: string[]): Promise<Set<string>> {
    const online = new Set<string>();
    for (let i = 0; i < instanceIds.length; i += INFO_BATCH) {
      const batch = instanceIds.slice(i, i + INFO_BATCH);
      let token: string | undefined;
      do {
        const out = await aws({ action: "ssm:DescribeInstanceInformation" }, () =>
          this.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: "InstanceIds", Values: batch }], MaxResults: 50, NextToken: token })),
        );
        for (const info of out.InstanceInformationList ?? []) {
          if (info.InstanceId && info.PingStatus === "Online") online.add(info.InstanceId);
        }
        token = out.NextToken;
      } while (token);
    }
    return online;
  }

  async requireOnline(instanceId: string): Promise<void> {
    const online = await this.onlineAgents([instanceId]);
    if (!online.has(instanceId)) {
      throw new PoolError("SSM_AGENT_OFFLINE", `The SSM agent of ${instanceId} is not online yet; wait a minute and connect again, or release it and claim a new instance.`, { providerId: instanceId });
    }
  }

  /** Runs a shell script through AWS-RunShellScript and waits (bounded) for its result. */
  async runShell(instanceId: string, commands: string[], options: { timeoutSeconds: number; comment: string }): Promise<ShellResult> {
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
    const deadline = Date.now() + (options.timeoutSeconds + 30) * 1000;
    for (;;) {
      await this.sleep(this.pollMs);
      try {
        const inv = await this.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
        const status = inv.Status ?? "Pending";
        if (TERMINAL.has(status)) {
          return { status, stdout: inv.StandardOutputContent ?? "", stderr: inv.StandardErrorContent ?? "" };
        }
      } catch (err) {
        // Right after SendCommand the invocation may not be visible yet.
        if (awsErrorCode(err) !== "InvocationDoesNotExist") throw toPoolError(err, { action: "ssm:GetCommandInvocation", target: instanceId });
      }
      if (Date.now() > deadline) {
        throw new PoolError("PROVIDER_UNAVAILABLE", `SSM command ${commandId} on ${instanceId} did not finish in ${options.timeoutSeconds}s.`);
      }
    }
  }

  async startPortForward(instanceId: string, remotePort: number, localPort: number, reason: string) {
    return aws({ action: "ssm:StartSession", target: instanceId }, () =>
      this.ssm.send(
        new StartSessionCommand({
          Target: instanceId,
          DocumentName: PORT_FORWARD_DOCUMENT,
          Reason: reason.replace(/[^\w .:/=@-]/g, "").slice(0, 256),
          Parameters: { portNumber: [String(remotePort)], localPortNumber: [String(localPort)] },
        }),
      ),
    );
  }
}

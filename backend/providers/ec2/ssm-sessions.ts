/**
 * Resuming and ending port-forward sessions for their owner. ResumeSession hands out a new token
 * for a session whose WebSocket the service closed (it does so after a while); TerminateSession
 * ends it. Both take only a session id, so first DescribeSessions must show the session active
 * and aimed at the instance the caller owns: a user cannot resume or end someone else's session
 * by guessing its id.
 */
import { DescribeSessionsCommand, ResumeSessionCommand, TerminateSessionCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { PoolError } from "../../errors";
import type { ResumeSessionResponse } from "../../../contract";
import { aws, awsErrorCode, toPoolError } from "./aws-errors";

export class SsmSessions {
  constructor(private readonly ssm: SSMClient) {}

  /** Throws SSM_SESSION_NOT_FOUND unless the session is active and its target is `instanceId`. */
  async requireSessionOn(sessionId: string, instanceId: string): Promise<void> {
    const out = await aws({ action: "ssm:DescribeSessions", target: instanceId }, () =>
      this.ssm.send(new DescribeSessionsCommand({ State: "Active", Filters: [{ key: "SessionId", value: sessionId }], MaxResults: 10 })),
    );
    const session = (out.Sessions ?? []).find((s) => s.SessionId === sessionId);
    if (!session || session.Target !== instanceId) {
      throw new PoolError("SSM_SESSION_NOT_FOUND", `SSM session ${sessionId} is not an active session to this instance; open a new connection.`, { sessionId, providerId: instanceId });
    }
  }

  async resume(sessionId: string, instanceId: string): Promise<ResumeSessionResponse> {
    await this.requireSessionOn(sessionId, instanceId);
    try {
      const out = await this.ssm.send(new ResumeSessionCommand({ SessionId: sessionId }));
      if (!out.TokenValue || !out.StreamUrl) throw new PoolError("PROVIDER_ERROR", `SSM ResumeSession for ${sessionId} returned no token.`);
      return { sessionId: out.SessionId ?? sessionId, streamUrl: out.StreamUrl, tokenValue: out.TokenValue };
    } catch (err) {
      if (err instanceof PoolError) throw err;
      if (awsErrorCode(err) === "DoesNotExistException") {
        throw new PoolError("SSM_SESSION_NOT_FOUND", `SSM session ${sessionId} has ended; open a new connection.`, { sessionId });
      }
      throw toPoolError(err, { action: "ssm:ResumeSession", target: instanceId });
    }
  }

  /** Ends the session; one that already ended is not an error. */
  async terminate(sessionId: string, instanceId: string): Promise<boolean> {
    try {
      await this.requireSessionOn(sessionId, instanceId);
    } catch (err) {
      if (err instanceof PoolError && err.code === "SSM_SESSION_NOT_FOUND") return false;
      throw err;
    }
    await aws({ action: "ssm:TerminateSession", target: instanceId }, () => this.ssm.send(new TerminateSessionCommand({ SessionId: sessionId })));
    return true;
  }

  /**
   * Ends every active session on the instance (release and reap: nobody keeps a tunnel into
   * an instance the pool took back). Returns how many were ended; an already ended one is fine.
   */
  async terminateAllOn(instanceId: string): Promise<number> {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = await aws({ action: "ssm:DescribeSessions", target: instanceId }, () =>
        this.ssm.send(new DescribeSessionsCommand({ State: "Active", Filters: [{ key: "Target", value: instanceId }], MaxResults: 200, NextToken: token })),
      );
      for (const s of page.Sessions ?? []) if (s.SessionId) ids.push(s.SessionId);
      token = page.NextToken;
    } while (token);
    for (const id of ids) {
      await aws({ action: "ssm:TerminateSession", target: id }, () => this.ssm.send(new TerminateSessionCommand({ SessionId: id })));
    }
    return ids.length;
  }
}

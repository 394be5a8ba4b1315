/**
 * The owner's SSM sessions: resume one the service closed, or end one. Only the instance's owner,
 * only while it runs, and only on providers that connect through SSM.
 */
import { PoolError } from "../errors";
import type { EndSessionResponse, ResumeSessionResponse } from "../../contract";
import type { PoolContext } from "./context";
import { toRef } from "./refs";
import { getOwnedInstance } from "./user-instances";

async function runningOwned(ctx: PoolContext, userId: string, id: string) {
  const inst = await getOwnedInstance(ctx, userId, id);
  if (inst.ownerId !== userId || inst.state !== "running") {
    throw new PoolError("INSTANCE_NOT_RUNNING", `Instance "${id}" is ${inst.state}; claim a new one.`);
  }
  return inst;
}

export async function resumeOwnedSession(ctx: PoolContext, userId: string, id: string, sessionId: string): Promise<ResumeSessionResponse> {
  const inst = await runningOwned(ctx, userId, id);
  if (!ctx.provider.resumeSession) throw new PoolError("INVALID_REQUEST", `Instance "${id}" is not reached through SSM; there is no session to resume.`);
  const out = await ctx.provider.resumeSession(toRef(inst), sessionId);
  ctx.log.info({ event: "ssm-session-resumed", instanceId: id, userId, sessionId }, "resumed an SSM session");
  return out;
}

export async function endOwnedSession(ctx: PoolContext, userId: string, id: string, sessionId: string): Promise<EndSessionResponse> {
  const inst = await getOwnedInstance(ctx, userId, id);
  if (inst.ownerId !== userId) throw new PoolError("INSTANCE_NOT_FOUND", `Instance "${id}" is not yours.`);
  // An instance that stopped running took its sessions with it.
  if (inst.state !== "running" || !ctx.provider.terminateSession) return { sessionId, ended: false };
  const ended = await ctx.provider.terminateSession(toRef(inst), sessionId);
  ctx.log.info({ event: "ssm-session-ended", instanceId: id, userId, sessionId, ended }, "ended an SSM session");
  return { sessionId, ended };
}

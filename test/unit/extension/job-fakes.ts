/** Typed builders for the jobs tests. */
import type { JobLogChunk, JobView, KeepAliveView } from "../../../contract/jobs";

export function aJob(over: Partial<JobView> = {}): JobView {
  return {
    jobId: "job-0001",
    purpose: "big-memory",
    ownerId: "alice",
    runner: "pool",
    state: "running",
    stateReason: null,
    scriptName: "model.R",
    queuePosition: null,
    instanceId: "i-0123456789abcdef0",
    exitCode: null,
    createdAt: "2026-11-23T09:00:00.000Z",
    startedAt: "2026-11-23T09:00:30.000Z",
    endedAt: null,
    deadlineAt: "2026-11-23T15:00:30.000Z",
    cost: 0.0123,
    currency: "USD",
    ...over,
  };
}

export function ended(over: Partial<JobView> = {}): JobView {
  return aJob({ state: "succeeded", exitCode: 0, stateReason: "exit 0", endedAt: "2026-11-23T09:02:30.000Z", ...over });
}

export function aHold(over: Partial<KeepAliveView> = {}): KeepAliveView {
  return { instanceId: "i-0123456789abcdef0", pid: 4242, until: "2026-11-23T18:00:00.000Z", endedReason: null, costSoFar: 0.84, currency: "USD", ...over };
}

export function aChunk(offset: number, text: string, complete = false, nextOffset = offset + Buffer.byteLength(text)): JobLogChunk {
  return { jobId: "job-0001", offset, nextOffset, text, complete };
}

/**
 * The CLI's client of the backend's /v1 jobs API (fetch, no dependencies), and the log follower
 * `job log -f` and `job run --follow` use. Every failure is a JobCliError with the backend's
 * stable code (or BACKEND_UNREACHABLE, TIMEOUT, BAD_RESPONSE). The token goes in the
 * Authorization header only; it is never part of a message.
 */
import type { PurposesResponse } from "../contract";
import { answerError, answerJson } from "../contract/answers";
import type { JobListResponse, JobLogChunk, JobRequest, JobView, KeepAliveRequest, KeepAliveView } from "../contract/jobs";
import { EXIT, JobCliError, type Connection } from "./cli-jobs-input";

/** A single-object answer, bare or wrapped ({job: ...}): accept both, so the CLI does not pin one. */
function unwrap<T>(body: unknown, key: string): T {
  const b = body as Record<string, unknown>;
  return (b && typeof b === "object" && key in b ? b[key] : body) as T;
}

export class JobsClient {
  constructor(
    private readonly conn: Connection,
    private readonly fetchImpl: typeof fetch = fetch,
    private readonly timeoutMs = 30_000,
  ) {}

  async submit(req: JobRequest): Promise<JobView> {
    return unwrap<JobView>(await this.call("POST", "/v1/jobs", req), "job");
  }
  async list(): Promise<JobView[]> {
    return (await this.call<JobListResponse>("GET", "/v1/jobs")).jobs;
  }
  async get(id: string): Promise<JobView> {
    return unwrap<JobView>(await this.call("GET", `/v1/jobs/${encodeURIComponent(id)}`), "job");
  }
  async cancel(id: string): Promise<JobView> {
    return unwrap<JobView>(await this.call("DELETE", `/v1/jobs/${encodeURIComponent(id)}`), "job");
  }
  log(id: string, offset: number): Promise<JobLogChunk> {
    return this.call("GET", `/v1/jobs/${encodeURIComponent(id)}/log?offset=${offset}`);
  }
  purposes(): Promise<PurposesResponse> {
    return this.call("GET", "/v1/purposes");
  }
  async keepAlive(instanceId: string, req: KeepAliveRequest): Promise<KeepAliveView> {
    return unwrap<KeepAliveView>(await this.call("POST", `/v1/instances/${encodeURIComponent(instanceId)}/keep-alive`, req), "keepAlive");
  }
  async getKeepAlive(instanceId: string): Promise<KeepAliveView> {
    return unwrap<KeepAliveView>(await this.call("GET", `/v1/instances/${encodeURIComponent(instanceId)}/keep-alive`), "keepAlive");
  }
  async endKeepAlive(instanceId: string): Promise<KeepAliveView> {
    return unwrap<KeepAliveView>(await this.call("DELETE", `/v1/instances/${encodeURIComponent(instanceId)}/keep-alive`), "keepAlive");
  }

  private async call<T>(method: string, p: string, body?: unknown): Promise<T> {
    let res: Response;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      res = await this.fetchImpl(`${this.conn.url}${p}`, {
        method,
        signal: timeout,
        headers: { authorization: `Bearer ${this.conn.token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      if (timeout.aborted) throw new JobCliError("TIMEOUT", `the backend at ${this.conn.url} did not answer ${method} ${p} within ${Math.round(this.timeoutMs / 1000)} s`);
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new JobCliError("BACKEND_UNREACHABLE", `the backend at ${this.conn.url} does not answer${cause ? ` (${cause})` : ""}`);
    }
    const json = answerJson(await res.text());
    if (!res.ok) {
      const { code, message } = answerError(res.status, json);
      const hint = code === "UNAUTHORIZED" ? ` (token from ${this.conn.tokenSource})` : "";
      throw new JobCliError(code, `${message ?? `the backend answered ${method} ${p} with HTTP ${res.status}`}${hint}`, EXIT.error);
    }
    if (json === undefined) throw new JobCliError("BAD_RESPONSE", `the backend at ${this.conn.url} answered ${method} ${p} with something that is not JSON`);
    return json as T;
  }
}

export interface FollowOptions {
  /** Where the log's text goes (stdout). */
  write: (text: string) => void;
  /** Waits between polls that brought nothing new. */
  sleep: (ms: number) => Promise<void>;
  /** Stops following (Ctrl-C): resolves with null. */
  signal?: AbortSignal;
  /** Told once per change of state while the job waits or runs (queued place, running). */
  onJob?: (job: JobView) => void;
  offset?: number;
  /** Retry a failed poll this many times in a row before giving up (a backend restart takes a few seconds). */
  maxErrors?: number;
}

const IDLE_STEPS_MS = [250, 500, 1000, 2000];

/**
 * Follows a job's log by polling GET /v1/jobs/:id/log?offset=N until the chunk says complete,
 * then returns the job as it ended. Polling (rather than the streamed ?follow=1) survives a
 * backend restart and works with runners whose offsets are not byte counts (ECS log tokens):
 * the next read always starts at the last nextOffset the backend gave.
 */
export async function followLog(client: Pick<JobsClient, "log" | "get">, jobId: string, o: FollowOptions): Promise<JobView | null> {
  let offset = o.offset ?? 0;
  let idle = 0;
  let errors = 0;
  let lastState = "";
  for (;;) {
    if (o.signal?.aborted) return null;
    let chunk: JobLogChunk;
    try {
      chunk = await client.log(jobId, offset);
      errors = 0;
    } catch (err) {
      const code = err instanceof JobCliError ? err.code : "";
      const transient = code === "BACKEND_UNREACHABLE" || code === "TIMEOUT" || code === "PROVIDER_UNAVAILABLE" || code === "BAD_RESPONSE";
      if (!transient || ++errors > (o.maxErrors ?? 30)) throw err;
      await o.sleep(2000);
      continue;
    }
    if (chunk.text) o.write(chunk.text);
    offset = chunk.nextOffset;
    if (chunk.complete) return client.get(jobId);
    if (chunk.text) idle = 0;
    else {
      if (o.onJob && idle % 4 === 0) {
        const job = await client.get(jobId).catch(() => null);
        const key = job ? `${job.state}/${job.queuePosition}` : "";
        if (job && key !== lastState) o.onJob(job);
        if (job) lastState = key;
      }
      idle++;
    }
    await o.sleep(IDLE_STEPS_MS[Math.min(idle, IDLE_STEPS_MS.length - 1)]!);
  }
}

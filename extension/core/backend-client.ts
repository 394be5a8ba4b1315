/**
 * The typed client of the backend's /v1 API (fetch-based, no VS Code). Every failure becomes an
 * ExtensionError with the backend's stable code and message; an unreachable backend, a missing
 * token and an unreadable answer get codes of their own. The token is sent and never logged.
 */
import type {
  AppName,
  ClaimResponse,
  ConnectionResponse,
  CostsResponse,
  HeartbeatResponse,
  InstanceResponse,
  InstancesResponse,
  InstanceView,
  MeResponse,
  PurposesResponse,
  EndSessionResponse,
  ResumeSessionResponse,
} from "../../contract";
import { answerError, answerJson } from "../../contract/answers";
import type { JobListResponse, JobLogChunk, JobRequest, JobView, KeepAliveRequest, KeepAliveView } from "../../contract/jobs";
import type { Log } from "./emitter";
import { ExtensionError } from "./errors";

export interface BackendClientOptions {
  /** Read on every call, so a changed setting applies at once. */
  baseUrl: () => string;
  /** The API token, or undefined when signed out. */
  token: () => Promise<string | undefined>;
  fetch?: typeof fetch;
  /** Per-request timeout; claims answer quickly (the wait for a booting instance is polled). */
  timeoutMs?: number;
  log?: Log;
}

export class BackendClient {
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly opts: BackendClientOptions) {
    this.fetchImpl = opts.fetch ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  me(signal?: AbortSignal): Promise<MeResponse> {
    return this.request("GET", "/v1/me", undefined, signal);
  }
  purposes(signal?: AbortSignal): Promise<PurposesResponse> {
    return this.request("GET", "/v1/purposes", undefined, signal);
  }
  claim(purpose: string | undefined, signal?: AbortSignal): Promise<ClaimResponse> {
    return this.request("POST", "/v1/claims", purpose ? { purpose } : {}, signal);
  }
  async instances(signal?: AbortSignal): Promise<InstanceView[]> {
    return (await this.request<InstancesResponse>("GET", "/v1/instances", undefined, signal)).instances;
  }
  async instance(id: string, signal?: AbortSignal): Promise<InstanceView> {
    return (await this.request<InstanceResponse>("GET", `/v1/instances/${encodeURIComponent(id)}`, undefined, signal)).instance;
  }
  async release(id: string, signal?: AbortSignal): Promise<InstanceView> {
    return (await this.request<InstanceResponse>("DELETE", `/v1/instances/${encodeURIComponent(id)}`, undefined, signal)).instance;
  }
  heartbeat(id: string, signal?: AbortSignal): Promise<HeartbeatResponse> {
    return this.request("POST", `/v1/instances/${encodeURIComponent(id)}/heartbeat`, {}, signal);
  }
  connection(id: string, localPort?: number, signal?: AbortSignal, app?: AppName): Promise<ConnectionResponse> {
    return this.request("POST", `/v1/instances/${encodeURIComponent(id)}/connection`, { ...(localPort ? { localPort } : {}), ...(app ? { app } : {}) }, signal);
  }
  /** A new token for an SSM session whose WebSocket the service closed (ResumeSession). */
  resumeSession(id: string, sessionId: string, signal?: AbortSignal): Promise<ResumeSessionResponse> {
    return this.request("POST", `/v1/instances/${encodeURIComponent(id)}/sessions/${encodeURIComponent(sessionId)}/resume`, {}, signal);
  }
  /** Ends an SSM session (TerminateSession); one already gone is not an error. */
  endSession(id: string, sessionId: string, signal?: AbortSignal): Promise<EndSessionResponse> {
    return this.request("DELETE", `/v1/instances/${encodeURIComponent(id)}/sessions/${encodeURIComponent(sessionId)}`, undefined, signal);
  }
  costs(signal?: AbortSignal): Promise<CostsResponse> {
    return this.request("GET", "/v1/costs", undefined, signal);
  }

  // Batch jobs and keep-alive holds (issue #18). A single object may come bare or wrapped
  // ({job}, {keepAlive}); both are accepted so the client does not pin one.
  async jobs(signal?: AbortSignal): Promise<JobView[]> {
    return (await this.request<JobListResponse>("GET", "/v1/jobs", undefined, signal)).jobs;
  }
  async job(id: string, signal?: AbortSignal): Promise<JobView> {
    return unwrap(await this.request("GET", `/v1/jobs/${encodeURIComponent(id)}`, undefined, signal), "job");
  }
  async submitJob(req: JobRequest, signal?: AbortSignal): Promise<JobView> {
    return unwrap(await this.request("POST", "/v1/jobs", req, signal), "job");
  }
  async cancelJob(id: string, signal?: AbortSignal): Promise<JobView> {
    return unwrap(await this.request("DELETE", `/v1/jobs/${encodeURIComponent(id)}`, undefined, signal), "job");
  }
  jobLog(id: string, offset: number, signal?: AbortSignal): Promise<JobLogChunk> {
    return this.request("GET", `/v1/jobs/${encodeURIComponent(id)}/log?offset=${offset}`, undefined, signal);
  }
  async keepAlive(instanceId: string, req: KeepAliveRequest, signal?: AbortSignal): Promise<KeepAliveView> {
    return unwrap(await this.request("POST", `/v1/instances/${encodeURIComponent(instanceId)}/keep-alive`, req, signal), "keepAlive");
  }
  async keepAliveStatus(instanceId: string, signal?: AbortSignal): Promise<KeepAliveView> {
    return unwrap(await this.request("GET", `/v1/instances/${encodeURIComponent(instanceId)}/keep-alive`, undefined, signal), "keepAlive");
  }
  async endKeepAlive(instanceId: string, signal?: AbortSignal): Promise<KeepAliveView> {
    return unwrap(await this.request("DELETE", `/v1/instances/${encodeURIComponent(instanceId)}/keep-alive`, undefined, signal), "keepAlive");
  }

  private async request<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const token = await this.opts.token();
    if (!token) throw new ExtensionError("NOT_SIGNED_IN", "you are not signed in");
    const base = this.opts.baseUrl().replace(/\/+$/, "");
    let url: URL;
    try {
      url = new URL(base + path);
    } catch {
      throw new ExtensionError("BACKEND_UNREACHABLE", `the backend address "${base}" is not a URL`, { setting: "rstudioPool.backendUrl" });
    }
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        signal: combined,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      if (signal?.aborted) throw err; // the caller's cancel, not a failure
      if (timeout.aborted) {
        throw new ExtensionError("TIMEOUT", `the backend at ${base} did not answer within ${Math.round(this.timeoutMs / 1000)} s`);
      }
      const code = (err as { cause?: { code?: string } }).cause?.code;
      this.opts.log?.warn(`${method} ${path}: backend unreachable (${code ?? (err as Error).message})`);
      throw new ExtensionError("BACKEND_UNREACHABLE", `the backend at ${base} does not answer${code ? ` (${code})` : ""}`, {
        setting: "rstudioPool.backendUrl",
        cause: err,
      });
    }
    const text = await res.text();
    const json = answerJson(text);
    if (!res.ok) {
      const apiError = answerError(res.status, json);
      const code = apiError.code;
      const message = apiError.message ?? `the backend answered HTTP ${res.status}${json === undefined && text ? " (not JSON: is rstudioPool.backendUrl the pool backend?)" : ""}`;
      this.opts.log?.warn(`${method} ${path}: HTTP ${res.status} ${code}: ${message}`);
      throw new ExtensionError(code, message, { status: res.status });
    }
    if (json === undefined) {
      throw new ExtensionError("BAD_RESPONSE", `the backend at ${base} answered ${method} ${path} with something that is not JSON; is rstudioPool.backendUrl the pool backend?`, { status: res.status });
    }
    return json as T;
  }
}

function unwrap<T>(body: unknown, key: string): T {
  const b = body as Record<string, unknown> | null;
  return (b && typeof b === "object" && key in b ? b[key] : body) as T;
}

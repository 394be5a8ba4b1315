/**
 * A small in-memory server that follows the jobs wire contract (contract/jobs.ts, the error
 * codes of contract/errors.ts), for the clients' tests (CLI, extension) independent of the real
 * queue and runners. A job waits `queuedMs`, then "runs" printing the lines of `log` (one per
 * `lineMs`), then ends with the exit code the job's env STUB_EXIT gives (default 0). It records
 * every request it gets, so tests check what the client sent. Single objects are bare, as the
 * real routes answer (backend/api/routes/jobs.ts). Not a model of the real backend's
 * scheduling: the real one is tested by the jobs-core tests and the CLI's real-backend test.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { JobLogChunk, JobRequest, JobView, KeepAliveView } from "../../contract/jobs";

export interface StubOptions {
  token: string;
  purposes?: string[];
  queuedMs?: number;
  lineMs?: number;
  log?: string[];
  hourlyPrice?: number;
  maxScriptBytes?: number;
}

interface StubJob {
  view: JobView;
  request: JobRequest;
  created: number;
  cancelledAt: number | null;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

export class JobsStub {
  private server!: Server;
  private seq = 0;
  readonly jobs = new Map<string, StubJob>();
  readonly holds = new Map<string, KeepAliveView>();
  /** Jobs whose log the backend has removed after its retention: the log route answers 410 JOB_LOG_EXPIRED. */
  readonly expiredLogs = new Set<string>();
  readonly requests: RecordedRequest[] = [];
  url = "";

  constructor(readonly o: StubOptions) {}

  static async start(o: StubOptions): Promise<JobsStub> {
    const s = new JobsStub(o);
    s.server = createServer((req, res) => void s.handle(req, res));
    await new Promise<void>((r) => s.server.listen(0, "127.0.0.1", r));
    s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  private lines(j: StubJob): string[] {
    return this.o.log ?? [`running ${j.request.scriptName ?? "job.R"}`, `MODEL_CONFIG=${j.request.env?.MODEL_CONFIG ?? ""}`, "done"];
  }

  /** Moves a job along its timeline to now. */
  private advance(j: StubJob, now = Date.now()): void {
    const v = j.view;
    if (v.state === "succeeded" || v.state === "failed" || v.state === "cancelled") return;
    const queuedMs = this.o.queuedMs ?? 200;
    const lineMs = this.o.lineMs ?? 150;
    const startAt = j.created + queuedMs;
    const endAt = startAt + lineMs * (this.lines(j).length + 1);
    const at = j.cancelledAt ?? now;
    if (at >= startAt && !v.startedAt) Object.assign(v, { state: "running", startedAt: new Date(startAt).toISOString(), instanceId: "i-stub0001", queuePosition: null });
    if (j.cancelledAt !== null) {
      Object.assign(v, { state: "cancelled", stateReason: "cancelled by user", endedAt: new Date(j.cancelledAt).toISOString(), queuePosition: null });
    } else if (now >= endAt) {
      const exit = Number(j.request.env?.STUB_EXIT ?? 0);
      Object.assign(v, { state: exit === 0 ? "succeeded" : "failed", exitCode: exit, stateReason: `exit ${exit}`, endedAt: new Date(endAt).toISOString() });
    }
    const runEnd = v.endedAt ? Date.parse(v.endedAt) : now;
    v.cost = v.startedAt ? (((runEnd - Date.parse(v.startedAt)) / 3_600_000) * (this.o.hourlyPrice ?? 0.42)) : 0;
  }

  private logText(j: StubJob, now = Date.now()): string {
    if (!j.view.startedAt) return "";
    const lineMs = this.o.lineMs ?? 150;
    const until = j.view.endedAt ? Date.parse(j.view.endedAt) : now;
    const n = Math.floor((until - Date.parse(j.view.startedAt)) / lineMs);
    return this.lines(j).slice(0, n).map((l) => `${l}\n`).join("");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return send(res, 400, err("INVALID_JSON", "the body is not JSON"));
    }
    const url = new URL(req.url ?? "/", "http://stub");
    this.requests.push({ method: req.method ?? "", path: url.pathname + url.search, authorization: req.headers.authorization, body });
    if (req.headers.authorization !== `Bearer ${this.o.token}`) return send(res, 401, err("UNAUTHORIZED", "Missing or invalid API token."));
    const m = req.method;
    const parts = url.pathname.split("/").filter(Boolean); // v1, jobs, :id, log
    if (parts[0] !== "v1") return send(res, 404, err("NOT_FOUND", "No such route."));
    if (parts[1] === "purposes" && m === "GET") {
      const purposes = (this.o.purposes ?? ["rstudio"]).map((name) => ({ name, description: `${name} (stub)`, servicePort: 8787, hourlyPrice: this.o.hourlyPrice ?? 0.42, currency: "USD", idleTimeoutSeconds: 3600, max: 4 }));
      return send(res, 200, { purposes, defaultPurpose: purposes[0]!.name });
    }
    if (parts[1] === "jobs") {
      const id = parts[2];
      if (!id && m === "POST") return this.submit(res, body as JobRequest);
      if (!id && m === "GET") {
        for (const j of this.jobs.values()) this.advance(j);
        return send(res, 200, { jobs: [...this.jobs.values()].map((j) => j.view) });
      }
      const j = id ? this.jobs.get(id) : undefined;
      if (!j) return send(res, 404, err("JOB_NOT_FOUND", `No job ${id} of yours.`));
      this.advance(j);
      if (parts[3] === "log" && m === "GET") {
        if (this.expiredLogs.has(j.view.jobId)) return send(res, 410, err("JOB_LOG_EXPIRED", `The log of job "${j.view.jobId}" was removed (purpose "${j.view.purpose}" keeps job logs 30 days after a job ends).`));
        const text = Buffer.from(this.logText(j));
        const offset = Math.max(0, Number(url.searchParams.get("offset") ?? 0) || 0);
        const slice = text.subarray(offset).toString("utf8");
        const ended = j.view.endedAt !== null;
        const chunk: JobLogChunk = { jobId: j.view.jobId, offset, nextOffset: offset + Buffer.byteLength(slice), text: slice, complete: ended };
        return send(res, 200, chunk);
      }
      if (!parts[3] && m === "GET") return send(res, 200, j.view);
      if (!parts[3] && m === "DELETE") {
        if (j.view.endedAt) return send(res, 409, err("JOB_ENDED", `Job ${j.view.jobId} has ended (${j.view.state}); there is nothing to cancel.`));
        j.cancelledAt = Date.now();
        this.advance(j);
        return send(res, 200, j.view);
      }
    }
    if (parts[1] === "instances" && parts[3] === "keep-alive") {
      const id = parts[2]!;
      if (m === "POST") {
        const b = body as { pid?: unknown; maxHours?: unknown };
        if (!Number.isInteger(b?.pid) || typeof b?.maxHours !== "number") return send(res, 400, err("INVALID_REQUEST", "pid and maxHours are required."));
        if ((b.maxHours as number) <= 0 || (b.maxHours as number) > 72) return send(res, 400, err("INVALID_REQUEST", 'Invalid request body at "maxHours": more than 0 and at most 72.'));
        const view: KeepAliveView = { instanceId: id, pid: b.pid as number, until: new Date(Date.now() + (b.maxHours as number) * 3_600_000).toISOString(), endedReason: null, costSoFar: 0, currency: "USD" };
        this.holds.set(id, view);
        return send(res, 200, view);
      }
      const hold = this.holds.get(id);
      if (!hold) return send(res, 404, err("NOT_FOUND", `No keep-alive hold on ${id}.`));
      if (m === "GET") return send(res, 200, hold);
      if (m === "DELETE") {
        hold.endedReason = "cancelled";
        return send(res, 200, hold);
      }
    }
    return send(res, 404, err("NOT_FOUND", "No such route."));
  }

  private submit(res: ServerResponse, b: JobRequest): void {
    const purposes = this.o.purposes ?? ["rstudio"];
    const purpose = b?.purpose ?? purposes[0]!;
    if (!purposes.includes(purpose)) return send(res, 400, err("UNKNOWN_PURPOSE", `Unknown purpose "${purpose}"; the pool has ${purposes.join(", ")}.`));
    if (typeof b.script !== "string" && !Array.isArray(b.command)) return send(res, 400, err("MISSING_FIELD", "script or command is required."));
    const size = Buffer.byteLength(b.script ?? "") + (b.files ?? []).reduce((s, f) => s + Buffer.from(f.contentBase64, "base64").length, 0);
    if (size > (this.o.maxScriptBytes ?? 1024 * 1024)) return send(res, 413, err("SCRIPT_TOO_LARGE", `The script and files are ${size} bytes; this purpose takes at most ${this.o.maxScriptBytes ?? 1024 * 1024}.`));
    const now = Date.now();
    const jobId = `job-${String(++this.seq).padStart(4, "0")}`;
    const view: JobView = {
      jobId,
      purpose,
      ownerId: "alice",
      runner: "pool",
      state: "queued",
      stateReason: null,
      scriptName: b.scriptName ?? "job.R",
      queuePosition: 1,
      instanceId: null,
      exitCode: null,
      createdAt: new Date(now).toISOString(),
      startedAt: null,
      endedAt: null,
      deadlineAt: null,
      cost: 0,
      currency: "USD",
    };
    this.jobs.set(jobId, { view, request: b, created: now, cancelledAt: null });
    send(res, 201, view);
  }
}

function err(code: string, message: string) {
  return { error: { code, message } };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

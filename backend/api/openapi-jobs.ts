/** The OpenAPI description of the batch-job and keep-alive routes (issue #18), merged into openapi.ts. */
import { JOB_RUNNERS, JOB_STATES } from "../../contract/jobs";

const error = { $ref: "#/components/schemas/Error" };
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: "Error", content: { "application/json": { schema: error } } }]));
const json = (schema: unknown, description = "OK") => ({ description, content: { "application/json": { schema } } });
const jobParam = { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^job-[0-9a-f]{16}$" } };
const idParam = { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^rsp-[0-9a-f]{16}$" } };
const job = { $ref: "#/components/schemas/Job" };
const hold = { $ref: "#/components/schemas/KeepAlive" };

export const jobPaths = {
  "/v1/jobs": {
    post: {
      summary: "Submit a batch job: an R script (run with Rscript in your home on an instance of its own) or a command; it waits in the queue for room",
      requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/JobRequest" } } } },
      responses: { "201": json(job, "Queued"), ...errors(400, 401, 402, 413, 415, 429) },
    },
    get: { summary: "Your jobs: every active one and those that ended in the last 7 days, newest first", responses: { "200": json({ type: "object", properties: { jobs: { type: "array", items: job } } }), ...errors(401) } },
  },
  "/v1/jobs/{id}": {
    get: { summary: "One of your jobs: state, exit code, times, place in the queue, cost so far", parameters: [jobParam], responses: { "200": json(job), ...errors(401, 404) } },
    delete: { summary: "Cancel it (its process is stopped and its instance released); an ended job answers 409 JOB_ENDED", parameters: [jobParam], responses: { "200": json(job), ...errors(401, 404, 409) } },
  },
  "/v1/jobs/{id}/log": {
    get: {
      summary: "Its output (stdout and stderr): JSON chunks from a byte offset, or with follow=1 a text/plain stream until the job ends; 410 JOB_LOG_EXPIRED once the log was removed after the purpose's jobs.logRetentionDays (the job itself stays)",
      parameters: [
        jobParam,
        { name: "offset", in: "query", schema: { type: "integer", minimum: 0 } },
        { name: "follow", in: "query", schema: { enum: ["0", "1", "true", "false"] } },
      ],
      responses: {
        "200": {
          description: "A chunk (JSON), or the streamed log (follow=1)",
          content: { "application/json": { schema: { $ref: "#/components/schemas/JobLogChunk" } }, "text/plain": { schema: { type: "string" } } },
        },
        ...errors(400, 401, 404, 410),
      },
    },
  },
  "/v1/instances/{id}/keep-alive": {
    post: {
      summary: "Keep your instance until this process on it ends, at most maxHours (replaces the CPU-threshold guess of the idle reaper)",
      parameters: [idParam],
      requestBody: { content: { "application/json": { schema: { type: "object", required: ["pid", "maxHours"], properties: { pid: { type: "integer", minimum: 1 }, maxHours: { type: "number", exclusiveMinimum: 0, maximum: 72 } }, additionalProperties: false } } } },
      responses: { "200": json(hold), ...errors(400, 401, 404, 409) },
    },
    get: { summary: "The instance's hold: its cap, why it ended, the cost since it began", parameters: [idParam], responses: { "200": json(hold), ...errors(401, 404) } },
    delete: { summary: "End the hold (the usual idle timeout applies again)", parameters: [idParam], responses: { "200": json(hold), ...errors(401, 404) } },
  },
};

export const jobSchemas = {
  JobRequest: {
    type: "object",
    description: "Exactly one of script or command",
    properties: {
      purpose: { type: "string" },
      script: { type: "string", description: "R source, run with Rscript" },
      scriptName: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description: "Its file name in the home (default job.R)" },
      command: { type: "array", items: { type: "string" }, minItems: 1, description: "argv instead of a script" },
      args: { type: "array", items: { type: "string" } },
      env: { type: "object", additionalProperties: { type: "string" }, description: "The job's environment (a model configuration, say); the backend's is never passed" },
      files: { type: "array", items: { type: "object", required: ["path", "contentBase64"], properties: { path: { type: "string" }, contentBase64: { type: "string" } } }, description: "Written into the home (relative paths) before it starts" },
    },
    additionalProperties: false,
  },
  Job: {
    type: "object",
    properties: {
      jobId: { type: "string" },
      purpose: { type: "string" },
      ownerId: { type: "string" },
      runner: { enum: [...JOB_RUNNERS] },
      state: { enum: [...JOB_STATES] },
      stateReason: { type: ["string", "null"] },
      scriptName: { type: ["string", "null"] },
      queuePosition: { type: ["integer", "null"], description: "1 = next to start, while queued" },
      instanceId: { type: ["string", "null"] },
      exitCode: { type: ["integer", "null"] },
      createdAt: { type: "string", format: "date-time" },
      startedAt: { type: ["string", "null"], format: "date-time" },
      endedAt: { type: ["string", "null"], format: "date-time" },
      deadlineAt: { type: ["string", "null"], format: "date-time", description: "Cancelled then if still running (the purpose's maximum runtime)" },
      cost: { type: "number" },
      currency: { type: "string" },
    },
  },
  JobLogChunk: {
    type: "object",
    properties: { jobId: { type: "string" }, offset: { type: "integer" }, nextOffset: { type: "integer" }, text: { type: "string" }, complete: { type: "boolean" } },
  },
  KeepAlive: {
    type: "object",
    properties: {
      instanceId: { type: "string" },
      pid: { type: "integer" },
      until: { type: "string", format: "date-time" },
      endedReason: { type: ["string", "null"], description: "process-ended, cap, cancelled, instance-ended; null while it holds" },
      costSoFar: { type: "number" },
      currency: { type: "string" },
    },
  },
};

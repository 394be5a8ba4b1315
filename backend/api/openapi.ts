/** The OpenAPI 3.1 description of the /v1 API, served at /v1/openapi.json. */
import { INSTANCE_STATES } from "../../contract";
import { adminPaths, adminSchemas } from "./openapi-admin";
import { jobPaths, jobSchemas } from "./openapi-jobs";

const error = { $ref: "#/components/schemas/Error" };
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: "Error", content: { "application/json": { schema: error } } }]));
const json = (schema: unknown, description = "OK") => ({ description, content: { "application/json": { schema } } });
const idParam = { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^rsp-[0-9a-f]{16}$" } };
const sessionParam = { name: "sessionId", in: "path", required: true, schema: { type: "string", pattern: "^[\\w.@-]{1,96}$" } };

export function openApiDocument(version: string) {
  return {
    openapi: "3.1.0",
    info: {
      title: "RStudio Pool API",
      version,
      description: "Claim, keep alive, reach and release RStudio hosts. Every route needs `Authorization: Bearer <token>`; a user only sees their own instances.",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    paths: {
      ...adminPaths,
      "/v1/me": { get: { summary: "Who the token belongs to", responses: { "200": json({ $ref: "#/components/schemas/Me" }), ...errors(401) } } },
      "/v1/purposes": { get: { summary: "Purposes one can claim", responses: { "200": json({ $ref: "#/components/schemas/Purposes" }), ...errors(401) } } },
      "/v1/claims": {
        post: {
          summary: "Claim an instance: yours if you have one, else a warm one, else a new launch",
          requestBody: { content: { "application/json": { schema: { type: "object", properties: { purpose: { type: "string" } }, additionalProperties: false } } } },
          responses: {
            "200": json({ $ref: "#/components/schemas/Claim" }, "You already had this instance"),
            "201": json({ $ref: "#/components/schemas/Claim" }, "Assigned a warm instance or launched a new one"),
            ...errors(400, 401, 402, 413, 503),
          },
        },
      },
      "/v1/instances": { get: { summary: "Your instances (and those that ended in the last day)", responses: { "200": json({ type: "object", properties: { instances: { type: "array", items: { $ref: "#/components/schemas/Instance" } } } }), ...errors(401) } } },
      "/v1/instances/{id}": {
        get: { summary: "One of your instances", parameters: [idParam], responses: { "200": json({ type: "object", properties: { instance: { $ref: "#/components/schemas/Instance" } } }), ...errors(401, 404) } },
        delete: { summary: "Release it (it is terminated)", parameters: [idParam], responses: { "200": json({ type: "object", properties: { instance: { $ref: "#/components/schemas/Instance" } } }), ...errors(401, 404) } },
      },
      "/v1/instances/{id}/heartbeat": {
        post: { summary: "You are working on it: push its idle deadline", parameters: [idParam], responses: { "200": json({ type: "object", properties: { instanceId: { type: "string" }, idleDeadline: { type: "string", format: "date-time" } } }), ...errors(401, 404, 409) } },
      },
      "/v1/instances/{id}/connection": {
        post: {
          summary: "How to reach its web app: direct host and port, or an SSM port-forwarding session",
          parameters: [idParam],
          requestBody: { content: { "application/json": { schema: { type: "object", properties: { localPort: { type: "integer", minimum: 1024, maximum: 65535 }, app: { enum: ["rstudio", "jupyter"], description: "Which of the instance's apps to reach (default: its main app)" } }, additionalProperties: false } } } },
          responses: { "200": json({ oneOf: [{ $ref: "#/components/schemas/DirectConnection" }, { $ref: "#/components/schemas/SsmConnection" }] }), ...errors(400, 401, 404, 409, 503) },
        },
      },
      "/v1/instances/{id}/sessions/{sessionId}/resume": {
        post: {
          summary: "A new token for your SSM session whose WebSocket the service closed (ssm:ResumeSession); the session must be active and aimed at this instance",
          parameters: [idParam, sessionParam],
          responses: { "200": json({ type: "object", properties: { sessionId: { type: "string" }, streamUrl: { type: "string" }, tokenValue: { type: "string" } } }), ...errors(400, 401, 404, 409, 502, 503) },
        },
      },
      "/v1/instances/{id}/sessions/{sessionId}": {
        delete: {
          summary: "End your SSM session (ssm:TerminateSession); one already ended answers ended: false",
          parameters: [idParam, sessionParam],
          responses: { "200": json({ type: "object", properties: { sessionId: { type: "string" }, ended: { type: "boolean" } } }), ...errors(400, 401, 404, 502, 503) },
        },
      },
      "/v1/costs": { get: { summary: "Your spending and budget", responses: { "200": json({ $ref: "#/components/schemas/Costs" }), ...errors(401) } } },
      ...jobPaths,
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        ...adminSchemas,
        ...jobSchemas,
        Error: {
          type: "object",
          required: ["error"],
          properties: { error: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" } } } },
        },
        Me: { type: "object", properties: { userId: { type: "string" }, isAdmin: { type: "boolean" } } },
        Purposes: {
          type: "object",
          properties: {
            defaultPurpose: { type: "string" },
            purposes: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  name: { type: "string" },
                  description: { type: "string" },
                  servicePort: { type: "integer" },
                  hourlyPrice: { type: ["number", "null"] },
                  currency: { type: "string" },
                  idleTimeoutSeconds: { type: "integer" },
                  max: { type: "integer" },
                  app: { enum: ["rstudio", "jupyter"], description: "The web app the purpose's instances serve" },
                  apps: {
                    type: "array",
                    description: "Every app they serve with its port on the instance, the main app first",
                    items: { type: "object", properties: { app: { enum: ["rstudio", "jupyter"] }, port: { type: "integer" } } },
                  },
                },
              },
            },
          },
        },
        Instance: {
          type: "object",
          properties: {
            instanceId: { type: "string" },
            purpose: { type: "string" },
            state: { enum: [...INSTANCE_STATES] },
            stateReason: { type: ["string", "null"] },
            ownerId: { type: ["string", "null"] },
            instanceType: { type: ["string", "null"] },
            market: { type: ["string", "null"] },
            hourlyPrice: { type: ["number", "null"] },
            currency: { type: "string" },
            launchedAt: { type: "string", format: "date-time" },
            runningAt: { type: ["string", "null"], format: "date-time" },
            assignedAt: { type: ["string", "null"], format: "date-time" },
            endedAt: { type: ["string", "null"], format: "date-time" },
            idleDeadline: { type: ["string", "null"], format: "date-time" },
            expiresAt: { type: ["string", "null"], format: "date-time" },
            app: { enum: ["rstudio", "jupyter"], description: "The web app the user reaches there" },
            apps: { type: "array", items: { enum: ["rstudio", "jupyter"] }, description: "Every app it serves, the main one first" },
            jobId: { type: "string", description: "The batch job running on it (absent for interactive instances)" },
          },
        },
        Claim: { type: "object", properties: { instance: { $ref: "#/components/schemas/Instance" }, source: { enum: ["existing", "warm", "launched"] } } },
        DirectConnection: { type: "object", properties: { kind: { const: "direct" }, host: { type: "string" }, port: { type: "integer" }, path: { type: "string" }, app: { enum: ["rstudio", "jupyter"] } } },
        SsmConnection: {
          type: "object",
          properties: {
            kind: { const: "ssm" },
            sessionId: { type: "string" },
            streamUrl: { type: "string" },
            tokenValue: { type: "string" },
            target: { type: "string" },
            region: { type: "string" },
            documentName: { type: "string" },
            parameters: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
            endpoint: { type: "string" },
            app: { enum: ["rstudio", "jupyter"] },
          },
        },
        Costs: {
          type: "object",
          properties: {
            currency: { type: "string" },
            ratePerHour: { type: "number" },
            spentToday: { type: "number" },
            spentThisMonth: { type: "number" },
            budget: { type: ["number", "null"] },
            budgetUsed: { type: ["number", "null"] },
            budgetState: { enum: ["ok", "warning", "exceeded"] },
            instances: { type: "array", items: { type: "object", properties: { instanceId: { type: "string" }, purpose: { type: "string" }, hourlyPrice: { type: "number" } } } },
          },
        },
      },
    },
  };
}

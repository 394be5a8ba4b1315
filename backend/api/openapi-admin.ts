/** The admin read routes' part of the OpenAPI document (merged into openapi.ts). */
import { DEFAULT_PAGE, EVENT_KINDS, MAX_PAGE } from "../pool/admin-views";

const error = { $ref: "#/components/schemas/Error" };
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: "Error", content: { "application/json": { schema: error } } }]));
const json = (schema: unknown) => ({ description: "OK", content: { "application/json": { schema } } });
const time = { type: "string", description: "ISO 8601 (2026-12-01T10:00:00Z) or epoch milliseconds" };
const q = (name: string, schema: unknown, description: string) => ({ name, in: "query", required: false, schema, description });

export const adminPaths = {
  "/v1/admin/instances": {
    get: {
      summary: "Every live instance with its owner, state, idle deadline and cost so far (admin token)",
      responses: { "200": json({ type: "object", properties: { instances: { type: "array", items: { $ref: "#/components/schemas/AdminInstance" } } } }), ...errors(401, 403) },
    },
  },
  "/v1/admin/events": {
    get: {
      summary: "The pool's history, filtered and paged (admin token)",
      parameters: [
        q("user", { type: "string" }, "Only events about this user"),
        q("instance", { type: "string" }, "Only events about this instance"),
        q("kind", { type: "string" }, `Comma-separated kinds: ${EVENT_KINDS.join(", ")}`),
        q("since", time, "Events at or after this time"),
        q("until", time, "Events before this time"),
        q("order", { enum: ["desc", "asc"], default: "desc" }, "desc: newest first"),
        q("limit", { type: "integer", minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE }, "Page size"),
        q("cursor", { type: "string" }, "The nextCursor of the previous page"),
      ],
      responses: { "200": json({ $ref: "#/components/schemas/EventPage" }), ...errors(400, 401, 403) },
    },
  },
};

const nullableString = { type: ["string", "null"] };
const nullableTime = { type: ["string", "null"], format: "date-time" };

export const adminSchemas = {
  AdminInstance: {
    type: "object",
    properties: {
      id: { type: "string" },
      purpose: { type: "string" },
      state: { enum: ["launching", "booting", "running", "releasing"] },
      stateReason: nullableString,
      ownerId: nullableString,
      since: { type: "string", format: "date-time" },
      idleDeadline: nullableTime,
      costSoFar: { type: "number" },
      currency: { type: "string" },
      hourlyPrice: { type: ["number", "null"] },
      providerId: nullableString,
      instanceType: nullableString,
      market: nullableString,
      launchedAt: { type: "string", format: "date-time" },
    },
  },
  EventPage: {
    type: "object",
    properties: {
      events: {
        type: "array",
        items: {
          type: "object",
          properties: {
            id: { type: "integer" },
            at: { type: "string", format: "date-time" },
            kind: { enum: [...EVENT_KINDS] },
            instanceId: nullableString,
            userId: nullableString,
            purpose: nullableString,
            reason: nullableString,
            actor: { type: "string" },
            details: { type: ["object", "null"] },
          },
        },
      },
      nextCursor: nullableString,
    },
  },
};

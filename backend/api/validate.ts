/** Request validation with zod; a failure is a 400 that names the field and changes nothing. */
import type { z } from "zod";
import { PoolError } from "../errors";
import { INSTANCE_ID_PATTERN } from "../pool/ids";

/** An instance id from a URL; one that cannot be an instance id is simply not the caller's instance. */
export function parseInstanceId(raw: string): string {
  if (!INSTANCE_ID_PATTERN.test(raw)) {
    throw new PoolError("INSTANCE_NOT_FOUND", `No instance "${raw.slice(0, 80)}" belongs to you. Refresh the list of your instances.`);
  }
  return raw;
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown, what = "request body"): z.infer<T> {
  const res = schema.safeParse(body ?? {});
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  const field = issue.path.join(".");
  const missing = issue.code === "invalid_type" && issue.path.length > 0 && valueAt(body, issue.path) === undefined;
  if (missing && field) throw new PoolError("MISSING_FIELD", `Missing field "${field}" in the ${what}.`);
  throw new PoolError("INVALID_REQUEST", `Invalid ${what}${field ? ` at "${field}"` : ""}: ${issue.message}.`);
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

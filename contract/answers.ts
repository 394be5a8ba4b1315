/**
 * How a client reads an answer of the API, shared by the extension's client and the CLI so both
 * give the same code to the same answer. The backend always sends `{ error: { code, message } }`
 * with a failure; an answer without one came from something else (a proxy, a wrong URL), so it
 * is BAD_RESPONSE, except a bare 401, which a proxy in front of the backend may send.
 */
import type { ApiErrorBody } from "./wire";

/** The answer's JSON, or undefined when it is empty or not JSON. */
export function answerJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The code and the backend's message (if it sent one) of a failed answer. */
export function answerError(status: number, json: unknown): { code: string; message?: string } {
  const error = (json as ApiErrorBody | undefined)?.error;
  return { code: error?.code ?? (status === 401 ? "UNAUTHORIZED" : "BAD_RESPONSE"), message: error?.message };
}

/**
 * Domain errors with stable codes. Every layer throws these; the API's error middleware turns
 * them into `{ error: { code, message } }` with the status listed in
 * contract/errors.ts, so a code always maps to the same HTTP status.
 */

import { ERROR_STATUS, type ErrorCode } from "../contract/errors";

export { ERROR_STATUS, type ErrorCode };

export class PoolError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable fields (never secrets), logged and not sent to clients. */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "PoolError";
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isPoolError(err: unknown): err is PoolError {
  return err instanceof PoolError;
}

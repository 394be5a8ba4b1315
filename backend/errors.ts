/**
 * Domain errors with stable codes. Every layer throws these; the API's error middleware turns
 * them into `{ error: { code, message } }` with the status listed here, so a code always maps
 * to the same HTTP status.
 */

export const ERROR_STATUS = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  MISSING_FIELD: 400,
  UNKNOWN_COMMAND: 400,
  UNKNOWN_PURPOSE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INSTANCE_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  USER_EXISTS: 409,
  INSTANCE_NOT_RUNNING: 409,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  BUDGET_EXCEEDED: 402,
  POOL_EXHAUSTED: 503,
  SSM_AGENT_OFFLINE: 503,
  PROVIDER_UNAVAILABLE: 503,
  PROVIDER_THROTTLED: 503,
  PROVIDER_ERROR: 502,
  INVALID_CONFIG: 500,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

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

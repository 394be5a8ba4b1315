/**
 * The backend's error codes and the HTTP status each always maps to. Every error the API sends
 * is `{ error: { code, message } }` (ApiErrorBody) with one of these codes; clients branch on
 * the code, never on the message.
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
  SSM_SESSION_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  USER_EXISTS: 409,
  INSTANCE_NOT_RUNNING: 409,
  /** The instance belongs to a purpose no longer in the configuration: it is being released. */
  PURPOSE_REMOVED: 410,
  /** The job's log was removed after the purpose's log retention (jobs.logRetentionDays); the job itself is still there. */
  JOB_LOG_EXPIRED: 410,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  /** A job's script (or its files) is over the purpose's limit. */
  SCRIPT_TOO_LARGE: 413,
  /** The user (or the purpose) has as many jobs queued and running as it may. */
  JOB_LIMIT: 429,
  /** The job has ended: it cannot be cancelled or changed any more. */
  JOB_ENDED: 409,
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

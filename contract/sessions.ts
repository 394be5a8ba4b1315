/**
 * Wire types of the SSM session routes (resume and end a port-forward session), shared by the
 * backend and the extension. Part of the shared contract (index.ts exports it).
 */

/** POST /v1/instances/:id/sessions/:sessionId/resume: a new token for the same session. */
export interface ResumeSessionResponse {
  sessionId: string;
  streamUrl: string;
  tokenValue: string;
}

/** DELETE /v1/instances/:id/sessions/:sessionId */
export interface EndSessionResponse {
  sessionId: string;
  ended: boolean;
}

/** SSM session ids: letters, digits, "-", "_", ".", "@" (AWS allows up to 96 characters). */
export const SESSION_ID_PATTERN = /^[\w.@-]{1,96}$/;

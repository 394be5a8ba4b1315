/** `POST /v1/claims`, the part both its paths share (the Express route and the fast path): the body's rules and the answer. */
import { z } from "zod";
import type { ClaimResponse } from "../../contract";
import type { PoolApi } from "../pool/api";
import { parseBody } from "./validate";
import { instanceView } from "./views";

export const CLAIMS_ROUTE = "/v1/claims";

export const claimSchema = z.object({ purpose: z.string().min(1).max(64).optional() }).strict();

/** Validates the body, claims, and says what to answer (200 for the user's own instance, 201 for a new hand-out). */
export async function answerClaim(pool: PoolApi, userId: string, body: unknown): Promise<{ status: number; body: ClaimResponse }> {
  const parsed = parseBody(claimSchema, body);
  const outcome = await pool.claim(userId, parsed.purpose ?? null);
  return { status: outcome.source === "existing" ? 200 : 201, body: { instance: instanceView(outcome.instance, pool.config), source: outcome.source } };
}


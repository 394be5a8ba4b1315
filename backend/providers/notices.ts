/**
 * The notice an instance writes about itself when its provider warns of an interruption or
 * recommends a move (backend/providers/ec2/spot-watcher.sh writes it on EC2; the local provider
 * reads the same format from a file beside each local instance, which is how a test or an
 * operator plays an interruption on the embedded default):
 *   {"kind":"interruption","notice":{"action":"terminate","time":"..."},"seenAt":"...",...}
 *   {"kind":"rebalance","notice":{"noticeTime":"..."},"seenAt":"..."}
 */
import { INTERRUPTION_WARNING_MS, type InstanceObservation } from "./types";

/** The notice file's text as an observation; null when there is none or it is not one. */
export function parseNotice(providerId: string, text: string): InstanceObservation | null {
  let doc: Record<string, unknown>;
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== "object" || Array.isArray(v)) return null;
    doc = v as Record<string, unknown>;
  } catch {
    return null;
  }
  const seen = typeof doc.seenAt === "string" ? Date.parse(doc.seenAt) : NaN;
  if (!Number.isFinite(seen)) return null;
  const notice = doc.notice && typeof doc.notice === "object" ? (doc.notice as Record<string, unknown>) : {};
  if (doc.kind === "interruption") {
    // IMDS gives the time EC2 acts; without it, two minutes from when the watcher saw it.
    const when = typeof notice.time === "string" ? Date.parse(notice.time) : NaN;
    const deadline = Number.isFinite(when) ? when : seen + INTERRUPTION_WARNING_MS;
    const action = typeof notice.action === "string" ? notice.action : "terminate";
    return { kind: "interruption-warning", providerId, at: seen, action, deadline };
  }
  if (doc.kind === "rebalance") return { kind: "rebalance-recommendation", providerId, at: seen };
  return null;
}

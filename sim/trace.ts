/**
 * Traces: CSV with the header `timestamp,userId,purpose,sessionSeconds` (ISO 8601 timestamps),
 * one claim per row. An optional fifth column `forgetsToClose` (0/1) marks sessions whose user
 * walks away without releasing: their instance idles until the reaper takes it. Files without
 * it are read as "everyone closes".
 */

export interface TraceRow {
  at: number;
  userId: string;
  purpose: string;
  sessionSeconds: number;
  forgetsToClose: boolean;
}

const REQUIRED = ["timestamp", "userId", "purpose", "sessionSeconds"];

export function parseTrace(text: string): TraceRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new Error("the trace is empty: expected a header timestamp,userId,purpose,sessionSeconds");
  const header = lines[0]!.split(",").map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  for (const name of REQUIRED) if (col(name) < 0) throw new Error(`the trace header lacks "${name}": expected timestamp,userId,purpose,sessionSeconds`);
  const forgets = col("forgetsToClose");
  const rows = lines.slice(1).map((line, i) => {
    const cells = line.split(",").map((c) => c.trim());
    const at = Date.parse(cells[col("timestamp")] ?? "");
    const sessionSeconds = Number(cells[col("sessionSeconds")]);
    const where = `line ${i + 2}`;
    if (!Number.isFinite(at)) throw new Error(`${where}: timestamp "${cells[col("timestamp")]}" is not ISO 8601`);
    if (!Number.isFinite(sessionSeconds) || sessionSeconds < 0) throw new Error(`${where}: sessionSeconds must be a number >= 0`);
    const userId = cells[col("userId")] ?? "";
    const purpose = cells[col("purpose")] ?? "";
    if (!userId || !purpose) throw new Error(`${where}: userId and purpose must not be empty`);
    return { at, userId, purpose, sessionSeconds, forgetsToClose: forgets >= 0 && /^(1|true|yes)$/i.test(cells[forgets] ?? "") };
  });
  return rows.sort((a, b) => a.at - b.at);
}

export function formatTrace(rows: TraceRow[]): string {
  const out = ["timestamp,userId,purpose,sessionSeconds,forgetsToClose"];
  for (const r of rows) out.push(`${new Date(r.at).toISOString()},${r.userId},${r.purpose},${Math.round(r.sessionSeconds)},${r.forgetsToClose ? 1 : 0}`);
  return `${out.join("\n")}\n`;
}

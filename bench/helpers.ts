/** Small things both benchmark targets need: a PostgreSQL admin statement, a log's tail, a pause. */
import { readFileSync } from "node:fs";
import pg from "pg";

/** Runs one statement (CREATE / DROP DATABASE) on the server's admin connection. */
export async function adminQuery(base: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** The last lines of a log file, for an error message. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

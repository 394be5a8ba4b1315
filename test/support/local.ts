/** Cleans up local-provider instances a test left running (they outlive the backend by design). */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export function killLocalInstances(dataDir: string): void {
  const dir = path.join(dataDir, "local-instances");
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    return;
  }
  for (const f of files) {
    try {
      const { pid } = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as { pid: number };
      process.kill(-pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
}

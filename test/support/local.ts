/** Cleans up local-provider instances a test left running (they outlive the backend by design). */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { taggedProcesses } from "../../backend/providers/local/processes";

function killGroup(pid: unknown): void {
  // A launch intent has no pid; `-0` would signal this test's own process group.
  if (typeof pid !== "number" || pid <= 0) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}

export function killLocalInstances(dataDir: string): void {
  const dir = path.join(dataDir, "local-instances");
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    /* no state files: the tagged processes below are all there is */
  }
  for (const f of files) {
    try {
      killGroup((JSON.parse(readFileSync(path.join(dir, f), "utf8")) as { pid: unknown }).pid);
    } catch {
      /* unreadable */
    }
  }
  // Processes whose launch never wrote their pid are found by their tags.
  for (const p of taggedProcesses({ home: path.resolve(dataDir) })) killGroup(p.pid);
}

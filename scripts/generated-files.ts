/**
 * The write-or-check loop of the generators (gen-iam.ts, gen-image-helpers.ts): each file is
 * rewritten when its text differs, or with `--check` named as stale (exit 1).
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export function writeGenerated(files: Record<string, string>, argv: string[], script: string, mode?: number): void {
  const check = argv.includes("--check");
  let stale = 0;
  for (const [file, text] of Object.entries(files)) {
    let current = "";
    try {
      current = readFileSync(file, "utf8");
    } catch {
      // absent: written below, or stale under --check
    }
    if (current === text) continue;
    stale++;
    if (check) process.stderr.write(`${path.relative(process.cwd(), file)} is stale: run npm run ${script}\n`);
    else {
      writeFileSync(file, text, mode === undefined ? undefined : { mode });
      process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
    }
  }
  if (check && stale) process.exit(1);
}

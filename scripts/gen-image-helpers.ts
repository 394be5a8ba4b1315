/**
 * Writes the helpers baked into the RStudio image (deploy/image/helpers) from the backend's own
 * sources, so the AMI carries exactly what the EC2 provider runs:
 *   rstudio-pool-home   the home-volume helper, cut from backend/providers/ec2/user-data.sh
 *   rstudio-pool-busy   the busy check, BUSY_SCRIPT of backend/providers/ec2/busy-check.ts
 * (rstudio-pool-ready is written by hand in that directory.)
 *   npm run gen:image-helpers            rewrite them
 *   npm run gen:image-helpers -- --check exit 1 if they are stale
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { writeGenerated } from "./generated-files";
import { BUSY_SCRIPT } from "../backend/providers/ec2/busy-check";

const ROOT = path.resolve(__dirname, "..");
export const HELPERS_DIR = path.join(ROOT, "deploy", "image", "helpers");

/** The text between `cat >/usr/local/sbin/rstudio-pool-home <<'HELPER'` and `HELPER` in the user data. */
export function homeHelperFromUserData(userData: string): string {
  // The user data writes it under $R (a scratch root in its tests, empty on an instance).
  const m = /cat >"?(?:\$R)?\/usr\/local\/sbin\/rstudio-pool-home"? <<'HELPER'\n([\s\S]*?)\nHELPER\n/.exec(userData);
  if (!m) throw new Error("user-data.sh has no rstudio-pool-home heredoc (<<'HELPER' ... HELPER)");
  return `${m[1]}\n`;
}

export function imageHelpers(): Record<string, string> {
  const userData = readFileSync(path.join(ROOT, "backend", "providers", "ec2", "user-data.sh"), "utf8");
  return {
    "rstudio-pool-home": homeHelperFromUserData(userData),
    "rstudio-pool-busy": [
      "#!/bin/bash",
      "# The pool's busy check (generated from backend/providers/ec2/busy-check.ts by npm run gen:image-helpers).",
      "# Prints one line: load=<1-min load> cpus=<n> rsession=<busiest rsession %CPU>",
      ...BUSY_SCRIPT,
      "",
    ].join("\n"),
  };
}

function main(argv: string[]): void {
  const files = Object.entries(imageHelpers()).map(([name, text]) => [path.join(HELPERS_DIR, name), text]);
  writeGenerated(Object.fromEntries(files), argv, "gen:image-helpers", 0o755);
}

if (require.main === module) main(process.argv.slice(2));

// Bundles the extension (one CommonJS file for VS Code's extension host, `vscode` external) and
// the backend (CLI + the placeholder app the local provider runs). `--watch` rebuilds on change.
import * as esbuild from "esbuild";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";

const watch = process.argv.includes("--watch");
const production = process.argv.includes("--production");

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: production ? false : "linked",
  minify: production,
  logLevel: "warning",
  legalComments: "none",
};

const builds = [
  {
    ...common,
    entryPoints: ["extension/extension.ts"],
    outfile: "dist/extension.js",
    external: ["vscode"],
    // The extension ships without node_modules: everything it needs is in this file.
    minify: true,
    metafile: true,
  },
  {
    ...common,
    entryPoints: {
      cli: "backend/cli.ts",
      placeholder: "backend/providers/local/placeholder-app.ts",
    },
    outdir: "dist/backend",
    // Native or optional modules stay in node_modules.
    external: ["better-sqlite3", "pg-native", "pino-pretty"],
  },
].filter((b) => {
  const entries = Array.isArray(b.entryPoints) ? b.entryPoints : Object.values(b.entryPoints);
  return entries.every((e) => existsSync(e));
});

// The EC2 instance bootstrap template is read at run time from beside the bundled backend.
mkdirSync("dist/backend", { recursive: true });
copyFileSync("backend/providers/ec2/user-data.sh", "dist/backend/user-data.sh");
copyFileSync("backend/providers/ec2/spot-watcher.sh", "dist/backend/spot-watcher.sh");

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  const results = await Promise.all(builds.map((b) => esbuild.build(b)));
  for (const r of results) {
    if (r.metafile) {
      const out = r.metafile.outputs["dist/extension.js"];
      if (out && out.bytes > 500 * 1024) {
        console.error(`dist/extension.js is ${out.bytes} bytes; the budget is 500 KB`);
        process.exit(1);
      }
    }
  }
}

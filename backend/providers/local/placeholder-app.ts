/**
 * The placeholder "RStudio": a tiny web app the local provider runs when no real RStudio
 * Server or Docker engine is available. It says plainly that it stands in for RStudio, so
 * nobody mistakes a demo for the real thing. Usage: placeholder --port N [--instance ID] [--purpose P]
 */
import { createServer } from "node:http";

function arg(name: string, fallback = ""): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function placeholderPage(instanceId: string, purpose: string, startedAt: Date): string {
  const id = escapeHtml(instanceId);
  const p = escapeHtml(purpose);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>RStudio placeholder · ${id}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2b36}
header{background:#75aadb;color:#fff;padding:12px 20px;font-weight:600}
main{padding:24px 20px;max-width:720px}
code{background:#e4e9ee;padding:1px 5px;border-radius:3px}
.note{border-left:4px solid #e0a800;background:#fff8e1;padding:10px 14px;margin:16px 0}
</style></head>
<body><header>RStudio Pool · placeholder instance</header>
<main>
<h1 id="title">This page stands in for RStudio Server</h1>
<p class="note">No RStudio Server or Docker engine was available on the backend's machine, so the local
provider started this placeholder instead. Everything around it (claiming, the tunnel, keep-alive,
idle reaping, release) is real; only RStudio itself is missing. Set <code>POOL_LOCAL_RUNTIME</code>
to <code>docker</code>, <code>rserver</code> or <code>command</code> to run the real thing.</p>
<dl>
<dt>Instance</dt><dd id="instance-id"><code>${id}</code></dd>
<dt>Purpose</dt><dd id="purpose"><code>${p}</code></dd>
<dt>Started</dt><dd>${startedAt.toISOString()}</dd>
</dl>
</main></body></html>`;
}

function main(): void {
  const port = Number(arg("port"));
  if (!Number.isInteger(port) || port <= 0) {
    console.error("placeholder: --port N is required");
    process.exit(2);
  }
  const instanceId = arg("instance", "local");
  const purpose = arg("purpose", "rstudio");
  const startedAt = new Date();
  const server = createServer((req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    // Framing is allowed on purpose: the extension shows this page inside a webview iframe.
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(placeholderPage(instanceId, purpose, startedAt));
  });
  server.listen(port, "127.0.0.1");
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (require.main === module) main();

/**
 * The HTML of the RStudio webview (no vscode import, so it is unit-tested): a toolbar with
 * reload and open-in-browser, and either the iframe on the tunnel or a "tunnel down" page with a
 * retry button. The CSP is strict: nothing by default, our nonce'd script and our stylesheet,
 * and frames only from the tunnel's origin.
 */

export type PanelView =
  | { kind: "frame"; frameUrl: string }
  | { kind: "connecting"; message: string }
  | { kind: "down"; message: string };

export interface PanelHtmlInput {
  title: string;
  instanceId: string;
  nonce: string;
  /** webview.cspSource: where our script and style come from. */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  view: PanelView;
}

/** Messages the webview sends to the extension. */
export type PanelMessage = { type: "reload" } | { type: "openInBrowser" } | { type: "retry" };

export function isPanelMessage(m: unknown): m is PanelMessage {
  const t = (m as { type?: unknown } | null)?.type;
  return t === "reload" || t === "openInBrowser" || t === "retry";
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** The origin of the frame URL (scheme://host:port), the only thing frame-src allows. */
export function frameOrigin(url: string): string {
  return new URL(url).origin;
}

export function panelHtml(p: PanelHtmlInput): string {
  const frameSrc = p.view.kind === "frame" ? frameOrigin(p.view.frameUrl) : "'none'";
  const csp = [
    "default-src 'none'",
    `frame-src ${frameSrc}`,
    `script-src 'nonce-${p.nonce}'`,
    `style-src ${p.cspSource}`,
    `img-src ${p.cspSource}`,
  ].join("; ");
  let body: string;
  if (p.view.kind === "frame") {
    body = `<iframe id="rstudio" src="${escapeHtml(p.view.frameUrl)}" title="RStudio" allow="clipboard-read; clipboard-write"></iframe>`;
  } else if (p.view.kind === "connecting") {
    body = `<div class="notice"><h2>Connecting…</h2><p>${escapeHtml(p.view.message)}</p></div>`;
  } else {
    body = `<div class="notice down"><h2>The tunnel to RStudio is down</h2><p>${escapeHtml(p.view.message)}</p>
<p>Your R session keeps running on the instance; reconnecting does not lose work.</p>
<button id="retry" type="button">Retry</button></div>`;
  }
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(p.styleUri)}">
<title>${escapeHtml(p.title)}</title>
</head>
<body data-instance="${escapeHtml(p.instanceId)}">
<div class="toolbar">
<span class="title">${escapeHtml(p.title)}</span>
<button id="reload" type="button" title="Reload RStudio">Reload</button>
<button id="open-browser" type="button" title="Open RStudio in the browser">Open in Browser</button>
</div>
<main>${body}</main>
<script nonce="${p.nonce}" src="${escapeHtml(p.scriptUri)}"></script>
</body>
</html>`;
}

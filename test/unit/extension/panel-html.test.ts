import assert from "node:assert/strict";
import { test } from "node:test";
import { frameOrigin, isPanelMessage, panelHtml } from "../../../extension/ui/panel-html";

const base = {
  title: "RStudio: rstudio",
  instanceId: "i-1",
  nonce: "abc123",
  cspSource: "https://x.vscode-cdn.net",
  scriptUri: "https://x.vscode-cdn.net/media/panel.js",
  styleUri: "https://x.vscode-cdn.net/media/panel.css",
};

function csp(html: string): string {
  return /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)![1]!.replace(/&#39;/g, "'");
}

test("the frame page allows only the tunnel's origin as a frame, our nonce'd script and our style", () => {
  const html = panelHtml({ ...base, view: { kind: "frame", frameUrl: "http://localhost:8080/proxy/41234/" } });
  assert.equal(csp(html), "default-src 'none'; frame-src http://localhost:8080; script-src 'nonce-abc123'; style-src https://x.vscode-cdn.net; img-src https://x.vscode-cdn.net");
  assert.match(html, /<iframe id="rstudio" src="http:\/\/localhost:8080\/proxy\/41234\/"/);
  assert.match(html, /<script nonce="abc123" src="https:\/\/x\.vscode-cdn\.net\/media\/panel\.js">/);
  assert.match(html, /id="reload"/);
  assert.match(html, /id="open-browser"/);
  assert.equal((html.match(/<script/g) ?? []).length, 1, "no inline script besides ours");
});

test("the tunnel-down page has a retry button and no frame at all", () => {
  const html = panelHtml({ ...base, view: { kind: "down", message: "Failed to reconnect i-1: <the backend> does not answer." } });
  assert.match(csp(html), /frame-src 'none'/);
  assert.ok(!html.includes("<iframe"));
  assert.match(html, /<button id="retry"/);
  assert.match(html, /&lt;the backend&gt;/, "messages are escaped");
});

test("frame origins and messages", () => {
  assert.equal(frameOrigin("http://127.0.0.1:41234/"), "http://127.0.0.1:41234");
  assert.ok(isPanelMessage({ type: "retry" }));
  assert.ok(!isPanelMessage({ type: "exec" }));
  assert.ok(!isPanelMessage(null));
});

/**
 * The benchmark's load generator: a process of its own (pinned to another CPU than the server
 * when the machine allows), driven over IPC by bench/run.ts. It sends HTTP/1.1 requests with a
 * node:http keep-alive agent, a fixed number in flight, and measures each one end to end.
 *
 * Jobs (one message each, answered by one message):
 *   { kind: "once",  base, concurrency, items, expect }        every item once, in order
 *   { kind: "cycle", base, concurrency, items, expect, seconds } items round-robin for a while
 * An item is { method, path, auth, body? } (auth: the whole Authorization header value).
 */
import http from "node:http";

function send(agent, target, item) {
  return new Promise((resolve, reject) => {
    // "__NOW__" in a body becomes the time of sending (JupyterHub's activity timestamps).
    const body = item.body === undefined ? undefined : Buffer.from(item.body.includes("__NOW__") ? item.body.replaceAll("__NOW__", new Date().toISOString()) : item.body);
    const headers = { authorization: item.auth, "content-length": body ? body.length : 0 };
    if (body) headers["content-type"] = "application/json";
    const req = http.request({ agent, host: target.hostname, port: target.port, method: item.method, path: item.path, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function run(job) {
  const target = new URL(job.base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const expect = new Set(job.expect);
  const latencies = [];
  const statuses = {};
  const bodies = job.kind === "once" ? new Array(job.items.length) : null;
  const failures = [];
  let next = 0;
  const started = performance.now();
  const end = job.kind === "cycle" ? started + job.seconds * 1000 : Infinity;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      for (;;) {
        if (job.kind === "once" ? next >= job.items.length : performance.now() >= end) return;
        const i = next++;
        const item = job.items[i % job.items.length];
        const s = performance.now();
        const res = await send(agent, target, item);
        latencies.push(performance.now() - s);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (!expect.has(res.status) && failures.length < 5) failures.push(`${item.method} ${item.path}: ${res.status} ${res.text.slice(0, 300)}`);
        if (bodies) bodies[i] = res.text;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { latencies, seconds, statuses, failures, bodies };
}

process.on("message", (job) => {
  run(job).then(
    (r) => process.send({ ok: true, ...r }),
    (err) => process.send({ ok: false, error: String(err?.stack ?? err) }),
  );
});

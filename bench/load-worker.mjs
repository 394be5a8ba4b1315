/**
 * The load generator of the service benchmark, run in a worker thread so the client does not
 * share the server's event loop. Sends claims (one per token) and then heartbeats, with a
 * fixed number of requests in flight, and reports latencies.
 */
import http from "node:http";
import { parentPort, workerData } from "node:worker_threads";

// Heartbeats go through node:http with keep-alive: lighter on the shared CPU than fetch.
const agent = new http.Agent({ keepAlive: true, maxSockets: workerData.concurrency });
const target = new URL(workerData.base);

function post(path, token) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: target.hostname, port: target.port, method: "POST", path, headers: { authorization: `Bearer ${token}`, "content-length": 0 } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

// workerData: { base, tokens, concurrency, heartbeatSeconds }
async function run(job) {
  const claimLatencies = [];
  const held = [];
  let next = 0;
  const c0 = performance.now();
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (next < job.tokens.length) {
        const token = job.tokens[next++];
        const s = performance.now();
        const res = await fetch(`${job.base}/v1/claims`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" });
        const body = await res.json();
        claimLatencies.push(performance.now() - s);
        if (res.status !== 201 || body.source !== "warm") throw new Error(`expected a warm claim, got ${res.status} ${JSON.stringify(body)}`);
        held.push({ token, id: body.instance.instanceId });
      }
    }),
  );
  const claimSeconds = (performance.now() - c0) / 1000;

  const hbLatencies = [];
  const end = performance.now() + job.heartbeatSeconds * 1000;
  const h0 = performance.now();
  await Promise.all(
    Array.from({ length: job.concurrency }, async (_, w) => {
      let k = w;
      while (performance.now() < end) {
        const { token, id } = held[k++ % held.length];
        const s = performance.now();
        const status = await post(`/v1/instances/${id}/heartbeat`, token);
        if (status !== 200) throw new Error(`heartbeat failed: ${status}`);
        hbLatencies.push(performance.now() - s);
      }
    }),
  );
  const hbSeconds = (performance.now() - h0) / 1000;
  return { claimLatencies, claimSeconds, hbLatencies, hbSeconds };
}

run(workerData).then(
  (r) => parentPort.postMessage({ ok: true, ...r }),
  (err) => parentPort.postMessage({ ok: false, error: String(err?.stack ?? err) }),
);

/**
 * `npm run bench:ssm` (also run by `npm run bench`): throughput of the built-in SSM client
 * against the fake gateway + agent on 127.0.0.1, with no pacing anywhere on our side. One 50 MB
 * download; 8 parallel browser-like keep-alive connections fetching 256 KB responses (50 MB in
 * all); a 10 MB upload; and, for reference, the same download straight over TCP and a short one
 * with the agent paced the way amazon-ssm-agent paces (1,024 bytes, then 1 ms). Measures only;
 * prints JSON and Markdown rows for docs/benchmarks.md.
 */
import { createHash } from "node:crypto";
import { Agent, createServer, request } from "node:http";
import os from "node:os";
import type { AddressInfo } from "node:net";
import { freePort } from "../backend/net/free-port";
import { systemClock } from "../extension/core/emitter";
import { NativeSsmTunnel } from "../extension/core/ssm/native-tunnel";
import { FakeSsmGateway } from "../test/support/ssm/fake-gateway";

const MB = 1024 * 1024;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function blob(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4096) b.writeUInt32LE(i, i);
  return b;
}

async function instance() {
  const payloads = new Map<string, Buffer>([["/50mb", blob(50 * MB)], ["/5mb", blob(5 * MB)], ["/256kb", blob(256 * 1024)]]);
  const server = createServer((req, res) => {
    if (req.method === "POST") {
      const h = createHash("sha256");
      let n = 0;
      req.on("data", (c: Buffer) => (h.update(c), (n += c.length)));
      req.on("end", () => res.end(`${n}`));
      return;
    }
    const body = payloads.get(req.url ?? "") ?? Buffer.from("ok");
    res.writeHead(200, { "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}

function fetchBytes(port: number, path: string, agent?: Agent, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: body ? "POST" : "GET", agent: agent ?? false }, (res) => {
      let n = 0;
      res.on("data", (c: Buffer) => (n += c.length));
      res.on("end", () => resolve(n));
      res.on("error", reject);
    });
    req.once("error", reject);
    req.end(body);
  });
}

async function tunnelTo(gateway: FakeSsmGateway, targetPort: number): Promise<{ tunnel: NativeSsmTunnel; port: number }> {
  const port = await freePort();
  const open = () => {
    const s = gateway.createSession({ target: "i-0bench", targetPort });
    return { kind: "ssm" as const, ...s, target: "i-0bench", region: "eu-central-1", documentName: "AWS-StartPortForwardingSession", parameters: { portNumber: [String(targetPort)] }, endpoint: "" };
  };
  const tunnel = new NativeSsmTunnel({
    instanceId: "bench",
    port,
    clock: systemClock,
    log: quiet,
    fetchConnection: async () => open(),
    resume: async (sid) => gateway.resume(sid)!,
    terminate: async (sid) => void gateway.terminate(sid),
  });
  await tunnel.start(open());
  return { tunnel, port };
}

const mbps = (bytes: number, ms: number) => Math.round((bytes / MB / (ms / 1000)) * 10) / 10;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

export interface SsmBenchResult {
  case: string;
  bytes: number;
  ms: number;
  mbPerSecond: number;
  /** MB per second of this process's CPU time (client and fake agent together): what a busy machine does not distort. */
  mbPerCpuSecond: number;
  note?: string;
}

let cpu0 = process.cpuUsage();
let wall0 = Date.now();
function startClock(): void {
  cpu0 = process.cpuUsage();
  wall0 = Date.now();
}
function result(name: string, bytes: number, note?: string): SsmBenchResult {
  const ms = Date.now() - wall0;
  const c = process.cpuUsage(cpu0);
  const cpuS = (c.user + c.system) / 1e6;
  return { case: name, bytes, ms, mbPerSecond: mbps(bytes, ms), mbPerCpuSecond: Math.round((bytes / MB / cpuS) * 10) / 10, note };
}

export async function benchSsmTunnel(): Promise<SsmBenchResult[]> {
  const inst = await instance();
  const gateway = await FakeSsmGateway.start();
  const out: SsmBenchResult[] = [];
  try {
    startClock();
    let n = await fetchBytes(inst.port, "/50mb");
    out.push(result("direct TCP, one 50 MB download (reference)", n));

    const { tunnel, port } = await tunnelTo(gateway, inst.port);
    await fetchBytes(port, "/256kb"); // warm up
    startClock();
    n = await fetchBytes(port, "/50mb");
    out.push(result("built-in client, one 50 MB download", n, "agent output messages of 1,024 bytes, unpaced"));

    const agents = Array.from({ length: 8 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    const latencies: number[] = [];
    startClock();
    const totals = await Promise.all(
      agents.map(async (agent) => {
        let sum = 0;
        for (let i = 0; i < 25; i++) {
          const r0 = Date.now();
          sum += await fetchBytes(port, "/256kb", agent);
          latencies.push(Date.now() - r0);
        }
        return sum;
      }),
    );
    const bytes8 = totals.reduce((a, b) => a + b, 0);
    out.push(result("built-in client, 8 parallel keep-alive connections, 200 × 256 KB", bytes8, `one session, 8 smux streams; per response p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms`));
    for (const a of agents) a.destroy();

    const up = blob(10 * MB);
    startClock();
    await fetchBytes(port, "/upload", undefined, up);
    out.push(result("built-in client, one 10 MB upload", up.length, "input messages of 1,024 bytes, no pause between them"));
    await tunnel.dispose();

    gateway.shape = { chunkSize: 1024, paceMs: 1 };
    const paced = await tunnelTo(gateway, inst.port);
    startClock();
    n = await fetchBytes(paced.port, "/5mb");
    out.push(result("built-in client, 5 MB with the agent paced like amazon-ssm-agent (1 KB / 1 ms)", n, "the ceiling a real agent sets on downloads"));
    await paced.tunnel.dispose();
  } finally {
    await gateway.close();
    inst.server.close();
  }
  return out;
}

if (require.main === module) {
  void benchSsmTunnel().then((results) => {
    const machine = `${os.cpus().length} cores, Node ${process.version}, load average ${os.loadavg()[0]!.toFixed(1)}`;
    console.log(JSON.stringify({ date: new Date().toISOString(), machine, ssmTunnel: results }, null, 2));
    console.log(`\nSSM tunnel (${new Date().toISOString().slice(0, 10)}, ${machine}):\n`);
    console.log("| case | MB | seconds | MB/s | MB per CPU-second | note |");
    console.log("| --- | ---: | ---: | ---: | ---: | --- |");
    for (const r of results) console.log(`| ${r.case} | ${Math.round(r.bytes / MB)} | ${(r.ms / 1000).toFixed(2)} | ${r.mbPerSecond} | ${r.mbPerCpuSecond} | ${r.note ?? ""} |`);
  });
}

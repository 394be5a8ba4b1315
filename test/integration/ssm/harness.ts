/**
 * What the native-tunnel tests share: an "instance" (a node:http server on 127.0.0.1 with a page,
 * a big download, an echo and a slow stream), the fake gateway, and a NativeSsmTunnel wired to
 * the gateway the way the extension wires it to the backend.
 */
import { createHash } from "node:crypto";
import { createServer, request, type Agent, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { SsmConnection } from "../../../contract";
import { freePort } from "../../../backend/net/free-port";
import { systemClock } from "../../../extension/core/emitter";
import { ExtensionError } from "../../../extension/core/errors";
import { NativeSsmTunnel } from "../../../extension/core/ssm/native-tunnel";
import { FakeSsmGateway } from "../../support/ssm/fake-gateway";
import type { GatewayFaults } from "../../support/ssm/faults";
import { RecordingLog } from "../../unit/extension/fakes";

export const BIG_BYTES = 2 * 1024 * 1024;
export const BIG = Buffer.alloc(BIG_BYTES);
for (let i = 0; i < BIG_BYTES; i++) BIG[i] = (i * 7 + (i >> 10)) & 0xff;
export const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

export async function startInstance(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === "/big") {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": BIG_BYTES });
      res.end(BIG);
    } else if (req.url === "/echo") {
      const parts: Buffer[] = [];
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("end", () => res.end(sha(Buffer.concat(parts))));
    } else if (req.url?.startsWith("/slow")) {
      // Ten chunks, 150 ms apart: long enough for a forced resume to happen in the middle.
      res.writeHead(200, { "content-type": "text/plain" });
      let n = 0;
      const t = setInterval(() => {
        res.write(`chunk ${n}\n`);
        if (++n === 10) {
          clearInterval(t);
          res.end();
        }
      }, 150);
    } else {
      res.end(`<html><body id="rstudio">RStudio ${req.url}</body></html>`);
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}

export interface TunnelRig {
  tunnel: NativeSsmTunnel;
  port: number;
  log: RecordingLog;
  sessions: string[];
}

/** `sessions` collects the ids of the sessions the tunnel opened (also when it fails to start). */
export async function openTunnel(gateway: FakeSsmGateway, targetPort: number, faults: GatewayFaults = {}, sessions: string[] = []): Promise<TunnelRig> {
  const port = await freePort();
  const log = new RecordingLog();
  const connection = (): SsmConnection => {
    const s = gateway.createSession({ target: "i-0123456789abcdef0", targetPort, faults });
    sessions.push(s.sessionId);
    return { kind: "ssm", ...s, target: "i-0123456789abcdef0", region: "eu-central-1", documentName: "AWS-StartPortForwardingSession", parameters: { portNumber: [String(targetPort)] }, endpoint: "" };
  };
  const tunnel = new NativeSsmTunnel({
    instanceId: "r-1",
    port,
    clock: systemClock,
    log,
    backoffMs: [0, 200, 500],
    readyTimeoutMs: 20_000,
    fetchConnection: async () => connection(),
    resume: async (sessionId) => {
      const r = gateway.resume(sessionId);
      if (!r) throw new ExtensionError("SSM_SESSION_NOT_FOUND", `session ${sessionId} is gone`);
      return r;
    },
    terminate: async (sessionId) => void gateway.terminate(sessionId),
  });
  try {
    await tunnel.start(connection());
  } catch (err) {
    await tunnel.dispose(); // as the tunnel manager does
    throw err;
  }
  return { tunnel, port, log, sessions };
}

export function get(port: number, path: string, agent?: Agent, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: body ? "POST" : "GET", agent: agent ?? false, timeout: 30_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on("error", reject);
    });
    req.once("timeout", () => req.destroy(new Error("timeout")));
    req.once("error", reject);
    req.end(body);
  });
}

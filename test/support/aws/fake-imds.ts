/**
 * A fake EC2 instance metadata service that only speaks IMDSv2: a session token from
 * `PUT /latest/api/token` (with its TTL header) must accompany every read. Tests set and clear
 * the documents at any path, and read back what the client asked for.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeImds {
  url: string;
  /** Serves `body` at /latest/meta-data/<path>; `null` removes it (404). */
  set(path: string, body: string | null): void;
  requests: { method: string; path: string; hadToken: boolean }[];
  close(): Promise<void>;
}

export async function startFakeImds(): Promise<FakeImds> {
  const docs = new Map<string, string>();
  const tokens = new Set<string>();
  const requests: FakeImds["requests"] = [];
  let next = 0;
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/";
    const token = req.headers["x-aws-ec2-metadata-token"];
    const hadToken = typeof token === "string" && tokens.has(token);
    requests.push({ method: req.method ?? "", path, hadToken });
    if (req.method === "PUT" && path === "/latest/api/token") {
      const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return void res.writeHead(400).end();
      const t = `token-${++next}`;
      tokens.add(t);
      return void res.writeHead(200, { "content-type": "text/plain" }).end(t);
    }
    if (req.method !== "GET") return void res.writeHead(405).end();
    if (!hadToken) return void res.writeHead(401).end(); // IMDSv1 is off
    const doc = docs.get(path.replace(/^\/latest\/meta-data\//, ""));
    if (doc === undefined) return void res.writeHead(404, { "content-type": "text/html" }).end("<html>Not Found</html>");
    res.writeHead(200, { "content-type": "text/plain" }).end(doc);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    set(path, body) {
      if (body === null) docs.delete(path);
      else docs.set(path, body);
    },
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

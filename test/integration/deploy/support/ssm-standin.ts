/**
 * A small stand-in in front of moto for the two SSM calls moto lacks (it answers HTTP 500):
 * DescribeInstanceInformation says the agent is Online on every running EC2 instance moto has,
 * StartSession returns a session of the real response shape. Every other request goes to moto
 * unchanged, so SendCommand, GetCommandInvocation and all of EC2 are moto's own.
 */
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";

export interface SsmStandIn {
  url: string;
  calls: string[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function startSsmStandIn(motoUrl: string, region: string): Promise<SsmStandIn> {
  const ec2 = new EC2Client({ region, endpoint: motoUrl, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const calls: string[] = [];
  let sessions = 0;
  const target = new URL(motoUrl);

  async function runningIds(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
    return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name === "running").map((i) => i.InstanceId!);
  }

  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const op = String(req.headers["x-amz-target"] ?? "");
    const answer = (status: number, json: unknown) => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify(json));
    };
    try {
      if (op === "AmazonSSM.DescribeInstanceInformation") {
        calls.push("DescribeInstanceInformation");
        const input = JSON.parse(body.toString() || "{}") as { Filters?: Array<{ Key: string; Values: string[] }> };
        const ids = input.Filters?.find((f) => f.Key === "InstanceIds")?.Values ?? [];
        const online = await runningIds(ids);
        return answer(200, {
          InstanceInformationList: online.map((id) => ({ InstanceId: id, PingStatus: "Online", PlatformType: "Linux", PlatformName: "Ubuntu", AgentVersion: "3.3.1142.0", ResourceType: "EC2Instance" })),
        });
      }
      if (op === "AmazonSSM.StartSession") {
        calls.push("StartSession");
        const input = JSON.parse(body.toString() || "{}") as { Target?: string };
        const sessionId = `standin-${++sessions}-${input.Target ?? "x"}`;
        return answer(200, { SessionId: sessionId, StreamUrl: `wss://ssmmessages.${region}.amazonaws.com/v1/data-channel/${sessionId}?role=publish_subscribe`, TokenValue: `token-${sessionId}` });
      }
      calls.push(op || `${req.method} ${req.url}`);
      const fwd = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      fwd.on("error", (err) => answer(502, { __type: "StandInError", message: err.message }));
      fwd.end(body);
    } catch (err) {
      answer(500, { __type: "InternalServerError", message: (err as Error).message });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        ec2.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A small stand-in in front of moto for the two SSM calls moto lacks (it answers HTTP 500):
 * DescribeInstanceInformation says the agent is Online on every running EC2 instance moto has,
 * StartSession returns a session of the real response shape. Run Command and the session calls
 * get the instance side the EC2 tests' stand-in models (test/support/aws/moto.ts: readiness,
 * the home mount, the busy check). Every other request goes to moto unchanged, so all of EC2 is
 * moto's own.
 *
 * One repair besides: moto reads and writes SQS's JSON protocol with the python botocore it runs
 * on, and Debian's (1.29) predates SQS JSON: CreateQueue drops its Attributes and tags,
 * GetQueueAttributes answers {"Attribute": ...}, so Terraform waits forever for the queue's
 * attributes. The calls that carry maps are asked of moto in SQS's query protocol (which it
 * serves right) and answered in JSON.
 */
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { SsmStandIn } from "../../../support/aws/moto";

/** What the instance side answers through Run Command (readiness, home mount, busy check) and sessions: the EC2 tests' stand-in. */
const INSTANCE_SIDE = new Set(["SendCommand", "GetCommandInvocation", "DescribeSessions", "TerminateSession"]);

export interface MotoStandIn {
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

const unxml = (s: string): string =>
  s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

const SQS_VIA_QUERY = new Set(["CreateQueue", "GetQueueAttributes", "SetQueueAttributes", "ListQueueTags", "TagQueue", "UntagQueue", "DeleteQueue", "GetQueueUrl"]);

/** One SQS JSON call made in the query protocol (maps as Attribute.N.Name/Value, Tag.N.Key/Value). */
async function sqsViaQuery(motoUrl: string, action: string, input: Record<string, any>, authorization: string): Promise<{ status: number; json: unknown; headers?: Record<string, string> }> {
  const form = new URLSearchParams({ Action: action, Version: "2012-11-05" });
  const map = (prefix: string, k: string, v: string, entries: Record<string, string>) =>
    Object.entries(entries).forEach(([key, value], i) => {
      form.set(`${prefix}.${i + 1}.${k}`, key);
      form.set(`${prefix}.${i + 1}.${v}`, value);
    });
  for (const [key, value] of Object.entries(input)) {
    if (key === "QueueUrl") continue;
    if (key === "Attributes") map("Attribute", "Name", "Value", value);
    else if (key === "tags" || key === "Tags") map("Tag", "Key", "Value", value);
    else if (key === "AttributeNames") (value as string[]).forEach((n, i) => form.set(`AttributeName.${i + 1}`, n));
    else if (key === "TagKeys") (value as string[]).forEach((n, i) => form.set(`TagKey.${i + 1}`, n));
    else form.set(key, String(value));
  }
  const where = input.QueueUrl ? new URL(input.QueueUrl as string).pathname : "/";
  const xml = await (
    await fetch(`${motoUrl}${where}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization }, body: form.toString() })
  ).text();
  const code = /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];
  if (code) {
    const type = /NonExistentQueue/.test(code) ? "com.amazonaws.sqs#QueueDoesNotExist" : /QueueAlreadyExists/.test(code) ? "com.amazonaws.sqs#QueueNameExists" : code;
    // SQS's JSON errors carry the old query-protocol code too; SDKs (and Terraform) match on it.
    return { status: 400, json: { __type: type, message: unxml(/<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? "") }, headers: { "x-amzn-query-error": `${code};Sender` } };
  }
  const pairs = (tag: string, key: string) =>
    Object.fromEntries([...xml.matchAll(new RegExp(`<${tag}><${key}>([^<]*)</${key}><Value>([^<]*)</Value></${tag}>`, "g"))].map((m) => [unxml(m[1]!), unxml(m[2]!)]));
  const queueUrl = /<QueueUrl>([^<]*)<\/QueueUrl>/.exec(xml)?.[1];
  if (action === "GetQueueAttributes") {
    // SQS returns the redrive policies as compact JSON (as they were set); moto pretty-prints.
    const attributes = pairs("Attribute", "Name");
    for (const k of ["RedrivePolicy", "RedriveAllowPolicy"]) if (attributes[k]) attributes[k] = JSON.stringify(JSON.parse(attributes[k]));
    return { status: 200, json: { Attributes: attributes } };
  }
  if (action === "ListQueueTags") return { status: 200, json: { Tags: pairs("Tag", "Key") } };
  if (queueUrl) return { status: 200, json: { QueueUrl: unxml(queueUrl) } };
  return { status: 200, json: {} };
}

export async function startMotoStandIn(motoUrl: string, region: string): Promise<MotoStandIn> {
  const ec2 = new EC2Client({ region, endpoint: motoUrl, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const calls: string[] = [];
  let sessions = 0;
  const target = new URL(motoUrl);
  const instanceSide = new SsmStandIn(ec2);

  async function runningIds(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
    return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name === "running").map((i) => i.InstanceId!);
  }

  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const op = String(req.headers["x-amz-target"] ?? "");
    const answer = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1", ...headers });
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
      if (op.startsWith("AmazonSSM.") && INSTANCE_SIDE.has(op.slice(10))) {
        calls.push(op.slice(10));
        try {
          return answer(200, await instanceSide.answer(op.slice(10), JSON.parse(body.toString() || "{}")));
        } catch (err) {
          return answer(400, { __type: (err as { code?: string }).code ?? "ValidationException", message: (err as Error).message });
        }
      }
      if (op.startsWith("AmazonSQS.") && SQS_VIA_QUERY.has(op.slice(10))) {
        calls.push(op);
        const { status, json, headers } = await sqsViaQuery(motoUrl, op.slice(10), JSON.parse(body.toString() || "{}"), String(req.headers.authorization ?? ""));
        return answer(status, json, headers);
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

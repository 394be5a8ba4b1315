/**
 * A local HTTP server that answers the real AWS SDK clients in each service's wire format:
 * EC2's query protocol (form-encoded Action=...&Version=2016-11-15, XML answers and XML
 * errors with HTTP 400/503) and SSM's JSON 1.1 protocol (X-Amz-Target: AmazonSSM.<Action>),
 * over an in-memory FakeWorld. Listens on 127.0.0.1 only. See docs/aws.md for what this can
 * and cannot prove.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { AwsClients } from "../../../backend/providers/ec2/clients";
import { Ec2Fault, EC2_ACTIONS } from "./ec2-handlers";
import { FakeWorld } from "./fake-world";
import { LOGS_ACTIONS } from "./logs-handlers";
import { SsmFault, SSM_ACTIONS } from "./ssm-handlers";
import { ec2ErrorXml, ec2Response, parseQuery } from "./wire";

/** Fake static credentials: the tests never hold real ones. */
export const TEST_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

/** Codes the fake answers with HTTP 503 (as EC2 does for server-side trouble). */
const STATUS_503 = new Set(["RequestLimitExceeded", "ServiceUnavailable", "Unavailable", "InternalError"]);

let requestSeq = 0;

export interface FakeAws {
  world: FakeWorld;
  url: string;
  server: Server;
  /** Real SDK clients pointed at this server, with fake credentials. */
  clients(options?: { maxAttempts?: number }): AwsClients;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

async function handle(world: FakeWorld, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const requestId = `req-${++requestSeq}`;
  const target = req.headers["x-amz-target"];
  const jsonService = typeof target === "string" ? (target.startsWith("AmazonSSM.") ? "ssm" : target.startsWith("Logs_20140328.") ? "logs" : null) : null;
  if (typeof target === "string" && jsonService) {
    const action = target.slice(target.indexOf(".") + 1);
    const params = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    const call = { service: jsonService, action, params, at: Date.now() } as const;
    res.setHeader("content-type", "application/x-amz-json-1.1");
    res.setHeader("x-amzn-requestid", requestId);
    try {
      const deniedSsm = world.authorize?.(jsonService, action, params, world);
      if (deniedSsm) throw new SsmFault("AccessDeniedException", deniedSsm);
      const injected = world.takeInjectedError(action);
      if (injected) throw new SsmFault(injected, `injected ${injected}`, injected.startsWith("Throttl") ? 400 : injected === "InternalServerError" ? 500 : 400);
      const fn = (jsonService === "ssm" ? SSM_ACTIONS : LOGS_ACTIONS)[action];
      if (!fn) throw new SsmFault("UnknownOperationException", `fake ${jsonService} does not know ${action}`);
      const out = fn(world, params);
      world.record(call);
      res.end(JSON.stringify(out));
    } catch (err) {
      const f = err instanceof SsmFault ? err : new SsmFault("InternalServerError", (err as Error).message, 500);
      world.record({ ...call, error: f.code });
      res.statusCode = f.status;
      res.end(JSON.stringify({ __type: f.code, message: f.message }));
    }
    return;
  }
  const params = parseQuery(body);
  const action = String(params.Action ?? "");
  const call = { service: "ec2" as const, action, params, at: Date.now() };
  res.setHeader("content-type", "text/xml;charset=UTF-8");
  try {
    if (params.Version !== "2016-11-15") throw new Ec2Fault("InvalidParameterValue", `unexpected Version ${String(params.Version)}`);
    const denied = world.authorize?.("ec2", action, params, world);
    if (denied) throw new Ec2Fault("UnauthorizedOperation", denied, 403);
    const injected = world.takeInjectedError(action);
    if (injected) throw new Ec2Fault(injected, `injected ${injected}`, STATUS_503.has(injected) ? 503 : 400);
    if (action === "RunInstances" && !world.takeRunInstancesToken(Date.now())) throw new Ec2Fault("RequestLimitExceeded", "Request limit exceeded.", 503);
    const fn = EC2_ACTIONS[action];
    if (!fn) throw new Ec2Fault("InvalidAction", `The action ${action} is not valid for this web service.`);
    const xml = fn(world, params);
    world.record(call);
    res.end(ec2Response(action, xml, requestId));
  } catch (err) {
    const f = err instanceof Ec2Fault ? err : new Ec2Fault("InternalError", (err as Error).stack ?? String(err), 500);
    world.record({ ...call, error: f.code });
    res.statusCode = f.status;
    res.end(ec2ErrorXml(f.code, f.message, requestId));
  }
}

export async function startFakeAws(world = new FakeWorld(), region = "us-east-1"): Promise<FakeAws> {
  const server = createServer((req, res) => {
    handle(world, req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    world,
    url,
    server,
    clients(options = {}) {
      const common = { region, endpoint: url, credentials: TEST_CREDENTIALS };
      const ec2 = new EC2Client({ ...common, maxAttempts: options.maxAttempts ?? 3 });
      const ec2Launch = new EC2Client({ ...common, maxAttempts: 1 });
      const ssm = new SSMClient({ ...common, maxAttempts: options.maxAttempts ?? 3 });
      const ssmOnce = new SSMClient({ ...common, maxAttempts: 1 });
      return { ec2, ec2Launch, ssm, ssmOnce, region, ssmEndpoint: url, destroy: () => [ec2, ec2Launch, ssm, ssmOnce].forEach((c) => c.destroy()) };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * moto, an AWS emulator we did not write (../shared/tools/moto-server beside the checkout, or
 * /work/shared/tools/moto-server), for the EC2 and IAM side of the provider; and a small SSM
 * stand-in in front of it, because moto lacks DescribeInstanceInformation and StartSession and
 * has no instance side for Run Command. The stand-in answers the SSM actions (JSON 1.1) and
 * forwards everything else to moto unchanged.
 *
 * Absent moto: the tests skip loudly; with MOTO_REQUIRED=1 or CI=true they fail instead.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { DescribeInstancesCommand, DescribeVolumesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { freePort } from "../../../backend/net/free-port";
import type { AwsClients } from "../../../backend/providers/ec2/clients";
import { TEST_CREDENTIALS } from "./fake-aws-server";

const REPO_ROOT = path.resolve(__dirname, "../../..");

export function motoPath(): string | null {
  // MOTO_SERVER names another moto-server script (or a missing one, to see the skip).
  const candidates = process.env.MOTO_SERVER ? [process.env.MOTO_SERVER] : [path.resolve(REPO_ROOT, "../shared/tools/moto-server"), "/work/shared/tools/moto-server"];
  return candidates.find((p) => existsSync(p)) ?? null;
}

export function motoRequired(env = process.env): boolean {
  return env.MOTO_REQUIRED === "1" || env.CI === "true";
}

/** The `skip` option for a moto test: false when it can run, a loud reason otherwise. */
export function motoSkip(): string | false {
  if (motoPath()) return false;
  const reason = "moto tests SKIPPED: ../shared/tools/moto-server not found (see docs/aws.md, \"Testing against moto\")";
  if (motoRequired()) throw new Error(`${reason} (MOTO_REQUIRED=1 or CI=true)`);
  process.stderr.write(`\n!!! ${reason}\n\n`);
  return reason;
}

export interface MotoStack {
  /** moto itself. */
  motoUrl: string;
  /** The SSM stand-in in front of moto (give this to the clients). */
  url: string;
  ssm: SsmStandIn;
  clients(): AwsClients;
  close(): Promise<void>;
}

/** What the SSM stand-in knows of the instances' side: mounted homes, busy readings, sessions. */
export class SsmStandIn {
  readonly mounted = new Map<string, string>();
  readonly sessions: Array<{ sessionId: string; target: string; state: "Active" | "Terminated" }> = [];
  readonly commands = new Map<string, { instanceId: string; stdout: string }>();
  readonly actions: string[] = [];

  constructor(private readonly ec2: EC2Client) {}

  private async running(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const out = await this.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "instance-id", Values: ids }] }));
    return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name === "running").map((i) => i.InstanceId!);
  }

  async answer(action: string, b: Record<string, unknown>): Promise<unknown> {
    this.actions.push(action);
    switch (action) {
      case "DescribeInstanceInformation": {
        const ids = ((b.Filters as Array<{ Key: string; Values: string[] }> | undefined) ?? []).find((f) => f.Key === "InstanceIds")?.Values ?? [];
        return { InstanceInformationList: (await this.running(ids)).map((id) => ({ InstanceId: id, PingStatus: "Online", PlatformType: "Linux", ResourceType: "EC2Instance" })) };
      }
      case "SendCommand": {
        const id = (b.InstanceIds as string[])[0]!;
        if ((await this.running([id])).length === 0) throw Object.assign(new Error(`Instances [[${id}]] not in a valid state`), { code: "InvalidInstanceId" });
        const script = ((b.Parameters as { commands: string[] }).commands ?? []).join("\n");
        let stdout = "";
        const mount = /rstudio-pool-home mount (vol-[0-9a-f]+)/.exec(script);
        if (mount) {
          const v = (await this.ec2.send(new DescribeVolumesCommand({ VolumeIds: [mount[1]!] }))).Volumes?.[0];
          const attached = (v?.Attachments ?? []).some((a) => a.InstanceId === id && a.State === "attached");
          if (attached) this.mounted.set(id, mount[1]!);
          stdout = attached ? `rstudio-pool-ready home=${mount[1]}` : `rstudio-pool-failed: home volume ${mount[1]} did not appear`;
        } else if (/rstudio-pool-home check/.test(script)) stdout = `rstudio-pool-ready home=${this.mounted.get(id) ?? "none"}`;
        else if (/rstudio-pool-home unmount/.test(script)) {
          this.mounted.delete(id);
          stdout = "unmounted";
        } else if (/loadavg/.test(script)) stdout = "load=0.05 cpus=2 rsession=0";
        const commandId = randomBytes(16).toString("hex");
        this.commands.set(commandId, { instanceId: id, stdout });
        return { Command: { CommandId: commandId, Status: "Pending" } };
      }
      case "GetCommandInvocation": {
        const c = this.commands.get(String(b.CommandId));
        if (!c) throw Object.assign(new Error("no such invocation"), { code: "InvocationDoesNotExist" });
        return { CommandId: b.CommandId, InstanceId: c.instanceId, Status: "Success", StandardOutputContent: `${c.stdout}\n`, StandardErrorContent: "" };
      }
      case "StartSession": {
        const sessionId = `rstudio-pool-${randomBytes(6).toString("hex")}`;
        this.sessions.push({ sessionId, target: String(b.Target), state: "Active" });
        return { SessionId: sessionId, StreamUrl: `wss://ssmmessages.example/${sessionId}`, TokenValue: "stand-in-token" };
      }
      case "DescribeSessions": {
        const target = ((b.Filters as Array<{ key: string; value: string }> | undefined) ?? []).find((f) => f.key === "Target")?.value;
        return { Sessions: this.sessions.filter((s) => s.state === "Active" && (!target || s.target === target)).map((s) => ({ SessionId: s.sessionId, Target: s.target })) };
      }
      case "TerminateSession": {
        const s = this.sessions.find((x) => x.sessionId === b.SessionId);
        if (s) s.state = "Terminated";
        return { SessionId: b.SessionId };
      }
      default:
        throw Object.assign(new Error(`the SSM stand-in does not model ${action}`), { code: "UnknownOperationException" });
    }
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function waitUntilUp(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto exited (${child.exitCode}): ${stderr()}`);
    const ok = await fetch(`${url}/moto-api/`).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`moto did not answer on ${url} within 60 s: ${stderr()}`);
}

export async function startMoto(region = "us-east-1"): Promise<MotoStack> {
  const bin = motoPath();
  if (!bin) throw new Error("moto-server not found");
  const port = await freePort();
  let err = "";
  const child = spawn("bash", [bin, String(port)], { env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: "false" }, stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  const motoUrl = `http://127.0.0.1:${port}`;
  await waitUntilUp(motoUrl, child, () => err);

  const ec2ForStandIn = new EC2Client({ region, endpoint: motoUrl, credentials: TEST_CREDENTIALS });
  const ssm = new SsmStandIn(ec2ForStandIn);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const body = await readBody(req);
      const target = req.headers["x-amz-target"];
      if (typeof target === "string" && target.startsWith("AmazonSSM.")) {
        res.setHeader("content-type", "application/x-amz-json-1.1");
        try {
          res.end(JSON.stringify(await ssm.answer(target.slice("AmazonSSM.".length), body.length ? JSON.parse(body.toString()) : {})));
        } catch (e) {
          res.statusCode = 400;
          res.end(JSON.stringify({ __type: (e as { code?: string }).code ?? "InternalServerError", message: (e as Error).message }));
        }
        return;
      }
      const fwd = httpRequest(`${motoUrl}${req.url ?? "/"}`, { method: req.method, headers: { ...req.headers, host: `127.0.0.1:${port}` } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      fwd.on("error", (e) => {
        res.statusCode = 502;
        res.end(String(e));
      });
      fwd.end(body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    motoUrl,
    url,
    ssm,
    clients() {
      const common = { region, endpoint: url, credentials: TEST_CREDENTIALS };
      const ec2 = new EC2Client({ ...common, maxAttempts: 2 });
      const ec2Launch = new EC2Client({ ...common, maxAttempts: 1 });
      const ssmClient = new SSMClient({ ...common, maxAttempts: 2 });
      const ssmOnce = new SSMClient({ ...common, maxAttempts: 1 });
      return { ec2, ec2Launch, ssm: ssmClient, ssmOnce, region, ssmEndpoint: url, destroy: () => [ec2, ec2Launch, ssmClient, ssmOnce].forEach((c) => c.destroy()) };
    },
    async close() {
      ec2ForStandIn.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
    },
  };
}

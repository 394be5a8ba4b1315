/**
 * The old pool service's JSON command protocol at POST /, kept so existing callers work:
 *   {command:"REQUEST_RSTUDIO", payload:{userId}}  -> {instanceId}          (app key)
 *   {command:"GET_STATUS", payload:{}}             -> {instances:[ids]}     (app or proxy key)
 *   {command:"GET_STATUS", payload:{instanceId}}   -> {instance:{instanceId,url,keyName,...tags}}
 *   {command:"DELETE", payload:{instanceId}}       -> {status:"OK"}         (proxy key)
 * Fields given at the top level instead of in `payload` are accepted too.
 */
import { Router, type Request, type Response } from "express";
import { z } from "zod";
import { PoolError } from "../../errors";
import type { Instance, PoolApi } from "../../pool/api";
import { legacyRole, type LegacyRole } from "../auth";
import { parseBody } from "../validate";

const COMMANDS = ["REQUEST_RSTUDIO", "GET_STATUS", "DELETE"] as const;
type Command = (typeof COMMANDS)[number];

const ALLOWED: Record<Command, LegacyRole[]> = {
  REQUEST_RSTUDIO: ["app"],
  GET_STATUS: ["app", "proxy"],
  DELETE: ["proxy"],
};

const userIdSchema = z.string().min(1).max(128).regex(/^[A-Za-z0-9._@+-]+$/, "must be letters, digits and . _ @ + -");
const requestSchema = z.object({ userId: userIdSchema, purpose: z.string().min(1).max(64).optional() });
const statusSchema = z.object({ instanceId: z.string().min(1).max(128).optional() });
const deleteSchema = z.object({ instanceId: z.string().min(1).max(128) });

function payloadOf(body: Record<string, unknown>): Record<string, unknown> {
  const p = body.payload;
  if (p === undefined || p === null) {
    const { command: _c, ...rest } = body;
    return rest;
  }
  if (typeof p !== "object" || Array.isArray(p)) throw new PoolError("INVALID_REQUEST", "\"payload\" must be an object.");
  return p as Record<string, unknown>;
}

export function legacyUrl(inst: Instance, servicePort: number): string | null {
  if (!inst.privateDns) return null;
  return inst.privateDns.includes(":") ? `http://${inst.privateDns}` : `http://${inst.privateDns}:${servicePort}`;
}

export function legacyRouter(pool: PoolApi): Router {
  const r = Router();
  r.post("/", async (req: Request, res: Response) => {
    const role = legacyRole(req, pool.config);
    const body = req.body;
    if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new PoolError("INVALID_REQUEST", "Send a JSON object like {\"command\":\"GET_STATUS\",\"payload\":{}} with Content-Type: application/json.");
    }
    const command = (body as Record<string, unknown>).command;
    if (command === undefined) throw new PoolError("MISSING_FIELD", "Missing field \"command\" (one of REQUEST_RSTUDIO, GET_STATUS, DELETE).");
    if (typeof command !== "string") {
      // Never String() a client's value: an object with its own "toString" key throws.
      const got = command === null ? "null" : Array.isArray(command) ? "an array" : `a ${typeof command}`;
      throw new PoolError("INVALID_REQUEST", `Field "command" must be a string (one of ${COMMANDS.join(", ")}), got ${got}.`);
    }
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw new PoolError("UNKNOWN_COMMAND", `Unknown command ${JSON.stringify(command.slice(0, 64))}. Known commands: ${COMMANDS.join(", ")}.`);
    }
    if (!ALLOWED[command as Command].includes(role)) {
      throw new PoolError("FORBIDDEN", `The ${role} key may not use ${command}.`);
    }
    const payload = payloadOf(body as Record<string, unknown>);
    switch (command as Command) {
      case "REQUEST_RSTUDIO": {
        const p = parseBody(requestSchema, payload, "payload");
        const outcome = await pool.claim(p.userId, p.purpose ?? null, `app:${p.userId}`);
        res.json({ instanceId: outcome.instance.id });
        return;
      }
      case "GET_STATUS": {
        const p = parseBody(statusSchema, payload, "payload");
        if (!p.instanceId) {
          const live = await pool.listServing();
          res.json({ instances: live.map((i) => i.id) });
          return;
        }
        // The pool's id or (as the old service answered) the EC2 instance id.
        const inst = await pool.getAny(p.instanceId);
        if (!inst) throw new PoolError("INSTANCE_NOT_FOUND", `No instance "${p.instanceId}".`);
        const purpose = pool.config.purposes.find((x) => x.name === inst.purpose);
        res.json({
          instance: {
            instanceId: inst.id,
            ...(inst.provider === "ec2" ? { ec2InstanceId: inst.providerId } : {}),
            url: legacyUrl(inst, purpose?.servicePort ?? 8787),
            keyName: purpose?.ec2?.keyName ?? null,
            state: inst.state,
            userId: inst.ownerId,
            purpose: inst.purpose,
            Pool: pool.config.poolName,
            ...(purpose?.costTags ?? {}),
          },
        });
        return;
      }
      case "DELETE": {
        const p = parseBody(deleteSchema, payload, "payload");
        const inst = await pool.releaseAny(p.instanceId, "proxy", "proxy");
        if (!inst) throw new PoolError("INSTANCE_NOT_FOUND", `No instance "${p.instanceId}".`);
        res.json({ status: "OK" });
        return;
      }
    }
  });
  return r;
}

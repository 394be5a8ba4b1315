/**
 * Builds the PoolConfig from environment variables (the old service's names carry over) and the
 * optional YAML purposes file. Throws a PoolError INVALID_CONFIG naming the field on any bad
 * value, so start-up stops before anything is touched.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { PoolError } from "../errors";
import {
  configFileSchema,
  purposeSchema,
  type LocalRuntime,
  type PoolConfig,
  type ProviderKind,
  type PurposeConfig,
} from "./schema";

export type Env = Record<string, string | undefined>;

function formatIssues(source: string, error: z.ZodError, names: Record<string, string> = {}): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length ? issue.path.join(".") : "(root)";
      const named = names[field] ?? names[issue.path.slice(0, 2).join(".")];
      return named ? `${named}: ${issue.message}` : `${source}: ${field}: ${issue.message}`;
    })
    .join("; ");
}

/** Which variable set each field of the purpose built from the environment. */
const PURPOSE_ENV_NAMES: Record<string, string> = {
  minFree: "MIN_FREE_INSTANCES",
  max: "MAX_INSTANCES",
  idleTimeoutSeconds: "TIMEOUT_INSTANCE",
  "ec2.imageId": "IMAGE_ID",
  "ec2.instanceTypes": "IMAGE_TYPE",
  "ec2.securityGroupIds": "SECURITY_GROUP",
  "ec2.instanceProfile": "INSTANCE_PROFILE",
  "ec2.keyName": "KEY_NAME",
  "ec2.subnetIds": "SUBNET_IDS",
};

/** pino's levels: anything else makes the logger throw at start-up. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const POOL_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

function invalid(key: string, message: string): PoolError {
  return new PoolError("INVALID_CONFIG", `Invalid configuration: ${key}: ${message}`);
}

function matching(env: Env, key: string, pattern: RegExp, what: string): string | undefined {
  const raw = env[key];
  if (raw === undefined || raw === "") return undefined;
  if (!pattern.test(raw)) throw invalid(key, `${what}, got "${raw.slice(0, 80)}"`);
  return raw;
}

function intFromEnv(env: Env, key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^-?\d+$/.test(raw.trim())) {
    throw new PoolError("INVALID_CONFIG", `Invalid configuration: ${key}: must be a whole number, got "${raw}"`);
  }
  const value = Number(raw);
  if (value < min) {
    throw new PoolError("INVALID_CONFIG", `Invalid configuration: ${key}: must be at least ${min}, got ${value}`);
  }
  if (value > max) throw invalid(key, `must be at most ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(env: Env, key: string, allowed: readonly T[], fallback: T): T {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new PoolError(
      "INVALID_CONFIG",
      `Invalid configuration: ${key}: must be one of ${allowed.join(", ")}, got "${raw}"`,
    );
  }
  return raw as T;
}

/** A comma-separated list of environment variable names. */
function namesFromEnv(env: Env, key: string): string[] {
  const names = (env[key] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) {
      throw new PoolError("INVALID_CONFIG", `Invalid configuration: ${key}: "${n}" is not a variable name (give names separated by commas)`);
    }
  }
  return names;
}

/** The single purpose of a deployment without a YAML file, from the old service's variables. */
function purposeFromEnv(env: Env): PurposeConfig {
  const idleMs = intFromEnv(env, "TIMEOUT_INSTANCE", 3_600_000, 1000);
  const raw: Record<string, unknown> = {
    name: "rstudio",
    description: "RStudio Server",
    servicePort: 8787,
    minFree: intFromEnv(env, "MIN_FREE_INSTANCES", 0),
    max: intFromEnv(env, "MAX_INSTANCES", 10, 1),
    idleTimeoutSeconds: Math.max(1, Math.round(idleMs / 1000)),
  };
  if (env.IMAGE_ID || env.IMAGE_TYPE || env.SECURITY_GROUP || env.INSTANCE_PROFILE || env.KEY_NAME || env.SUBNET_IDS) {
    raw.ec2 = {
      ...(env.IMAGE_ID ? { imageId: env.IMAGE_ID } : {}),
      ...(env.IMAGE_TYPE ? { instanceTypes: env.IMAGE_TYPE.split(",").map((s) => s.trim()) } : {}),
      ...(env.SECURITY_GROUP ? { securityGroupIds: env.SECURITY_GROUP.split(",").map((s) => s.trim()) } : {}),
      ...(env.INSTANCE_PROFILE ? { instanceProfile: env.INSTANCE_PROFILE } : {}),
      ...(env.KEY_NAME ? { keyName: env.KEY_NAME } : {}),
      ...(env.SUBNET_IDS ? { subnetIds: env.SUBNET_IDS.split(",").map((s) => s.trim()) } : {}),
    };
  }
  const parsed = purposeSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PoolError("INVALID_CONFIG", `Invalid configuration: ${formatIssues("environment", parsed.error, PURPOSE_ENV_NAMES)}`);
  }
  return parsed.data;
}

export function loadConfig(env: Env, cwd = process.cwd()): PoolConfig {
  const provider = oneOf<ProviderKind>(env, "POOL_PROVIDER", ["local", "ec2"], "local");
  const runtime = oneOf<LocalRuntime>(
    env,
    "POOL_LOCAL_RUNTIME",
    ["auto", "docker", "rserver", "jupyter", "command", "placeholder"],
    "auto",
  );
  if (runtime === "command" && !env.POOL_LOCAL_COMMAND) {
    throw new PoolError(
      "INVALID_CONFIG",
      "Invalid configuration: POOL_LOCAL_COMMAND: required when POOL_LOCAL_RUNTIME=command (a command with {port})",
    );
  }
  if (env.POOL_LOCAL_COMMAND && !env.POOL_LOCAL_COMMAND.includes("{port}")) {
    throw new PoolError("INVALID_CONFIG", "Invalid configuration: POOL_LOCAL_COMMAND: must contain {port}");
  }
  const logLevel = oneOf(env, "LOG_LEVEL", LOG_LEVELS, "info");
  const port = intFromEnv(env, "PORT", 8080, 0, 65535);
  const host = env.HOST === undefined ? "127.0.0.1" : matching(env, "HOST", /^[A-Za-z0-9.:[\]-]{1,253}$/, "must be an address or host name such as 127.0.0.1");
  if (host === undefined) throw invalid("HOST", "must not be empty (127.0.0.1 listens on this machine only)");
  const envPoolName = matching(env, "POOL_NAME", POOL_NAME, "must be lowercase letters, digits and dashes, starting with a letter");
  const region = matching(env, "REGION", REGION, "must be an AWS region such as us-east-1") ?? matching(env, "AWS_REGION", REGION, "must be an AWS region such as us-east-1");
  const tickMs = intFromEnv(env, "POOL_TICK_MS", 1000, 10);
  const reconcileMs = intFromEnv(env, "POOL_RECONCILE_MS", 30_000, 10);
  const passEnv = namesFromEnv(env, "POOL_LOCAL_PASS_ENV");
  const databaseUrl = env.POOL_DATABASE_URL?.trim() || null;
  if (databaseUrl && !/^(postgres|postgresql):\/\//.test(databaseUrl) && !/^sqlite:/.test(databaseUrl)) {
    throw new PoolError(
      "INVALID_CONFIG",
      "Invalid configuration: POOL_DATABASE_URL: must be a postgres:// URL or sqlite:/path/to/file.db",
    );
  }

  let purposes: PurposeConfig[];
  let fileSettings: z.infer<typeof configFileSchema> | null = null;
  if (env.POOL_CONFIG) {
    const file = path.resolve(cwd, env.POOL_CONFIG);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new PoolError("INVALID_CONFIG", `Invalid configuration: POOL_CONFIG: cannot read ${file}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (err) {
      throw new PoolError("INVALID_CONFIG", `Invalid configuration: ${file}: not valid YAML: ${(err as Error).message}`);
    }
    const parsed = configFileSchema.safeParse(doc);
    if (!parsed.success) {
      throw new PoolError("INVALID_CONFIG", `Invalid configuration: ${formatIssues(file, parsed.error)}`);
    }
    fileSettings = parsed.data;
    purposes = parsed.data.purposes;
    const names = new Set<string>();
    for (const [i, p] of purposes.entries()) {
      if (names.has(p.name)) {
        throw new PoolError("INVALID_CONFIG", `Invalid configuration: ${file}: purposes.${i}.name: duplicate purpose "${p.name}"`);
      }
      names.add(p.name);
    }
  } else {
    purposes = [purposeFromEnv(env)];
  }

  for (const [i, p] of purposes.entries()) {
    if (p.minFree > p.max) {
      throw new PoolError("INVALID_CONFIG", `Invalid configuration: purposes.${i}.minFree: ${p.minFree} is more than max ${p.max}`);
    }
    if (provider === "ec2" && !p.ec2) {
      throw new PoolError(
        "INVALID_CONFIG",
        `Invalid configuration: purposes.${i}.ec2: required with POOL_PROVIDER=ec2 (set IMAGE_ID or give an ec2 section)`,
      );
    }
    if (provider === "ec2" && p.ec2 && !p.ec2.imageId && !p.ec2.imageFilter) {
      throw new PoolError("INVALID_CONFIG", `Invalid configuration: purposes.${i}.ec2.imageId: give imageId or imageFilter`);
    }
    // No subnets (the old service's deployments): the EC2 provider uses the default VPC's
    // default subnets and warns at start-up.
  }

  const maxFromPurposes = purposes.reduce((sum, p) => sum + p.max, 0);
  const maxInstances =
    fileSettings?.pool.maxInstances ?? (env.POOL_MAX_INSTANCES ? intFromEnv(env, "POOL_MAX_INSTANCES", 1, 1) : maxFromPurposes);
  const maxName = fileSettings?.pool.maxInstances !== undefined ? "pool.maxInstances" : "POOL_MAX_INSTANCES";
  for (const [i, p] of purposes.entries()) {
    if (p.minFree > maxInstances) {
      throw invalid(`purposes.${i}.minFree`, `${p.minFree} is more than the pool's ${maxName} ${maxInstances}`);
    }
  }
  const minFreeTotal = purposes.reduce((sum, p) => sum + p.minFree, 0);
  if (minFreeTotal > maxInstances) {
    throw invalid("purposes.*.minFree", `the purposes' minFree add up to ${minFreeTotal}, more than the pool's ${maxName} ${maxInstances}`);
  }
  const b = fileSettings?.budgets;

  return {
    poolName: fileSettings?.pool.name ?? envPoolName ?? "rstudio-pool",
    port,
    host,
    dataDir: path.resolve(cwd, env.POOL_DATA_DIR ?? ".rstudio-pool"),
    databaseUrl,
    provider,
    region: region ?? "us-east-1",
    eventsQueueUrl: env.POOL_EVENTS_QUEUE_URL || null,
    jobsLogGroup: env.POOL_JOBS_LOG_GROUP || null,
    maxInstances,
    currency: fileSettings?.pool.currency ?? "USD",
    warmPolicy: fileSettings?.pool.warmPolicy ?? "static",
    serviceLevel: fileSettings?.pool.serviceLevel ?? 0.95,
    ebsPricePerGbMonth: fileSettings?.pool.ebsPricePerGbMonth,
    appKey: env.ARENA_POOL_SERVICE_KEY || null,
    proxyKey: env.PROXY_KEY || null,
    local: { runtime, command: env.POOL_LOCAL_COMMAND ?? null, passEnv },
    purposes,
    budgets: {
      defaultUserMonthly: b?.defaultUserMonthly,
      users: b?.users ?? {},
      warnAt: b?.warnAt ?? 0.8,
      exceededIdleTimeoutSeconds: b?.exceededIdleTimeoutSeconds ?? 600,
    },
    tickMs,
    reconcileMs,
    logLevel,
  };
}

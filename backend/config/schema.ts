/**
 * The validated shape of the pool's configuration: the service settings (from environment
 * variables) and the purposes (from the YAML file in POOL_CONFIG, or one purpose built from the
 * old service's environment variables). Every rule a start-up must refuse is a zod rule here,
 * so the error names the field that is wrong.
 */
import { z } from "zod";
import { APP_NAMES, APPS } from "./apps";
import { jobsPurposeSchema } from "./jobs";

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, "must be lowercase letters, digits and dashes, starting with a letter");

const tagMap = z.record(z.string().min(1).max(128), z.string().max(256));

/** EC2 settings of a purpose; used only when POOL_PROVIDER=ec2. */
export const ec2PurposeSchema = z
  .object({
    /** An AMI id; or leave empty and give imageFilter to take the newest matching AMI. */
    imageId: z.string().regex(/^ami-[0-9a-f]{8,17}$/, "must be an AMI id like ami-0123456789abcdef0").optional(),
    /** Tag filters (tag name -> value) and owners to find the newest AMI when imageId is absent. */
    imageFilter: z
      .object({
        tags: tagMap.default({}),
        owners: z.array(z.string()).default(["self"]),
        namePattern: z.string().optional(),
      })
      .optional(),
    /** Tried in order: spot capacity or price errors move on to the next type. */
    instanceTypes: z.array(z.string().regex(/^[a-z0-9-]+\.[a-z0-9]+$/, "must be an instance type like t3.large")).min(1).default(["t3.large"]),
    market: z.enum(["spot", "on-demand"]).default("on-demand"),
    /** With market=spot: launch on-demand when no instance type has spot capacity. */
    spotFallbackToOnDemand: z.boolean().default(true),
    /** Highest spot price per hour; absent means the on-demand price caps it (AWS's default). */
    spotMaxPrice: z.number().positive().optional(),
    subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, "must be a subnet id")).default([]),
    securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]+$/, "must be a security group id")).default([]),
    instanceProfile: z.string().optional(),
    keyName: z.string().optional(),
    associatePublicIp: z.boolean().default(false),
    /**
     * IMDSv2 hop limit. 1 (default) keeps the instance role's credentials away from the
     * RStudio container (its bridge network is one hop further); 2 lets containers reach IMDS.
     */
    metadataHopLimit: z.number().int().min(1).max(2).default(1),
    /** KMS key for the encrypted root and home volumes; absent means the account's EBS default key. */
    kmsKeyId: z.string().optional(),
    /** RStudio's www-frame-origin: "any" lets it render inside an editor webview (it listens on 127.0.0.1 only). */
    frameOrigin: z.string().default("any"),
    /** Give each user a persistent home volume (one per availability zone). */
    homeVolumes: z.boolean().default(true),
    rootVolumeGiB: z.number().int().min(8).max(16384).default(30),
    /** Size of each user's persistent home volume. */
    homeVolumeGiB: z.number().int().min(1).max(16384).default(20),
    homeVolumeType: z.enum(["gp3", "gp2", "io1", "io2", "st1", "sc1"]).default("gp3"),
    /** "container": run rocker/rstudio on the host; "baked": RStudio Server is in the AMI. */
    rstudioMode: z.enum(["container", "baked"]).default("container"),
    rstudioImage: z.string().default("rocker/rstudio:4.4"),
    rPackages: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9.]*$/, "must be an R package name")).default([]),
    /** Before reaping, ask the instance whether R is busy (SSM Run Command). */
    busyCheck: z
      .object({
        enabled: z.boolean().default(true),
        cpuThreshold: z.number().min(0).max(100).default(25),
        extendSeconds: z.number().int().positive().default(1800),
        /** Tries of the check before the reaper gives up on it (one SSM hiccup must not reap a running job). */
        attempts: z.number().int().min(1).max(10).default(3),
      })
      .default({ enabled: true, cpuThreshold: 25, extendSeconds: 1800, attempts: 3 }),
    /**
     * A user whose home is in a zone without capacity waits this long for that zone; then the
     * home is moved (snapshot, new volume) to the zone where an instance was found.
     */
    homeMoveAfterSeconds: z.number().int().min(0).default(600),
  })
  .strict();

const appName = z.enum(APP_NAMES);

export const purposeSchema = z
  .object({
    name,
    description: z.string().max(500).default(""),
    /** The web app the instances serve (RStudio Server or Jupyter Notebook with the R kernel). */
    app: appName.default("rstudio"),
    /** Other apps the instances serve beside `app`, each on its own default port (EC2 images). */
    extraApps: z.array(appName).max(APP_NAMES.length).default([]),
    /** Port of `app` on the instance; absent means the app's own (8787 RStudio, 8888 Jupyter). */
    servicePort: z.number().int().min(1).max(65535).optional(),
    minFree: z.number().int().min(0).default(0),
    max: z.number().int().min(1).default(10),
    idleTimeoutSeconds: z.number().int().min(1).default(3600),
    maxLifetimeSeconds: z.number().int().min(60).default(12 * 3600),
    /** Seconds a booting instance may take before it is given up as failed. */
    bootTimeoutSeconds: z.number().int().min(5).default(900),
    /** Hourly price override (for the local provider, or to pin a price). */
    hourlyPrice: z.number().min(0).optional(),
    /** Cost-allocation tags put on instances and volumes. */
    costTags: tagMap.default({}),
    /** Adaptive warm pool: the share of this purpose's claims to serve warm (default pool.serviceLevel). */
    serviceLevel: z.number().gt(0).lt(1).optional(),
    /** Monthly budget of this purpose, in the pool currency. */
    monthlyBudget: z.number().positive().optional(),
    /**
     * What a rebalance recommendation (the provider's early sign that a spot instance is at
     * risk) does: nothing, tell the user, or move the user to a new instance while they are idle.
     */
    rebalance: z.enum(["ignore", "warn", "move-when-idle"]).default("warn"),
    /** Batch jobs (issue #18): the runner and the queue's limits. */
    jobs: jobsPurposeSchema.default(() => jobsPurposeSchema.parse({})),
    ec2: ec2PurposeSchema.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const main = p.servicePort ?? APPS[p.app].defaultPort;
    for (const [i, extra] of p.extraApps.entries()) {
      if (extra !== p.app && APPS[extra].defaultPort === main) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["extraApps", i], message: `${extra} listens on ${main}, the servicePort of ${p.app}; pick another servicePort` });
      }
    }
  })
  .transform((p) => ({ ...p, servicePort: p.servicePort ?? APPS[p.app].defaultPort }));

export const configFileSchema = z
  .object({
    pool: z
      .object({
        name: name.optional(),
        maxInstances: z.number().int().min(1).optional(),
        currency: z.string().length(3).optional(),
        warmPolicy: z.enum(["static", "adaptive"]).optional(),
        serviceLevel: z.number().gt(0).lt(1).optional(),
        /** Price of EBS home volumes per GB-month (gp3 in us-east-1 by default). */
        ebsPricePerGbMonth: z.number().min(0).optional(),
      })
      .strict()
      .default({}),
    purposes: z.array(purposeSchema).min(1),
    budgets: z
      .object({
        defaultUserMonthly: z.number().positive().optional(),
        users: z.record(z.string(), z.number().positive()).default({}),
        warnAt: z.number().gt(0).lt(1).default(0.8),
        /** Idle timeout applied to running instances of a user past their budget. */
        exceededIdleTimeoutSeconds: z.number().int().min(1).default(600),
      })
      .strict()
      .optional(),
  })
  .strict();

export type PurposeConfig = z.infer<typeof purposeSchema>;
export type Ec2PurposeConfig = z.infer<typeof ec2PurposeSchema>;
export type ConfigFile = z.infer<typeof configFileSchema>;

export type ProviderKind = "local" | "ec2";
export type LocalRuntime = "auto" | "docker" | "rserver" | "jupyter" | "command" | "placeholder";

export interface BudgetConfig {
  defaultUserMonthly?: number;
  users: Record<string, number>;
  warnAt: number;
  exceededIdleTimeoutSeconds: number;
}

export interface PoolConfig {
  poolName: string;
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | null;
  provider: ProviderKind;
  region: string;
  /**
   * SQS queue that EventBridge fills with EC2's spot interruption warnings, rebalance
   * recommendations and state changes (deploy/terraform creates it); null: the instances'
   * spot watchers are read through SSM instead.
   */
  eventsQueueUrl?: string | null;
  /** CloudWatch Logs group the EC2 job runner sends Run Command output to (live, whole logs); null: the invocation's output (24,000 characters, at the end). */
  jobsLogGroup?: string | null;
  maxInstances: number;
  currency: string;
  warmPolicy: "static" | "adaptive";
  serviceLevel: number;
  /** Price of EBS home volumes per GB-month; the ledger defaults it to gp3's $0.08. */
  ebsPricePerGbMonth?: number;
  /** Key of the trusted app that requests instances for its users (old protocol). */
  appKey: string | null;
  /** Key of the trusted proxy that reads status and deletes instances (old protocol). */
  proxyKey: string | null;
  /** passEnv: extra variable names local instances may see (POOL_LOCAL_PASS_ENV); see docs/operations.md. */
  local: { runtime: LocalRuntime; command: string | null; passEnv?: string[] };
  purposes: PurposeConfig[];
  budgets: BudgetConfig;
  /** How often the lifecycle loop ticks. */
  tickMs: number;
  /** How often the full provider listing is compared with the database. */
  reconcileMs: number;
  logLevel: string;
}

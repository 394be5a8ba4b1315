/**
 * A purpose's batch-job settings (issue #18): which runner starts its jobs and the limits the
 * per-user queue in front of it enforces. Defaults let every purpose take jobs on its own pool
 * instances with no extra configuration.
 */
import { z } from "zod";
import { JOB_RUNNERS } from "../../contract/jobs";

/** Fargate prices in us-east-1 (Linux, x86), per hour; override for another region or a discount. */
const FARGATE_VCPU_HOUR = 0.04048;
const FARGATE_GB_HOUR = 0.004445;

/** Where an ECS-run purpose starts its tasks: an existing cluster and task definition the platform team owns. */
export const ecsJobsSchema = z
  .object({
    cluster: z.string().min(1),
    /** Family, family:revision or ARN. */
    taskDefinition: z.string().min(1),
    /** The container of the task definition that runs the script (its image has Rscript). */
    container: z.string().min(1),
    launchType: z.enum(["FARGATE", "EC2"]).default("FARGATE"),
    subnets: z.array(z.string().min(1)).default([]),
    securityGroups: z.array(z.string().min(1)).default([]),
    assignPublicIp: z.boolean().default(false),
    /** The task's size, for the ledger (Fargate bills per vCPU-second and GB-second). */
    vcpu: z.number().positive().default(1),
    memoryGb: z.number().positive().default(2),
    pricePerVcpuHour: z.number().min(0).default(FARGATE_VCPU_HOUR),
    pricePerGbHour: z.number().min(0).default(FARGATE_GB_HOUR),
    /** CloudWatch Logs group and stream prefix of the container's awslogs driver (the stream is prefix/container/taskId). */
    logGroup: z.string().min(1).optional(),
    logStreamPrefix: z.string().min(1).optional(),
  })
  .strict();

export const jobsPurposeSchema = z
  .object({
    runner: z.enum(JOB_RUNNERS).default("pool"),
    /** Jobs of this purpose running at once (pool runner: at most the purpose's max instances). */
    maxRunning: z.number().int().min(1).optional(),
    /** Jobs one user may have running at once in this purpose; more wait in the queue (fairness). */
    maxRunningPerUser: z.number().int().min(1).default(2),
    /** Jobs one user may have queued or running in this purpose; more are refused (JOB_LIMIT). */
    maxActivePerUser: z.number().int().min(1).default(20),
    /** A job still running after this long is cancelled. */
    maxRuntimeSeconds: z.number().int().min(60).default(6 * 3600),
    /** Size limit of the script plus its files. */
    maxScriptBytes: z.number().int().min(1024).max(10 * 1024 * 1024).default(1024 * 1024),
    /**
     * Days a job's local log (`<dataDir>/local-jobs/<jobId>/`) is kept after the job ended; 0
     * keeps it forever. Per purpose, like the other limits, since purposes differ in how long
     * their users come back to a log; the job's row (state, exit code, cost) is never removed.
     */
    logRetentionDays: z.number().int().min(0).max(3650).default(30),
    ecs: ecsJobsSchema.optional(),
  })
  .strict()
  .superRefine((j, ctx) => {
    if (j.runner === "ecs" && !j.ecs) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["ecs"], message: "runner ecs needs ecs: { cluster, taskDefinition, container }" });
  });

export type JobsPurposeConfig = z.infer<typeof jobsPurposeSchema>;
export type EcsJobsConfig = z.infer<typeof ecsJobsSchema>;
export const DEFAULT_JOBS: JobsPurposeConfig = jobsPurposeSchema.parse({});

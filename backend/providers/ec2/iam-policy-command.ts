/**
 * `rstudio-pool iam-policy`: prints the backend's (or, with --instance, the instance role's)
 * IAM policy for this deployment, from the same source the tests check. Region, pool name and
 * the purposes' instance types come from the usual configuration when it loads; flags override.
 */
import type { Command } from "commander";
import { loadConfig } from "../../config/load";
import { backendPolicyDocument, instancePolicyDocument, instanceTrustPolicyDocument, type EcsPolicyTarget } from "./iam-policy";

interface Options {
  account: string;
  partition: string;
  region?: string;
  pool?: string;
  roleArn?: string;
  kmsKeyArn?: string;
  eventsQueueArn?: string;
  instance?: boolean;
  trust?: boolean;
  ecsRoleArn?: string[];
  jobsLogGroup?: string;
}

function configured(): { region?: string; pool?: string; types: string[]; profile?: string; ecs?: EcsPolicyTarget[] } {
  try {
    const c = loadConfig({ ...process.env, POOL_PROVIDER: process.env.POOL_PROVIDER ?? "ec2" });
    const types = [...new Set(c.purposes.flatMap((p) => p.ec2?.instanceTypes ?? []))];
    // Purposes whose jobs run on ECS (jobs.runner: ecs): their cluster, task definition and log group.
    const ecs = c.purposes.flatMap((p) => (p.jobs?.runner === "ecs" && p.jobs.ecs ? [{ cluster: p.jobs.ecs.cluster, taskDefinition: p.jobs.ecs.taskDefinition, ...(p.jobs.ecs.logGroup ? { logGroup: p.jobs.ecs.logGroup } : {}) }] : []));
    return { region: c.region ?? undefined, pool: c.poolName, types, profile: c.purposes.find((p) => p.ec2?.instanceProfile)?.ec2?.instanceProfile, ecs };
  } catch {
    return { region: process.env.REGION ?? process.env.AWS_REGION, pool: process.env.POOL_NAME, types: [] };
  }
}

export function registerIamPolicyCommand(program: Command): void {
  program
    .command("iam-policy")
    .description("print the least-privilege IAM policy of the backend identity (or --instance: of the instance role)")
    .option("--account <id>", "AWS account id", "ACCOUNT_ID")
    .option("--partition <p>", "aws, aws-cn or aws-us-gov", "aws")
    .option("--region <r>", "region (default: REGION / AWS_REGION)")
    .option("--pool <name>", "the Pool tag value (default: POOL_NAME)")
    .option("--role-arn <arn>", "the instance role (default: the purposes' instance profile name as a role)")
    .option("--kms-key-arn <arn>", "customer-managed KMS key of the volumes")
    .option("--events-queue-arn <arn>", "the events queue (POOL_EVENTS_QUEUE_URL) the backend reads")
    .option("--ecs-role-arn <arn...>", "the task and execution roles of the ECS purposes' task definitions (RunTask passes them)")
    .option("--jobs-log-group <name>", "the CloudWatch Logs group EC2 jobs' Run Command output goes to")
    .option("--instance", "print the instance role's policy instead")
    .option("--trust", "print the instance role's trust policy instead")
    .action((opts: Options) => {
      const c = configured();
      const region = opts.region ?? c.region ?? "REGION";
      const poolName = opts.pool ?? c.pool ?? "POOL";
      const vars = { partition: opts.partition, region, accountId: opts.account, poolName };
      const profile = c.profile && !c.profile.startsWith("arn:") ? c.profile : "rstudio-pool-instance";
      const doc = opts.trust
        ? instanceTrustPolicyDocument()
        : opts.instance
          ? instancePolicyDocument({ ...vars, ...(opts.jobsLogGroup ? { jobLogGroups: [opts.jobsLogGroup] } : {}) })
          : backendPolicyDocument({
              ...vars,
              instanceRoleArn: opts.roleArn ?? `arn:${opts.partition}:iam::${opts.account}:role/${profile}`,
              ...(c.types.length ? { instanceTypes: c.types } : {}),
              ...(opts.kmsKeyArn ? { kmsKeyArn: opts.kmsKeyArn } : {}),
              ...(opts.eventsQueueArn ? { eventsQueueArn: opts.eventsQueueArn } : {}),
              jobs: {
                ...(opts.jobsLogGroup ? { ssmLogGroups: [opts.jobsLogGroup] } : {}),
                ...(c.ecs?.length ? { ecs: c.ecs.map((e) => ({ ...e, passRoleArns: opts.ecsRoleArn ?? [] })) } : {}),
              },
            });
      process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    });
}

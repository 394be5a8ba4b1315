/**
 * The AWS job runners as the runner registry's hooks: EC2 jobs through the EC2 provider's own
 * SSM client (Run Command on the job's instance, and the keep-alive probe), ECS jobs through
 * ECS and CloudWatch Logs clients made on first use. Loaded only when the provider is EC2 or a
 * purpose runs its jobs on ECS (server.ts imports it dynamically), so a local pool never loads
 * the ECS and Logs SDKs.
 */
import type { PoolConfig } from "../../config/schema";
import type { Provider } from "../../providers/types";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { createJobAwsClients, type JobAwsClients } from "./aws-clients";
import { createEc2SsmRunner } from "./ec2-ssm";
import { createEcsRunner } from "./ecs";
import type { JobRunnerHooks } from "./index";

interface HasSsm {
  clients: { ssm: SSMClient };
}

function hasSsm(p: Provider): p is Provider & HasSsm {
  return typeof (p as Partial<HasSsm>).clients?.ssm?.send === "function";
}

export function awsJobRunnerHooks(provider: Provider, config: PoolConfig): JobRunnerHooks {
  let clients: JobAwsClients | null = null;
  const aws = () => (clients ??= createJobAwsClients({ region: config.region }));
  return {
    ec2: hasSsm(provider)
      ? () => createEc2SsmRunner({ ssm: provider.clients.ssm, ...(config.jobsLogGroup ? { logs: aws().logs, logGroup: config.jobsLogGroup } : {}) })
      : undefined,
    ecs: (purpose) => {
      if (!purpose.jobs.ecs) throw new Error(`purpose ${purpose.name} has jobs.runner ecs without jobs.ecs (the config check refuses this)`);
      return createEcsRunner(purpose.jobs.ecs, aws());
    },
  };
}

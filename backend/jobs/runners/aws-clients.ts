/**
 * The SDK clients the AWS job runners need beyond the EC2 provider's (which already has SSM):
 * ECS for RunTask/DescribeTasks/StopTask and CloudWatch Logs for the jobs' logs. Credentials
 * and region as for the provider (backend/providers/ec2/clients.ts): the default Node chain,
 * REGION/AWS_REGION; the SDK itself honours AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_ECS and
 * AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, and explicit endpoints here are for tests.
 */
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { ECSClient } from "@aws-sdk/client-ecs";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import type { AwsClientOptions } from "../../providers/ec2/clients";

export interface JobAwsClients {
  ecs: ECSClient;
  logs: CloudWatchLogsClient;
  destroy(): void;
}

export function createJobAwsClients(options: Omit<AwsClientOptions, "endpoints"> & { endpoints?: { ecs?: string; logs?: string } }): JobAwsClients {
  const common = { region: options.region, credentials: options.credentials ?? fromNodeProviderChain(), maxAttempts: options.maxAttempts ?? 4 };
  // RunTask is made safe to retry by its clientToken (the job id), so the SDK's retries are kept.
  const ecs = new ECSClient({ ...common, ...(options.endpoints?.ecs ? { endpoint: options.endpoints.ecs } : {}) });
  const logs = new CloudWatchLogsClient({ ...common, ...(options.endpoints?.logs ? { endpoint: options.endpoints.logs } : {}) });
  return {
    ecs,
    logs,
    destroy() {
      ecs.destroy();
      logs.destroy();
    },
  };
}

/**
 * The AWS SDK clients of the EC2 provider. Credentials come from the default Node chain
 * (environment, SSO, shared profiles with AWS_PROFILE, container and instance roles); the
 * region from REGION/AWS_REGION (config.region). Endpoints: the SDK itself honours
 * AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL_SSM; explicit endpoints here are
 * for tests and for EC2-compatible clouds.
 */
import { EC2Client, type EC2ClientConfig } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";

export interface AwsClientOptions {
  region: string;
  credentials?: EC2ClientConfig["credentials"];
  endpoints?: { ec2?: string; ssm?: string };
  /** Attempts of ordinary calls (the SDK's standard retry with backoff). */
  maxAttempts?: number;
}

export interface AwsClients {
  /** Ordinary EC2 calls, with the SDK's retries. */
  ec2: EC2Client;
  /** RunInstances only: one attempt, the launch queue does the retrying within the budget. */
  ec2Launch: EC2Client;
  ssm: SSMClient;
  /** StartSession only: one attempt (not idempotent). Absent: ssm. */
  ssmOnce?: SSMClient;
  region: string;
  /** The SSM endpoint session-manager-plugin must talk to. */
  ssmEndpoint: string;
  destroy(): void;
}

export function ssmEndpointFor(region: string, explicit: string | undefined, env: Record<string, string | undefined>): string {
  return explicit ?? env.AWS_ENDPOINT_URL_SSM ?? env.AWS_ENDPOINT_URL ?? `https://ssm.${region}.amazonaws.com`;
}

export function createAwsClients(options: AwsClientOptions, env: Record<string, string | undefined> = process.env): AwsClients {
  const credentials = options.credentials ?? fromNodeProviderChain();
  const common = { region: options.region, credentials };
  const ec2 = new EC2Client({ ...common, maxAttempts: options.maxAttempts ?? 4, ...(options.endpoints?.ec2 ? { endpoint: options.endpoints.ec2 } : {}) });
  const ec2Launch = new EC2Client({ ...common, maxAttempts: 1, ...(options.endpoints?.ec2 ? { endpoint: options.endpoints.ec2 } : {}) });
  const ssmEndpointOption = options.endpoints?.ssm ? { endpoint: options.endpoints.ssm } : {};
  const ssm = new SSMClient({ ...common, maxAttempts: options.maxAttempts ?? 4, ...ssmEndpointOption });
  const ssmOnce = new SSMClient({ ...common, maxAttempts: 1, ...ssmEndpointOption });
  return {
    ec2,
    ec2Launch,
    ssm,
    ssmOnce,
    region: options.region,
    ssmEndpoint: ssmEndpointFor(options.region, options.endpoints?.ssm, env),
    destroy() {
      ec2.destroy();
      ec2Launch.destroy();
      ssm.destroy();
      ssmOnce.destroy();
    },
  };
}

/** Builds the provider the configuration asks for. */
import type { PoolConfig } from "../config/schema";
import type { Logger } from "pino";
import { LocalProvider } from "./local/provider";
import type { Provider } from "./types";

export async function createProvider(config: PoolConfig, log?: Logger): Promise<Provider> {
  switch (config.provider) {
    case "local":
      return new LocalProvider({ dataDir: config.dataDir, runtime: config.local.runtime, command: config.local.command, log, passEnv: config.local.passEnv });
    case "ec2": {
      // Loaded only when used: the AWS SDK is most of the bundle, and the local provider needs none of it.
      const { Ec2Provider } = await import("./ec2/provider.js");
      return new Ec2Provider({ region: config.region, poolName: config.poolName, log, purposes: config.purposes, eventsQueueUrl: config.eventsQueueUrl });
    }
  }
}

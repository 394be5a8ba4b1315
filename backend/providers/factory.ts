/** Builds the provider the configuration asks for. */
import type { PoolConfig } from "../config/schema";
import { PoolError } from "../errors";
import { LocalProvider } from "./local/provider";
import type { Provider } from "./types";

export async function createProvider(config: PoolConfig): Promise<Provider> {
  switch (config.provider) {
    case "local":
      return new LocalProvider({ dataDir: config.dataDir, runtime: config.local.runtime, command: config.local.command });
    case "ec2":
      throw new PoolError("INVALID_CONFIG", "POOL_PROVIDER=ec2 is not available in this build yet.");
  }
}

/**
 * The backend for the SSM scenario: the real service (backend/server.ts serve) configured from
 * the environment like `rstudio-pool serve`, but with the SSM stand-in provider. Run as
 * `node --import tsx test/e2e/support/ssm-backend.ts`; stops on SIGTERM.
 */
import path from "node:path";
import { loadConfig } from "../../../backend/config/load";
import { createLogger } from "../../../backend/log";
import { LocalProvider } from "../../../backend/providers/local/provider";
import { serve } from "../../../backend/server";
import { SsmStandInProvider } from "./ssm-provider";

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger({ level: config.logLevel });
  const local = new LocalProvider({
    dataDir: config.dataDir,
    runtime: "placeholder",
    command: null,
    codeDir: path.resolve(__dirname, "..", "..", "..", "dist", "backend"),
  });
  const running = await serve({ config, log, provider: new SsmStandInProvider(local), version: "e2e-ssm" });
  const stop = () => void running.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err) => {
  process.stderr.write(`ssm-backend: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

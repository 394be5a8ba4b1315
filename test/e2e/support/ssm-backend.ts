/**
 * The backend for the SSM scenario: the real service (backend/server.ts serve) configured from
 * the environment like `rstudio-pool serve`, but with the SSM stand-in provider and, in the same
 * process, the fake SSM gateway on 127.0.0.1 that its sessions live on. E2E_SSM_CLOSE_AFTER_MS
 * makes the gateway close each session's first WebSocket that long after it opened (a forced
 * resume); E2E_SSM_EVENTS is the file the provider records starts, resumes and ends in. Run as
 * `node --import tsx test/e2e/support/ssm-backend.ts`; stops on SIGTERM.
 */
import path from "node:path";
import { loadConfig } from "../../../backend/config/load";
import { createLogger } from "../../../backend/log";
import { LocalProvider } from "../../../backend/providers/local/provider";
import { serve } from "../../../backend/server";
import { FakeSsmGateway } from "../../support/ssm/fake-gateway";
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
  const gateway = await FakeSsmGateway.start();
  const closeAfter = Number(process.env.E2E_SSM_CLOSE_AFTER_MS ?? "");
  if (Number.isFinite(closeAfter) && closeAfter > 0) gateway.defaultFaults = { closeAfterMs: closeAfter, closes: 1 };
  const provider = new SsmStandInProvider(local, gateway, process.env.E2E_SSM_EVENTS || null);
  const running = await serve({ config, log, provider, version: "e2e-ssm" });
  const stop = () => void Promise.all([running.close(), gateway.close()]).then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err) => {
  process.stderr.write(`ssm-backend: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

/**
 * `npm run simulate -- --trace FILE --policy static:3|adaptive|adaptive:uncalibrated|schedule:3
 * [--boot-seconds 150] [--office-tz Europe/Berlin,America/New_York]`: replays a trace through the
 * pool and prints one JSON object with the results.
 */
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { DEFAULT_SIM, simulate } from "./engine";
import { parsePolicy } from "./policy-arg";
import { parseTrace } from "./trace";

const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number");
  return n;
};

const program = new Command("simulate")
  .description("replay a claims trace through the pool with a simulated clock and provider")
  .requiredOption("--trace <file>", "CSV: timestamp,userId,purpose,sessionSeconds[,forgetsToClose]")
  .requiredOption("--policy <policy>", "static:N | schedule:N | adaptive | adaptive:uncalibrated")
  .option("--office-tz <zones>", "schedule:N: comma-separated office time zones", "Europe/Berlin")
  .option("--boot-seconds <s>", "time from launch to ready", positive, DEFAULT_SIM.bootSeconds)
  .option("--price <perHour>", "hourly price of an instance", positive, DEFAULT_SIM.hourlyPrice)
  .option("--idle-timeout <s>", "idle timeout of the purpose", positive, DEFAULT_SIM.idleTimeoutSeconds)
  .option("--service-level <p>", "adaptive: target probability", positive, DEFAULT_SIM.serviceLevel)
  .action(async (o: { trace: string; policy: string; officeTz: string; bootSeconds: number; price: number; idleTimeout: number; serviceLevel: number }) => {
    const zones = o.officeTz.split(",").map((z) => z.trim());
    for (const timeZone of zones) {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone });
      } catch {
        throw new InvalidArgumentError(`unknown time zone "${timeZone}"`);
      }
    }
    const policy = parsePolicy(o.policy, zones);
    const rows = parseTrace(readFileSync(o.trace, "utf8"));
    const result = await simulate(rows, {
      ...DEFAULT_SIM,
      policy,
      bootSeconds: o.bootSeconds,
      hourlyPrice: o.price,
      idleTimeoutSeconds: o.idleTimeout,
      serviceLevel: o.serviceLevel,
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  });

if (require.main === module) {
  program.parseAsync(process.argv).catch((err: Error) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  });
}

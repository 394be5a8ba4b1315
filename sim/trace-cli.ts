/**
 * `npm run trace -- --users 200 --weeks 4 --seed 7 --tz Europe/Berlin --out FILE`: writes a
 * generated trace; `npm run trace -- --family NAME --out FILE` writes one of the family
 * (sim/family.ts) from its stored parameters (`--family list` lists them).
 */
import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { FAMILY, familyTrace } from "./family";
import { generateTrace } from "./generate";
import { formatTrace } from "./trace";

const int = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
  return n;
};

const program = new Command("trace")
  .description("generate a claims trace of a team working office hours in one time zone")
  .option("--users <n>", "team size", int(1), 200)
  .option("--weeks <n>", "number of weeks", int(1), 4)
  .option("--seed <n>", "random seed", int(0), 1)
  .option("--tz <zone>", "IANA time zone of the office", "Europe/Berlin")
  .option("--start <YYYY-MM-DD>", "a Monday: the first day", "2026-11-02")
  .option("--forgetful <share>", "share of users who sometimes forget to close", (v) => Number(v), 0.15)
  .option("--family <name>", "a trace of the family, from its parameters in sim/family.ts (\"list\" lists them)")
  .option("--out <file>", "where to write the CSV")
  .action((o: { users: number; weeks: number; seed: number; tz: string; start: string; forgetful: number; family?: string; out?: string }) => {
    if (o.family === "list") {
      for (const f of FAMILY) process.stdout.write(`${f.name}\t${f.shape}\n`);
      return;
    }
    if (!o.out) throw new InvalidArgumentError("--out <file> is required");
    if (o.family) {
      const f = familyTrace(o.family);
      const rows = generateTrace(f.options);
      writeFileSync(o.out, formatTrace(rows));
      process.stderr.write(`wrote ${rows.length} claims of ${f.name} (${f.shape}) to ${o.out}\n`);
      return;
    }
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: o.tz });
    } catch {
      throw new InvalidArgumentError(`unknown time zone "${o.tz}"`);
    }
    const rows = generateTrace({ users: o.users, weeks: o.weeks, seed: o.seed, tz: o.tz, start: o.start, forgetfulShare: o.forgetful });
    writeFileSync(o.out, formatTrace(rows));
    process.stderr.write(`wrote ${rows.length} claims of ${o.users} users over ${o.weeks} weeks to ${o.out}\n`);
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});

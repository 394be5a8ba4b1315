/**
 * The family of traces the adaptive warm pool is judged on: shapes a platform team meets, each
 * kept here as the generator's parameters (the CSVs are made from them, deterministically).
 * `npm run trace -- --family NAME --out FILE` writes one; the simulator tools generate them in
 * memory. The office hours of each trace (for the schedule-based pool) follow from its groups.
 */
import { generateTrace, type TraceOptions } from "./generate";
import type { TraceRow } from "./trace";

export interface FamilyTrace {
  name: string;
  /** What the trace is for, in one line (docs/costs.md lists it). */
  shape: string;
  options: TraceOptions;
}

const BERLIN = "Europe/Berlin";
const NEW_YORK = "America/New_York";
const BANGALORE = "Asia/Kolkata";

export const FAMILY: FamilyTrace[] = [
  { name: "office-10", shape: "one office, 10 people", options: { users: 10, weeks: 4, seed: 101, tz: BERLIN } },
  { name: "office-60", shape: "one office, 60 people", options: { users: 60, weeks: 4, seed: 102, tz: BERLIN } },
  { name: "office-200", shape: "one office, 200 people (the project's own trace, seed 7)", options: { users: 200, weeks: 4, seed: 7, tz: BERLIN } },
  { name: "office-1000", shape: "one office, 1,000 people", options: { users: 1000, weeks: 4, seed: 104, tz: BERLIN } },
  {
    name: "two-offices-60",
    shape: "two offices, Berlin 40 + New York 20",
    options: { users: 0, tz: BERLIN, weeks: 4, seed: 105, groups: [{ users: 40, tz: BERLIN, idPrefix: "ber" }, { users: 20, tz: NEW_YORK, idPrefix: "nyc" }] },
  },
  {
    name: "three-offices-200",
    shape: "three offices, Berlin 90 + New York 70 + Bangalore 40",
    options: {
      users: 0,
      tz: BERLIN,
      weeks: 4,
      seed: 106,
      groups: [
        { users: 90, tz: BERLIN, idPrefix: "ber" },
        { users: 70, tz: NEW_YORK, idPrefix: "nyc" },
        { users: 40, tz: BANGALORE, idPrefix: "blr" },
      ],
    },
  },
  {
    name: "holiday-60",
    shape: "60 people, five weeks over Christmas: 24 Dec to 1 Jan off (10% come), back on Monday 4 Jan",
    options: { users: 60, weeks: 5, seed: 108, tz: BERLIN, start: "2026-12-07", holidays: ["2026-12-24", "2026-12-25", "2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01"] },
  },
  {
    name: "monday-surge-60",
    shape: "60 people; from the second Monday on, 70% of those present start at 09:00 ± 5 min (a weekly kick-off)",
    options: { users: 60, weeks: 4, seed: 109, tz: BERLIN, mondaySurge: { share: 0.7, fromWeek: 1 } },
  },
  {
    name: "new-team-200",
    shape: "120 people, and a team of 80 joining on Wednesday of the third week",
    options: { users: 0, tz: BERLIN, weeks: 4, seed: 110, groups: [{ users: 120, tz: BERLIN, idPrefix: "old" }, { users: 80, tz: BERLIN, idPrefix: "new", joinsOnDay: 16 }] },
  },
  {
    name: "batch-60",
    shape: "50 office people and 10 batch users running jobs at night and on weekends",
    options: { users: 0, tz: BERLIN, weeks: 4, seed: 111, groups: [{ users: 50, tz: BERLIN, idPrefix: "ofc" }, { users: 10, tz: BERLIN, idPrefix: "bat", kind: "batch" }] },
  },
  {
    name: "drift-200",
    shape: "200 people adopting the pool: 60% use it in the first days, all of them by the end (+10%/week)",
    options: { users: 200, weeks: 4, seed: 112, tz: BERLIN, driftPerWeek: 0.1 },
  },
];

export function familyTrace(name: string): FamilyTrace {
  const t = FAMILY.find((f) => f.name === name);
  if (!t) throw new Error(`unknown trace "${name}": the family has ${FAMILY.map((f) => f.name).join(", ")}`);
  return t;
}

export function familyRows(name: string): TraceRow[] {
  return generateTrace(familyTrace(name).options);
}

/** The time zones of a trace's offices (batch users keep no office hours). */
export function officeZones(t: FamilyTrace): string[] {
  const groups = t.options.groups ?? [t.options];
  return [...new Set(groups.filter((g) => g.kind !== "batch").map((g) => g.tz))];
}

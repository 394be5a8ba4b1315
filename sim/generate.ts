/**
 * A realistic team's claims, generated from a seed: weekday office hours in one time zone
 * (each user with their own arrival time and attendance), a lunch break that splits the day
 * into a morning and an afternoon session (the lunch dip), lognormal session lengths, a few
 * weekend sessions, and a share of users who sometimes walk away without releasing.
 */
import { lognormal, normal, randomInt, seededRandom, type Random } from "./random";
import type { TraceRow } from "./trace";

/** One group of people: an office in one time zone, or a few batch users. */
export interface GroupOptions {
  users: number;
  /** IANA time zone of the office, e.g. Europe/Berlin. */
  tz: string;
  /** "office" (default): weekday office hours; "batch": jobs at night and on weekends. */
  kind?: "office" | "batch";
  /** Prefix of the user ids (default "user"); groups of one trace need different ones. */
  idPrefix?: string;
  purpose?: string;
  /** Share of users who sometimes forget to close. */
  forgetfulShare?: number;
  /** The group's first working day, counted from the trace's first day: a team joining mid-trace. */
  joinsOnDay?: number;
  /** Local dates (YYYY-MM-DD) that are holidays: only `holidayAttendance` of the usual people come. */
  holidays?: string[];
  holidayAttendance?: number;
  /**
   * Monday-morning surge: on Mondays this share of those present start at 09:00 local ± 5 min
   * (a weekly kick-off), from week `fromWeek` (0-based) on; earlier Mondays are ordinary.
   */
  mondaySurge?: { share: number; fromWeek?: number };
  /**
   * Slow drift in demand: the share of the group that uses the pool changes by this much per
   * week (0.1: from 60% to 100% over four weeks; negative: from 100% down).
   */
  driftPerWeek?: number;
}

export interface TraceOptions extends GroupOptions {
  weeks: number;
  seed: number;
  /** Monday 00:00 local time of the first week (default 2026-11-02). */
  start?: string;
  /** Several groups (offices in other time zones, batch users); without it the trace is one group: the fields above. */
  groups?: GroupOptions[];
}

const MIN = 60_000;
const HOUR = 60 * MIN;

// Making a formatter costs far more than using one (it was a tenth of a 1,000-person simulation).
const formatters = new Map<string, Intl.DateTimeFormat>();
function wallClock(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    formatters.set(tz, f);
  }
  return f;
}

/** Offset of `tz` from UTC at instant `utc`, in ms (positive east of Greenwich). */
function tzOffset(utc: number, tz: string): number {
  const parts = wallClock(tz).formatToParts(new Date(utc));
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second")) - Math.floor(utc / 1000) * 1000;
}

/** The UTC instant of a local wall-clock time (ms after local midnight of a local date). */
export function localToUtc(year: number, month0: number, day: number, msOfDay: number, tz: string): number {
  const wall = Date.UTC(year, month0, day) + msOfDay;
  let utc = wall - tzOffset(wall, tz);
  utc = wall - tzOffset(utc, tz); // second pass settles DST edges
  return utc;
}

interface Person {
  id: string;
  attendance: number;
  arrival: number; // ms after local midnight
  leaves: number;
  lunches: number;
  forgetful: boolean;
  /** Uniform draw: the person uses the pool on days when the group's active share exceeds it (drift). */
  adoption: number;
}

function people(rand: Random, extra: Random, n: number, forgetfulShare: number, prefix: string): Person[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${String(i + 1).padStart(3, "0")}`,
    attendance: 0.7 + 0.25 * rand(),
    arrival: 9 * HOUR + normal(rand) * 50 * MIN,
    leaves: 17.5 * HOUR + normal(rand) * 60 * MIN,
    lunches: 0.6 + 0.35 * rand(),
    forgetful: rand() < forgetfulShare,
    adoption: extra(),
  }));
}

/** Share of the group using the pool on day `k` of a trace of `days` days. */
function activeShare(driftPerWeek: number, k: number, days: number): number {
  if (driftPerWeek >= 0) return 1 - driftPerWeek * ((days - 1 - k) / 7);
  return 1 + driftPerWeek * (k / 7);
}

const localDate = (day: Date) => day.toISOString().slice(0, 10);

/**
 * The claims of one group. The draws of an office group without modifiers are the same as
 * before groups existed (so shipped traces regenerate byte for byte); the modifiers draw from
 * a second stream.
 */
function groupRows(g: GroupOptions, o: TraceOptions, rand: Random, extra: Random): TraceRow[] {
  const purpose = g.purpose ?? "default";
  const batch = g.kind === "batch";
  const team = people(rand, extra, g.users, g.forgetfulShare ?? (batch ? 0 : 0.15), g.idPrefix ?? "user");
  const [y, m, d] = (o.start ?? "2026-11-02").split("-").map(Number) as [number, number, number];
  const holidays = new Set(g.holidays ?? []);
  const days = o.weeks * 7;
  const rows: TraceRow[] = [];
  const session = (p: Person, day: Date, startMs: number, seconds: number) => {
    if (seconds < 120) return;
    const at = localToUtc(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), startMs, g.tz);
    rows.push({ at: Math.round(at / 1000) * 1000, userId: p.id, purpose, sessionSeconds: Math.round(seconds), forgetsToClose: p.forgetful && rand() < 0.4 });
  };
  for (let k = g.joinsOnDay ?? 0; k < days; k++) {
    const day = new Date(Date.UTC(y, m - 1, d + k));
    const weekend = day.getUTCDay() === 0 || day.getUTCDay() === 6;
    const holiday = holidays.has(localDate(day));
    const share = g.driftPerWeek ? activeShare(g.driftPerWeek, k, days) : 1;
    const surge = g.mondaySurge && day.getUTCDay() === 1 && Math.floor(k / 7) >= (g.mondaySurge.fromWeek ?? 0) ? g.mondaySurge.share : 0;
    for (const p of team) {
      if (p.adoption >= share) continue;
      if (batch) {
        batchDay(p, day, weekend, rand, session);
        continue;
      }
      if (weekend) {
        if (rand() < 0.03) session(p, day, randomInt(rand, 10, 16) * HOUR, lognormal(rand, 1.5 * 3600, 0.6));
        continue;
      }
      if (rand() > p.attendance * (holiday ? (g.holidayAttendance ?? 0.1) : 1)) continue;
      let start = p.arrival + normal(rand) * 20 * MIN;
      if (surge && extra() < surge) start = 9 * HOUR + normal(extra) * 5 * MIN;
      const leave = p.leaves + normal(rand) * 30 * MIN;
      if (rand() < p.lunches) {
        // Lunch splits the day: the morning session ends when they go to lunch, a new one starts after.
        const lunch = 12.25 * HOUR + normal(rand) * 25 * MIN;
        const morning = Math.min(lognormal(rand, 2.5 * 3600, 0.5) * 1000, lunch - start);
        session(p, day, start, morning / 1000);
        if (rand() < 0.85) {
          const back = lunch + (30 + 30 * rand()) * MIN;
          session(p, day, back, Math.min(lognormal(rand, 2.5 * 3600, 0.5) * 1000, leave - back) / 1000);
        }
      } else {
        session(p, day, start, Math.min(lognormal(rand, 4 * 3600, 0.5) * 1000, leave - start) / 1000);
      }
      // Now and then a short late session (a job to check, a quick plot).
      if (rand() < 0.1) session(p, day, leave + randomInt(rand, 30, 240) * MIN, lognormal(rand, 0.5 * 3600, 0.6));
    }
  }
  return rows;
}

/**
 * A batch user: most nights a job started around their own hour (22:00 local ± 90 min, each
 * night ± 30 min) running a few hours; on weekend days, often a daytime run as well.
 */
function batchDay(p: Person, day: Date, weekend: boolean, rand: Random, session: (p: Person, day: Date, startMs: number, seconds: number) => void): void {
  const nightly = 22 * HOUR + (p.arrival - 9 * HOUR) * 1.8; // the person's own hour, from their arrival draw
  if (rand() < p.attendance * 0.7) session(p, day, nightly + normal(rand) * 30 * MIN, lognormal(rand, 3 * 3600, 0.5));
  if (weekend && rand() < 0.5) session(p, day, randomInt(rand, 9, 19) * HOUR + rand() * HOUR, lognormal(rand, 2 * 3600, 0.6));
}

export function generateTrace(o: TraceOptions): TraceRow[] {
  const groups = o.groups ?? [o];
  const rows = groups.flatMap((g, i) => {
    // The first group draws from the trace's seed (as single-group traces always did).
    const rand = seededRandom(o.seed + 7919 * i);
    const extra = seededRandom((o.seed ^ 0x5bd1e995) + 104_729 * i);
    return groupRows(g, o, rand, extra);
  });
  return rows.sort((a, b) => a.at - b.at || a.userId.localeCompare(b.userId));
}

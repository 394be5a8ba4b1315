/**
 * A realistic team's claims, generated from a seed: weekday office hours in one time zone
 * (each user with their own arrival time and attendance), a lunch break that splits the day
 * into a morning and an afternoon session (the lunch dip), lognormal session lengths, a few
 * weekend sessions, and a share of users who sometimes walk away without releasing.
 */
import { lognormal, normal, randomInt, seededRandom, type Random } from "./random";
import type { TraceRow } from "./trace";

export interface TraceOptions {
  users: number;
  weeks: number;
  seed: number;
  /** IANA time zone of the office, e.g. Europe/Berlin. */
  tz: string;
  /** Monday 00:00 local time of the first week (default 2026-11-02). */
  start?: string;
  purpose?: string;
  /** Share of users who sometimes forget to close. */
  forgetfulShare?: number;
}

const MIN = 60_000;
const HOUR = 60 * MIN;

/** Offset of `tz` from UTC at instant `utc`, in ms (positive east of Greenwich). */
function tzOffset(utc: number, tz: string): number {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(utc));
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
}

function people(rand: Random, n: number, forgetfulShare: number): Person[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `user${String(i + 1).padStart(3, "0")}`,
    attendance: 0.7 + 0.25 * rand(),
    arrival: 9 * HOUR + normal(rand) * 50 * MIN,
    leaves: 17.5 * HOUR + normal(rand) * 60 * MIN,
    lunches: 0.6 + 0.35 * rand(),
    forgetful: rand() < forgetfulShare,
  }));
}

export function generateTrace(o: TraceOptions): TraceRow[] {
  const rand = seededRandom(o.seed);
  const purpose = o.purpose ?? "default";
  const team = people(rand, o.users, o.forgetfulShare ?? 0.15);
  const [y, m, d] = (o.start ?? "2026-11-02").split("-").map(Number) as [number, number, number];
  const rows: TraceRow[] = [];
  const session = (p: Person, day: Date, startMs: number, seconds: number) => {
    if (seconds < 120) return;
    const at = localToUtc(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), startMs, o.tz);
    rows.push({ at: Math.round(at / 1000) * 1000, userId: p.id, purpose, sessionSeconds: Math.round(seconds), forgetsToClose: p.forgetful && rand() < 0.4 });
  };
  for (let k = 0; k < o.weeks * 7; k++) {
    const day = new Date(Date.UTC(y, m - 1, d + k));
    const weekend = day.getUTCDay() === 0 || day.getUTCDay() === 6;
    for (const p of team) {
      if (weekend) {
        if (rand() < 0.03) session(p, day, randomInt(rand, 10, 16) * HOUR, lognormal(rand, 1.5 * 3600, 0.6));
        continue;
      }
      if (rand() > p.attendance) continue;
      const start = p.arrival + normal(rand) * 20 * MIN;
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
  return rows.sort((a, b) => a.at - b.at || a.userId.localeCompare(b.userId));
}

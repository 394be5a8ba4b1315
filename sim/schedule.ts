/**
 * The schedule-based warm pool other systems configure for prebuilds: a fixed number of spares
 * during office hours (weekdays 07:00-19:00 local, in any of the trace's office time zones),
 * none otherwise. Used by the simulator as the second baseline next to static pools.
 */
import type { PoolPolicies } from "../backend/pool/context";
import { staticPolicies } from "../backend/pool/context";

export interface OfficeHours {
  zones: string[];
  /** Local hours [from, to) on weekdays. */
  from: number;
  to: number;
}

export const DEFAULT_OFFICE_HOURS = { from: 7, to: 19 };

const HOUR = 3_600_000;

/** Whether instant `utc` falls in office hours in any of the zones (answers cached per UTC hour). */
export function officeHoursClock(hours: OfficeHours): (utc: number) => boolean {
  const formats = hours.zones.map((timeZone) => new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", weekday: "short", hour: "2-digit" }));
  const cache = new Map<number, boolean>();
  return (utc) => {
    // Every zone in use has whole-hour or half-hour offsets; a half hour's error at the edge is fine for a baseline.
    const key = Math.floor(utc / HOUR);
    let open = cache.get(key);
    if (open === undefined) {
      open = formats.some((f) => {
        const parts = f.formatToParts(new Date(key * HOUR + HOUR / 2));
        const weekday = parts.find((p) => p.type === "weekday")!.value;
        const hour = Number(parts.find((p) => p.type === "hour")!.value);
        return weekday !== "Sat" && weekday !== "Sun" && hour >= hours.from && hour < hours.to;
      });
      cache.set(key, open);
    }
    return open;
  };
}

export function schedulePolicies(spares: number, hours: OfficeHours): PoolPolicies {
  const open = officeHoursClock(hours);
  return { ...staticPolicies, warmTarget: async (_purpose, now) => (open(now) ? spares : 0) };
}

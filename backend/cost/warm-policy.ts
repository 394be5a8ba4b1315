/**
 * The adaptive warm pool (config pool.warmPolicy = adaptive): feeds the pure forecaster
 * (forecast.ts) with the claim history of each purpose from the events table, read
 * incrementally (only events newer than the last one seen), and with the boot time actually
 * observed (90th percentile of the last boots' `running` events).
 */
import type { Kysely } from "kysely";
import type { PurposeConfig } from "../config/schema";
import { prepare } from "../store/prepared";
import type { Database } from "../store/schema";
import { ClaimHistory, DEFAULT_FORECAST, forecastWarmTarget, type ForecastParams, type WarmForecast } from "./forecast";

export interface AdaptiveOptions {
  serviceLevel: number;
  /** Boot time assumed until boots have been observed. */
  defaultBootMs?: number;
  params?: Partial<typeof DEFAULT_FORECAST>;
}

const BOOT_SAMPLES = 50;

const claimsAndBoots = (db: Kysely<Database>) =>
  db.selectFrom("events").select(["id", "at", "purpose", "kind", "details"]).where("kind", "in", ["assigned", "running"]);
// `at` bounds the index range (events_kind_at); `id` drops the ones already seen.
const newClaimsAndBoots = prepare((db: Kysely<Database>, since: number, afterId: number) =>
  claimsAndBoots(db).where("at", ">=", since).where("id", ">", afterId).orderBy("id"),
);

export class AdaptiveWarmPolicy {
  private readonly histories = new Map<string, ClaimHistory>();
  private readonly boots: number[] = [];
  private lastEventId = 0;
  private lastEventAt = 0;
  private loaded = false;
  /** When the history starts: the first event ever recorded. */
  private since = 0;
  private readonly params: Omit<ForecastParams, "bootMs">;
  /** The last forecast per purpose (for logs and the simulator). */
  readonly last = new Map<string, WarmForecast>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: AdaptiveOptions,
  ) {
    this.params = { ...DEFAULT_FORECAST, ...options.params, serviceLevel: options.serviceLevel };
  }

  bootMs(): number {
    if (this.boots.length === 0) return this.options.defaultBootMs ?? 180_000;
    const sorted = [...this.boots].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]!;
  }

  private history(purpose: string, since: number): ClaimHistory {
    let h = this.histories.get(purpose);
    if (!h) {
      h = new ClaimHistory(since);
      this.histories.set(purpose, h);
    }
    return h;
  }

  /** Reads claims (`assigned`) and boots (`running`) newer than the last event seen. */
  private async refresh(now: number): Promise<void> {
    let events;
    if (!this.loaded) {
      const first = await this.db.selectFrom("events").select((eb) => eb.fn.min("at").as("at")).executeTakeFirst();
      this.since = first?.at === null || first?.at === undefined ? now : Math.min(now, Number(first.at));
      events = await claimsAndBoots(this.db).where("at", ">=", now - (this.params.weeksBack * 7 + 1) * 86_400_000).orderBy("id").execute();
      this.loaded = true;
    } else {
      events = (await newClaimsAndBoots(this.db, this.lastEventAt, this.lastEventId)).rows;
    }
    for (const e of events) {
      this.lastEventId = Math.max(this.lastEventId, Number(e.id));
      this.lastEventAt = Math.max(this.lastEventAt, Number(e.at));
      if (!e.purpose) continue;
      if (e.kind === "assigned") this.history(e.purpose, this.since).add(Number(e.at));
      else if (e.details) {
        const bootMs = Number((JSON.parse(e.details) as { bootMs?: unknown }).bootMs);
        if (Number.isFinite(bootMs) && bootMs > 0) {
          this.boots.push(bootMs);
          if (this.boots.length > BOOT_SAMPLES) this.boots.shift();
        }
      }
    }
    for (const h of this.histories.values()) h.prune(now - this.params.recentMs - this.params.holdMs);
  }


  async warmTarget(purpose: PurposeConfig, now: number): Promise<number> {
    await this.refresh(now);
    const forecast = forecastWarmTarget(this.history(purpose.name, this.since), now, { ...this.params, bootMs: this.bootMs() });
    this.last.set(purpose.name, forecast);
    return forecast.target;
  }
}

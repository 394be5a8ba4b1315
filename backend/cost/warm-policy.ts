/**
 * The adaptive warm pool (config pool.warmPolicy = adaptive): feeds the pure forecaster
 * (forecast.ts) with the claim history of each purpose from the events table, read
 * incrementally (only events newer than the last one seen), with the boot time actually
 * observed (90th percentile of the last boots' `running` events), and with the calibration
 * (calibration.ts) that measures each claim's outcome (`assigned` events say `warm` or
 * `launch`) against the purpose's service level. The calibration's boosts are stored in the
 * database, so a restarted server plans as the stopped one did.
 */
import type { Kysely } from "kysely";
import type { PurposeConfig } from "../config/schema";
import { prepare } from "../store/prepared";
import type { Database } from "../store/schema";
import { loadCalibration, saveCalibration } from "../store/warm-calibration";
import { WarmCalibration, type ForecastError, type WarmShareReport } from "./calibration";
import { ClaimHistory, DEFAULT_FORECAST, forecastWarmTarget, type ForecastParams, type WarmForecast } from "./forecast";

export interface AdaptiveOptions {
  serviceLevel: number;
  /** Boot time assumed until boots have been observed. */
  defaultBootMs?: number;
  params?: Partial<typeof DEFAULT_FORECAST>;
  /** false: plan with the bare forecast (the simulator compares both). */
  calibrate?: boolean;
}

/** What the policy reports per purpose: its plan, the warm share it achieved, its forecast error. */
export interface WarmReport {
  forecast: WarmForecast | null;
  serviceLevel: number;
  warmShare: WarmShareReport;
  forecastError: ForecastError;
}

const BOOT_SAMPLES = 50;

const claimsAndBoots = (db: Kysely<Database>) =>
  db.selectFrom("events").select(["id", "at", "purpose", "kind", "reason", "details"]).where("kind", "in", ["assigned", "running"]);
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
  readonly calibration = new WarmCalibration();

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
      if (this.options.calibrate !== false) this.calibration.load(await loadCalibration(this.db));
      events = await claimsAndBoots(this.db).where("at", ">=", now - (this.params.weeksBack * 7 + 1) * 86_400_000).orderBy("id").execute();
      this.loaded = true;
    } else {
      events = (await newClaimsAndBoots(this.db, this.lastEventAt, this.lastEventId)).rows;
    }
    for (const e of events) {
      this.lastEventId = Math.max(this.lastEventId, Number(e.id));
      this.lastEventAt = Math.max(this.lastEventAt, Number(e.at));
      if (!e.purpose) continue;
      if (e.kind === "assigned") {
        this.history(e.purpose, this.since).add(Number(e.at));
        if (e.reason === "warm" || e.reason === "launch") this.calibration.observe(e.purpose, Number(e.at), e.reason === "warm");
      }
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

  serviceLevel(purpose: PurposeConfig): number {
    return purpose.serviceLevel ?? this.options.serviceLevel;
  }

  async warmTarget(purpose: PurposeConfig, now: number): Promise<number> {
    await this.refresh(now);
    const history = this.history(purpose.name, this.since);
    const level = this.serviceLevel(purpose);
    const params = { ...this.params, serviceLevel: level, bootMs: this.bootMs() };
    let plan;
    if (this.options.calibrate !== false) {
      this.calibration.trackError(purpose.name, history, now, params);
      await saveCalibration(this.db, this.calibration.close(purpose.name, now, level), now);
      plan = this.calibration.plan(purpose.name, level);
    }
    const forecast = forecastWarmTarget(history, now, params, plan);
    this.last.set(purpose.name, forecast);
    return forecast.target;
  }

  /** The plan, the warm share over the sliding window and the forecast error of a purpose (as of the last tick). */
  report(purpose: PurposeConfig, now: number): WarmReport {
    return {
      forecast: this.last.get(purpose.name) ?? null,
      serviceLevel: this.serviceLevel(purpose),
      warmShare: this.calibration.share(purpose.name, Math.floor(now / 3_600_000) + 1),
      forecastError: this.calibration.forecastError(purpose.name),
    };
  }
}

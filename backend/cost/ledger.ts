/**
 * The usage ledger: computed on demand from the pool's history in the database (instances,
 * events, spot prices), so it needs no bookkeeping of its own and survives restarts. Every
 * figure in /v1/costs, the admin report and the budget checks comes from here.
 */
import type { Kysely } from "kysely";
import type { PoolConfig } from "../config/schema";
import type { Database } from "../store/schema";
import { loadInstanceHistories, loadSpotPrices, loadVolumes, type HistoryFilter } from "../store/ledger-history";
import { loadPurposePrices } from "../store/purpose-prices";
import { ConfiguredPriceHistory, SpotPriceHistory, type PriceSource } from "./prices";
import { instanceUsage, volumeUsage, type UsageLine, type Window } from "./usage";
import { listJobsOverlapping } from "../store/jobs";

/** gp3 in us-east-1, per GB-month. */
export const DEFAULT_EBS_PRICE_PER_GB_MONTH = 0.08;

export class Ledger {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly config: Pick<PoolConfig, "purposes" | "ebsPricePerGbMonth">,
  ) {}

  get ebsPricePerGbMonth(): number {
    return this.config.ebsPricePerGbMonth ?? DEFAULT_EBS_PRICE_PER_GB_MONTH;
  }

  async prices(before: number): Promise<PriceSource> {
    return new ConfiguredPriceHistory(await loadPurposePrices(this.db, before), new SpotPriceHistory(await loadSpotPrices(this.db, before)));
  }

  /**
   * Usage lines inside `window` as of `now`. With `ownerId`, only that user's own lines (not the
   * pool's time on instances they later got); with `purpose`, every line of that purpose.
   */
  async lines(window: Window, now: number, filter: HistoryFilter = {}): Promise<UsageLine[]> {
    const to = Math.min(window.to, now + 60_000);
    const w = { from: window.from, to };
    if (w.from >= w.to) return [];
    const prices = await this.prices(w.to);
    const out: UsageLine[] = [];
    for (const h of await loadInstanceHistories(this.db, w, filter)) out.push(...instanceUsage(h, w, now, prices));
    for (const v of await loadVolumes(this.db, this.config, w.to, filter)) out.push(...volumeUsage(v, this.ebsPricePerGbMonth, w, now));
    out.push(...(await runnerJobLines(this.db, w, filter)));
    return filter.ownerId === undefined ? out : out.filter((l) => l.account === filter.ownerId);
  }

  async spend(window: Window, now: number, filter: HistoryFilter = {}): Promise<number> {
    return (await this.lines(window, now, filter)).reduce((s, l) => s + l.cost, 0);
  }
}

/**
 * Jobs that ran outside the pool's instances (ECS): the cost their runner reported, stored when
 * the job ended, as one line on the job's user at its end. Pool-run jobs need no line of their
 * own: their instance is billed to the job's user like a claimed one.
 */
async function runnerJobLines(db: Kysely<Database>, w: Window, filter: HistoryFilter): Promise<UsageLine[]> {
  const out: UsageLine[] = [];
  for (const j of await listJobsOverlapping(db, w.from, w.to)) {
    if (j.runner !== "ecs" || j.cost === null || j.endedAt === null || j.endedAt < w.from || j.endedAt >= w.to) continue;
    if (filter.ownerId !== undefined && j.ownerId !== filter.ownerId) continue;
    if (filter.purpose !== undefined && j.purpose !== filter.purpose) continue;
    out.push({ kind: "job", instanceId: null, purpose: j.purpose, account: j.ownerId, from: j.startedAt ?? j.endedAt, to: j.endedAt, cost: j.cost });
  }
  return out;
}

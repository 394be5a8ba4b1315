/**
 * What a user's instances cost: the rate now, and what they have spent today and this month
 * (UTC), with their budget. Spend is the price of each instance over the time it was theirs,
 * billed per second.
 */
import type { CostsResponse } from "../api/contract";
import type { PoolConfig } from "../config/schema";
import { listAll, SERVING_STATES } from "../store/instances";
import type { PoolContext } from "./context";

export interface CostService {
  forUser(userId: string): Promise<CostsResponse>;
}

export function startOfUtcDay(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

export function startOfUtcMonth(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function budgetFor(config: PoolConfig, userId: string): number | null {
  return config.budgets.users[userId] ?? config.budgets.defaultUserMonthly ?? null;
}

export function budgetState(spent: number, budget: number | null, warnAt: number): CostsResponse["budgetState"] {
  if (budget === null) return "ok";
  if (spent >= budget) return "exceeded";
  if (spent >= budget * warnAt) return "warning";
  return "ok";
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

export class AssignmentCostService implements CostService {
  constructor(private readonly ctx: PoolContext) {}

  async forUser(userId: string): Promise<CostsResponse> {
    const now = this.ctx.clock.now();
    const day = startOfUtcDay(now);
    const month = startOfUtcMonth(now);
    const rows = (await listAll(this.ctx.db)).filter((i) => i.lastOwnerId === userId && i.assignedAt !== null);
    let spentToday = 0;
    let spentThisMonth = 0;
    const lines: CostsResponse["instances"] = [];
    for (const i of rows) {
      const price = i.hourlyPrice ?? 0;
      const from = i.assignedAt!;
      const to = i.endedAt ?? now;
      const overlap = (start: number) => Math.max(0, to - Math.max(from, start)) / 3_600_000;
      spentToday += overlap(day) * price;
      spentThisMonth += overlap(month) * price;
      if (i.ownerId === userId && (SERVING_STATES as string[]).includes(i.state)) {
        lines.push({ instanceId: i.id, purpose: i.purpose, hourlyPrice: price });
      }
    }
    const budget = budgetFor(this.ctx.config, userId);
    return {
      currency: this.ctx.config.currency,
      ratePerHour: round(lines.reduce((s, l) => s + l.hourlyPrice, 0)),
      spentToday: round(spentToday),
      spentThisMonth: round(spentThisMonth),
      budget,
      budgetUsed: budget ? round(spentThisMonth / budget) : null,
      budgetState: budgetState(spentThisMonth, budget, this.ctx.config.budgets.warnAt),
      instances: lines,
    };
  }
}

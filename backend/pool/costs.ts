/**
 * The cost view the API serves (GET /v1/costs): the interface, and the budget rules shared by
 * every implementation. The ledger-based implementation lives in backend/cost/service.ts.
 */
import type { CostsResponse } from "../../contract";
import type { PoolConfig } from "../config/schema";

export interface CostService {
  forUser(userId: string): Promise<CostsResponse>;
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

/**
 * The pool's money-and-demand policies (PoolPolicies) built from the configuration: budgets
 * refuse claims and shorten idle timeouts; the warm target is the purpose's static `minFree`
 * or the adaptive forecast, and zero for a purpose past its monthly budget (its claims would
 * be refused anyway). `max` is applied by the warm step itself.
 */
import type { Kysely } from "kysely";
import type { PoolConfig, PurposeConfig } from "../config/schema";
import type { PoolPolicies } from "../pool/context";
import type { Database } from "../store/schema";
import { BudgetPolicy } from "./budgets";
import { AdaptiveWarmPolicy, type AdaptiveOptions } from "./warm-policy";

const EXHAUSTED_CACHE_MS = 60_000;

export interface CostPolicies extends PoolPolicies {
  readonly budgets: BudgetPolicy;
  readonly adaptive: AdaptiveWarmPolicy | null;
}

export function createCostPolicies(db: Kysely<Database>, config: PoolConfig, adaptive: Partial<AdaptiveOptions> = {}): CostPolicies {
  const budgets = new BudgetPolicy(db, config);
  const warm = config.warmPolicy === "adaptive" ? new AdaptiveWarmPolicy(db, { serviceLevel: config.serviceLevel, ...adaptive }) : null;
  const exhausted = new Map<string, { at: number; value: boolean }>();

  async function purposeExhausted(purpose: PurposeConfig, now: number): Promise<boolean> {
    if (purpose.monthlyBudget === undefined) return false;
    const c = exhausted.get(purpose.name);
    if (c && now - c.at < EXHAUSTED_CACHE_MS && now >= c.at) return c.value;
    const value = await budgets.purposeExhausted(purpose, now);
    exhausted.set(purpose.name, { at: now, value });
    return value;
  }

  return {
    budgets,
    adaptive: warm,
    checkClaimAllowed: (userId, purpose, now, trx) => budgets.checkClaimAllowed(userId, purpose, now, trx),
    idleTimeoutMs: (userId, purpose, now) => budgets.idleTimeoutMs(userId, purpose, now),
    async warmTarget(purpose, now) {
      if (await purposeExhausted(purpose, now)) return 0;
      return warm ? warm.warmTarget(purpose, now) : purpose.minFree;
    },
  };
}

/**
 * Budgets: monthly limits per user and per purpose (config `budgets`, `purposes[].monthlyBudget`).
 * At 100% new claims are refused with BUDGET_EXCEEDED and the figures; instances already
 * running are not killed, but a user past budget gets the short idle timeout
 * (`budgets.exceededIdleTimeoutSeconds`) on every heartbeat. The warning at `warnAt` is shown
 * through GET /v1/costs (budgetState).
 */
import type { Kysely } from "kysely";
import type { PoolConfig, PurposeConfig } from "../config/schema";
import { PoolError } from "../errors";
import { budgetFor } from "../pool/costs";
import type { Database } from "../store/schema";
import { Ledger } from "./ledger";
import { formatMoney, monthName, monthWindow } from "./money";

/** Spend is re-read at most this often for idle timeouts (heartbeats are frequent, spend moves slowly). */
const SPEND_CACHE_MS = 60_000;

export class BudgetPolicy {
  private readonly spendCache = new Map<string, { at: number; spent: number }>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly config: PoolConfig,
  ) {}

  userSpend(userId: string, now: number, db: Kysely<Database> = this.db): Promise<number> {
    return new Ledger(db, this.config).spend(monthWindow(now), now, { ownerId: userId });
  }

  purposeSpend(purpose: string, now: number, db: Kysely<Database> = this.db): Promise<number> {
    return new Ledger(db, this.config).spend(monthWindow(now), now, { purpose });
  }

  async checkClaimAllowed(userId: string, purpose: PurposeConfig, now: number, db?: Kysely<Database>): Promise<void> {
    const money = (x: number) => formatMoney(x, this.config.currency);
    const resets = new Date(monthWindow(now).to).toISOString().slice(0, 10);
    const userBudget = budgetFor(this.config, userId);
    if (userBudget !== null) {
      const spent = await this.userSpend(userId, now, db);
      if (spent >= userBudget) {
        throw new PoolError(
          "BUDGET_EXCEEDED",
          `You have spent ${money(spent)} of your ${money(userBudget)} monthly budget for ${monthName(now)}, so no new instance can be claimed until ${resets} (UTC). Ask an admin to raise your budget.`,
          { userId, spent, budget: userBudget },
        );
      }
    }
    if (purpose.monthlyBudget !== undefined) {
      const spent = await this.purposeSpend(purpose.name, now, db);
      if (spent >= purpose.monthlyBudget) {
        throw new PoolError(
          "BUDGET_EXCEEDED",
          `The purpose "${purpose.name}" has spent ${money(spent)} of its ${money(purpose.monthlyBudget)} monthly budget for ${monthName(now)}, so no new instance of it can be claimed until ${resets} (UTC). Choose another purpose or ask an admin to raise its budget.`,
          { purpose: purpose.name, spent, budget: purpose.monthlyBudget },
        );
      }
    }
  }

  /** Whether the purpose is past its budget (then keeping instances warm for it is pointless). */
  async purposeExhausted(purpose: PurposeConfig, now: number): Promise<boolean> {
    if (purpose.monthlyBudget === undefined) return false;
    return (await this.purposeSpend(purpose.name, now)) >= purpose.monthlyBudget;
  }

  async idleTimeoutMs(userId: string, purpose: PurposeConfig, now: number): Promise<number> {
    const normal = purpose.idleTimeoutSeconds * 1000;
    const budget = budgetFor(this.config, userId);
    if (budget === null) return normal;
    let cached = this.spendCache.get(userId);
    if (!cached || now - cached.at >= SPEND_CACHE_MS || now < cached.at) {
      cached = { at: now, spent: await this.userSpend(userId, now) };
      this.spendCache.set(userId, cached);
    }
    if (cached.spent < budget) return normal;
    return Math.min(normal, this.config.budgets.exceededIdleTimeoutSeconds * 1000);
  }
}

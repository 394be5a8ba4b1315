/**
 * GET /v1/costs from the ledger: the caller's rate per hour now (the current price of each
 * instance they hold, spot included), what they spent today and this month (UTC) including
 * their home volumes, their budget and how much of it is used.
 */
import type { Kysely } from "kysely";
import type { CostsResponse } from "../../contract";
import type { PoolConfig } from "../config/schema";
import type { Clock } from "../pool/context";
import { budgetFor, budgetState, type CostService } from "../pool/costs";
import { listHeldPriced } from "../store/ledger-history";
import type { Database } from "../store/schema";
import { Ledger } from "./ledger";
import { dayWindow, monthWindow, roundMoney } from "./money";

export class LedgerCostService implements CostService {
  private readonly ledger: Ledger;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly config: PoolConfig,
    private readonly clock: Clock,
  ) {
    this.ledger = new Ledger(db, config);
  }

  async forUser(userId: string): Promise<CostsResponse> {
    const now = this.clock.now();
    const spentThisMonth = await this.ledger.spend(monthWindow(now), now, { ownerId: userId });
    const spentToday = await this.ledger.spend(dayWindow(now), now, { ownerId: userId });
    const held = await listHeldPriced(this.db, userId);
    const prices = await this.ledger.prices(now + 1);
    const instances = held.map((inst) => {
      const piece = prices.pieces(inst, now, now + 1)[0];
      return { instanceId: inst.id, purpose: inst.purpose, hourlyPrice: roundMoney(piece?.hourlyPrice ?? 0) };
    });
    const budget = budgetFor(this.config, userId);
    return {
      currency: this.config.currency,
      ratePerHour: roundMoney(instances.reduce((s, l) => s + l.hourlyPrice, 0)),
      spentToday: roundMoney(spentToday),
      spentThisMonth: roundMoney(spentThisMonth),
      budget,
      budgetUsed: budget ? roundMoney(spentThisMonth / budget) : null,
      budgetState: budgetState(spentThisMonth, budget, this.config.budgets.warnAt),
      instances,
    };
  }
}

/**
 * What an operator should hear about when the pool starts: live instances of purposes the
 * configuration no longer has (the pool releases and terminates them), and instances the
 * provider holds under another pool name (this pool never sees or stops them). Warnings only:
 * neither stops the start.
 */
import { LIVE_STATES } from "../../contract";
import { listInStates } from "../store/instances";
import type { PoolContext } from "./context";

export async function warnAtStartup(ctx: PoolContext): Promise<void> {
  const configured = new Set(ctx.config.purposes.map((p) => p.name));
  const orphaned = (await listInStates(ctx.db, LIVE_STATES)).filter((i) => !configured.has(i.purpose));
  if (orphaned.length) {
    const purposes = [...new Set(orphaned.map((i) => i.purpose))];
    ctx.log.warn(
      { event: "removed-purpose-instances", purposes, instances: orphaned.map((i) => i.id) },
      `${orphaned.length} live instance(s) of purpose(s) no longer configured (${purposes.join(", ")}): ${orphaned.map((i) => i.id).join(", ")}; they will be released and terminated`,
    );
  }
  if (!ctx.provider.listEveryPool) return;
  try {
    const others = (await ctx.provider.listEveryPool()).filter((p) => p.poolName && p.poolName !== ctx.config.poolName && p.state !== "terminated");
    if (others.length === 0) return;
    const byPool = new Map<string, string[]>();
    for (const p of others) byPool.set(p.poolName!, [...(byPool.get(p.poolName!) ?? []), p.providerId]);
    const list = [...byPool].map(([name, ids]) => `"${name}" (${ids.length}: ${ids.join(", ")})`).join("; ");
    ctx.log.warn(
      { event: "other-pool-instances", poolName: ctx.config.poolName, others: Object.fromEntries(byPool) },
      `The provider has instances under another pool name: ${list}. This pool ("${ctx.config.poolName}") does not manage them; if they are this pool's from before a POOL_NAME change, set it back, or stop them.`,
    );
  } catch (err) {
    ctx.log.warn({ event: "other-pool-check-failed", err: (err as Error).message }, "could not list the provider's instances of other pools");
  }
}

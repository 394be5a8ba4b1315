/**
 * Retire step: instances of a purpose that was removed from the configuration are released
 * (whoever holds them), so the terminate step terminates them and the ledger bills them to
 * their end. Their users' heartbeats and connections answer PURPOSE_REMOVED meanwhile.
 */
import { SERVING_STATES } from "../../../contract";
import { listInStates } from "../../store/instances";
import type { PoolContext } from "../context";
import { releaseInstance } from "../user-instances";
import { forEachInstance, type LifecycleStep } from "./step";

export async function retireRemovedPurposes(ctx: PoolContext): Promise<number> {
  const configured = new Set(ctx.config.purposes.map((p) => p.name));
  const orphaned = (await listInStates(ctx.db, SERVING_STATES)).filter((i) => !configured.has(i.purpose));
  let retired = 0;
  await forEachInstance(ctx, "retire", orphaned, async (inst) => {
    if (await releaseInstance(ctx, inst, "purpose-removed", "lifecycle")) retired++;
  });
  if (retired) ctx.log.warn({ event: "purpose-removed", instances: orphaned.map((i) => i.id), purposes: [...new Set(orphaned.map((i) => i.purpose))] }, "released instances of purposes no longer configured");
  return retired;
}

export const retireStep: LifecycleStep = {
  name: "retire",
  due: (t) => t.plan.retire,
  async run(t) {
    if ((await retireRemovedPurposes(t.ctx)) > 0) return { due: ["terminate"], recount: true };
  },
};

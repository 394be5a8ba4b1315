/**
 * The instances table, the pool's source of truth for every instance it has launched: its shape
 * (row.ts), its reads (reads.ts), its counts (counts.ts) and its guarded writes (writes.ts).
 */
export { INSTANCE_COLUMNS, type Instance } from "./row";
export * from "./reads";
export * from "./counts";
export { claimFreeRunning, insertInstance, isUniqueViolation, updateInstance, type InstancePatch, type UpdateGuard, type WarmClaim, type ZoneRule } from "./writes";

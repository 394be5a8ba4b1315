/**
 * The tags the pool puts on what it creates in EC2, and reads back. The pool's tags always win
 * over a purpose's cost-allocation tags of the same name, so a cost tag can never hide an
 * instance from the reconciler or move it to another pool.
 */
import type { Tag } from "@aws-sdk/client-ec2";

export const TAG = {
  pool: "Pool",
  purpose: "Purpose",
  owner: "Owner",
  poolInstanceId: "PoolInstanceId",
  /** On instances launched for a user: the home volume the provider attaches once it runs. */
  homeVolume: "HomeVolume",
  /** On volumes: "home" for users' persistent homes. */
  role: "Role",
  /** Home moves: on the snapshot (its source), on the new home (its source), on the old home (its successor). */
  homeMoveOf: "HomeMoveOf",
  homeMovedFrom: "HomeMovedFrom",
  homeMovedTo: "HomeMovedTo",
  name: "Name",
} as const;

export function tagList(map: Record<string, string>): Tag[] {
  return Object.entries(map).map(([Key, Value]) => ({ Key, Value }));
}

export function tagMap(tags: Tag[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key) out[t.Key] = t.Value ?? "";
  return out;
}

/** Cost tags first, then the pool's own: the pool's win. Tags starting with "aws:" are reserved by AWS. */
export function withCostTags(costTags: Record<string, string>, own: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(costTags)) if (!k.toLowerCase().startsWith("aws:")) out[k] = v;
  return { ...out, ...own };
}

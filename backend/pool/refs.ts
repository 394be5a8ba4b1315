/** Narrows a database instance to what a provider may see of it. */
import type { InstanceRef } from "../providers/types";
import type { Instance } from "../store/instances";

export function toRef(i: Instance): InstanceRef {
  return {
    id: i.id,
    providerId: i.providerId,
    purpose: i.purpose,
    ownerId: i.ownerId,
    availabilityZone: i.availabilityZone,
    instanceType: i.instanceType,
    market: i.market,
    details: i.details,
  };
}

/**
 * The ordered attempts of one launch: each instance type on the purpose's market, then (for spot
 * purposes that allow it) each type on-demand. Each step has its own EC2 ClientToken, derived
 * from the pool instance id and the step's index: a retry of the same step (after a throttle, a
 * timeout or a restart of the backend) reuses the token and EC2 answers with the instance it
 * already launched; a different step sends different parameters and so needs a new token,
 * because EC2 refuses a token reused with other parameters (IdempotentParameterMismatch).
 */
import type { Ec2PurposeConfig } from "../../config/schema";

export interface LaunchStep {
  index: number;
  instanceType: string;
  market: "spot" | "on-demand";
  clientToken: string;
}

/** EC2 allows ClientTokens of at most 64 ASCII characters. */
export const CLIENT_TOKEN_MAX = 64;

export function clientTokenFor(poolInstanceId: string, stepIndex: number): string {
  const token = `${poolInstanceId}-${stepIndex}`;
  if (token.length > CLIENT_TOKEN_MAX || !/^[\x21-\x7e]+$/.test(token)) {
    throw new Error(`cannot derive an EC2 client token from "${poolInstanceId}"`);
  }
  return token;
}

export function launchPlan(poolInstanceId: string, ec2: Pick<Ec2PurposeConfig, "instanceTypes" | "market" | "spotFallbackToOnDemand">): LaunchStep[] {
  const pairs: Array<[string, "spot" | "on-demand"]> = [];
  if (ec2.market === "spot") {
    for (const t of ec2.instanceTypes) pairs.push([t, "spot"]);
    if (ec2.spotFallbackToOnDemand) for (const t of ec2.instanceTypes) pairs.push([t, "on-demand"]);
  } else {
    for (const t of ec2.instanceTypes) pairs.push([t, "on-demand"]);
  }
  return pairs.map(([instanceType, market], index) => ({ index, instanceType, market, clientToken: clientTokenFor(poolInstanceId, index) }));
}

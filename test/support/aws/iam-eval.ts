/**
 * A small IAM policy evaluator for tests: identity policies only (no SCPs, boundaries or
 * resource policies), Allow/Deny with wildcard actions and resources, and the condition
 * operators our policy uses (StringEquals, StringLike, ArnEquals/ArnLike, Bool, BoolIfExists,
 * NumericLessThanEquals, ForAllValues:/ForAnyValue: and ...IfExists). A missing key fails a
 * condition, as in IAM. It follows the IAM reference's evaluation logic; it is not IAM.
 */
import type { IamPolicyDocument, IamStatement } from "../../../backend/providers/ec2/iam-policy";

export type ContextValue = string | string[];

export interface AuthRequest {
  action: string;
  resource: string;
  context: Record<string, ContextValue>;
}

function wildcard(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return re.test(value);
}

const list = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);

function contextValue(ctx: Record<string, ContextValue>, key: string): string[] | undefined {
  const hit = Object.keys(ctx).find((k) => k.toLowerCase() === key.toLowerCase());
  return hit === undefined ? undefined : list(ctx[hit]!);
}

function compare(op: string, expected: string, actual: string): boolean {
  switch (op) {
    case "StringEquals":
    case "ArnEquals":
      return expected === actual;
    case "StringLike":
    case "ArnLike":
      return wildcard(expected, actual);
    case "StringNotEquals":
      return expected !== actual;
    case "Bool":
      return expected.toLowerCase() === actual.toLowerCase();
    case "NumericLessThanEquals":
      return Number(actual) <= Number(expected);
    case "NumericEquals":
      return Number(actual) === Number(expected);
    default:
      throw new Error(`iam-eval: operator ${op} is not modelled`);
  }
}

function conditionHolds(opFull: string, block: Record<string, string | string[]>, ctx: Record<string, ContextValue>): boolean {
  let op = opFull;
  let setOp: "all" | "any" | null = null;
  if (op.startsWith("ForAllValues:")) [setOp, op] = ["all", op.slice("ForAllValues:".length)];
  else if (op.startsWith("ForAnyValue:")) [setOp, op] = ["any", op.slice("ForAnyValue:".length)];
  const ifExists = op.endsWith("IfExists");
  if (ifExists) op = op.slice(0, -"IfExists".length);
  return Object.entries(block).every(([key, expectedRaw]) => {
    const expected = list(expectedRaw);
    const actual = contextValue(ctx, key);
    if (actual === undefined) return ifExists || setOp === "all";
    const matchesOne = (a: string) => expected.some((e) => compare(op, e, a));
    if (setOp === "all") return actual.every(matchesOne);
    return actual.some(matchesOne);
  });
}

function statementMatches(s: IamStatement, req: AuthRequest): boolean {
  if (!list(s.Action).some((a) => wildcard(a, req.action))) return false;
  if (!list(s.Resource).some((r) => wildcard(r, req.resource))) return false;
  return Object.entries(s.Condition ?? {}).every(([op, block]) => conditionHolds(op, block, req.context));
}

export function isAllowed(policy: IamPolicyDocument, req: AuthRequest): boolean {
  const matching = policy.Statement.filter((s) => statementMatches(s, req));
  if (matching.some((s) => s.Effect === "Deny")) return false;
  return matching.some((s) => s.Effect === "Allow");
}

/** The first request of the list the policy denies, or null when all are allowed. */
export function firstDenied(policy: IamPolicyDocument, reqs: AuthRequest[]): AuthRequest | null {
  return reqs.find((r) => !isAllowed(policy, r)) ?? null;
}

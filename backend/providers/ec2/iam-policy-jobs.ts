/**
 * The job runners' part of the backend's IAM policy (issue #18), kept apart from the pool's
 * statements in iam-policy.ts (which lists every call in API_CALLS and assembles the document).
 */
import type { BackendPolicyVars, IamStatement } from "./iam-policy";

/** What the job runners need beyond the pool: CloudWatch log groups, and ECS for purposes with `jobs: { runner: ecs }`. */
export interface JobsPolicyVars {
  /** Log groups the EC2 runner's Run Command output goes to (read with logs:GetLogEvents). */
  ssmLogGroups?: string[];
  /** One entry per purpose that runs its jobs on ECS (its jobs.ecs settings). */
  ecs?: EcsPolicyTarget[];
}

export interface EcsPolicyTarget {
  /** Cluster name or ARN. */
  cluster: string;
  /** Family, family:revision or ARN. */
  taskDefinition: string;
  /** The awslogs group of the container (read with logs:GetLogEvents). */
  logGroup?: string;
  /** The task definition's task role and execution role: RunTask passes them (iam:PassRole to ecs-tasks). */
  passRoleArns?: string[];
}

/** `arn:…:logs:region:account:log-group:NAME:log-stream:*` for a group name (or a group ARN). */
export function logStreamsArn(v: { partition: string; region: string; accountId: string }, group: string): string {
  const base = group.startsWith("arn:") ? group.replace(/:\*$/, "") : `arn:${v.partition}:logs:${v.region}:${v.accountId}:log-group:${group}`;
  return `${base}:log-stream:*`;
}

/**
 * The job runners' statements. Run Command's cancel is always there (every pool may run EC2
 * jobs); ECS appears only for purposes that run their jobs there, each call scoped to the
 * purpose's cluster (`ecs:cluster`) and task definition; logs only on the configured groups.
 */
export function jobStatements(v: BackendPolicyVars): IamStatement[] {
  const out: IamStatement[] = [
    // CancelCommand names a command id only; IAM takes no narrower resource for it. It stops commands, it cannot start any.
    { Sid: "CancelJobCommands", Effect: "Allow", Action: "ssm:CancelCommand", Resource: "*" },
  ];
  const ecs = v.jobs?.ecs ?? [];
  const groups = [...new Set([...(v.jobs?.ssmLogGroups ?? []), ...ecs.flatMap((e) => (e.logGroup ? [e.logGroup] : []))])];
  if (groups.length) out.push({ Sid: "ReadJobLogs", Effect: "Allow", Action: "logs:GetLogEvents", Resource: groups.map((g) => logStreamsArn(v, g)) });
  const arn = (type: string, id: string) => `arn:${v.partition}:ecs:${v.region}:${v.accountId}:${type}/${id}`;
  const clusterName = (c: string) => (c.startsWith("arn:") ? c.split("/").at(-1)! : c);
  const clusterArn = (c: string) => (c.startsWith("arn:") ? c : arn("cluster", c));
  const taskDefinitionArn = (td: string) => (td.startsWith("arn:") ? td : td.includes(":") ? arn("task-definition", td) : arn("task-definition", `${td}:*`));
  const byCluster = new Map<string, EcsPolicyTarget[]>();
  for (const e of ecs) byCluster.set(clusterArn(e.cluster), [...(byCluster.get(clusterArn(e.cluster)) ?? []), e]);
  let n = 0;
  for (const [cluster, targets] of byCluster) {
    const name = clusterName(cluster);
    const onCluster = { ArnEquals: { "ecs:cluster": cluster } };
    const sid = `EcsJobs${n++ || ""}`;
    out.push(
      { Sid: `${sid}Run`, Effect: "Allow", Action: "ecs:RunTask", Resource: [...new Set(targets.map((t) => taskDefinitionArn(t.taskDefinition)))], Condition: onCluster },
      { Sid: `${sid}TagOnRun`, Effect: "Allow", Action: "ecs:TagResource", Resource: arn("task", `${name}/*`), Condition: { StringEquals: { "ecs:CreateAction": "RunTask" } } },
      { Sid: `${sid}Watch`, Effect: "Allow", Action: ["ecs:DescribeTasks", "ecs:StopTask"], Resource: arn("task", `${name}/*`), Condition: onCluster },
    );
    const roles = [...new Set(targets.flatMap((t) => t.passRoleArns ?? []))];
    if (roles.length) {
      out.push({ Sid: `${sid}PassTaskRoles`, Effect: "Allow", Action: "iam:PassRole", Resource: roles, Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } } });
    }
  }
  return out;
}


/**
 * Which runner starts a purpose's jobs: `jobs.runner: ecs` runs them as ECS tasks; otherwise
 * they run on pool instances, by the provider's kind (the local provider: a detached Rscript
 * here; EC2: SSM SendCommand). The ProcessProbe of the keep-alive hold follows the provider.
 *
 * MERGE HOOK (issue #18): the EC2 SSM runner and the ECS runner are built by the jobs-aws
 * work (backend/jobs/runners/ec2-ssm.ts `createEc2SsmRunner`, ecs.ts `createEcsRunner`). Until
 * they are passed in as `hooks`, a purpose that needs one is refused with a clear error.
 */
import type { PoolConfig, PurposeConfig } from "../../config/schema";
import { PoolError } from "../../errors";
import type { Provider } from "../../providers/types";
import type { JobRunner, LocalLogStore, ProcessProbe } from "../runner";
import { LocalJobRunner } from "./local";

export interface JobRunners {
  /** The runner of a purpose's jobs; throws PoolError when none is wired for it. */
  forPurpose(purpose: PurposeConfig): JobRunner;
  /** Whether a process runs on an instance; null when the provider cannot tell. */
  probe(): ProcessProbe | null;
  /** Where job logs kept on this machine live (the local runner), for the retention sweep; absent or null: none. */
  logStore?(): LocalLogStore | null;
}

export interface JobRunnerHooks {
  /** EC2: SSM SendCommand on the job's instance (jobs-aws: createEc2SsmRunner). */
  ec2?: () => JobRunner & Partial<ProcessProbe>;
  /** ECS: RunTask on the purpose's cluster (jobs-aws: createEcsRunner). */
  ecs?: (purpose: PurposeConfig) => JobRunner;
}

interface HasHomes {
  homeDir(instanceId: string): string;
}

function hasHomes(p: Provider): p is Provider & HasHomes {
  return typeof (p as Partial<HasHomes>).homeDir === "function";
}

function notWired(what: string, purpose: string): PoolError {
  return new PoolError(
    "INVALID_CONFIG",
    `Purpose "${purpose}" runs its jobs ${what}, but this backend has no such job runner wired (backend/jobs/runners/index.ts); ask an admin.`,
  );
}

export function createJobRunners(provider: Provider, dataDir: string, hooks: JobRunnerHooks = {}): JobRunners {
  let local: LocalJobRunner | null = null;
  let ec2: (JobRunner & Partial<ProcessProbe>) | null = null;
  const ecs = new Map<string, JobRunner>();
  const localRunner = (): LocalJobRunner | null => {
    if (!local && provider.kind === "local" && hasHomes(provider)) local = new LocalJobRunner({ dataDir, homeOf: (id) => provider.homeDir(id) });
    return local;
  };
  const ec2Runner = () => {
    if (!ec2 && provider.kind === "ec2" && hooks.ec2) ec2 = hooks.ec2();
    return ec2;
  };
  return {
    forPurpose(purpose) {
      if (purpose.jobs.runner === "ecs") {
        if (!hooks.ecs) throw notWired("on ECS", purpose.name);
        let r = ecs.get(purpose.name);
        if (!r) ecs.set(purpose.name, (r = hooks.ecs(purpose)));
        return r;
      }
      const r = localRunner() ?? ec2Runner();
      if (!r) throw notWired(`on ${provider.kind} pool instances`, purpose.name);
      return r;
    },
    probe() {
      const l = localRunner();
      if (l) return l;
      const e = ec2Runner();
      return e?.processAlive ? (e as ProcessProbe) : null;
    },
    logStore() {
      return localRunner();
    },
  };
}

/** Whether this pool needs the AWS job runners (./aws-hooks.ts, loaded only then: it brings the ECS and Logs SDKs). */
export function needsAwsJobRunners(provider: Provider, config: Pick<PoolConfig, "purposes">): boolean {
  return provider.kind === "ec2" || config.purposes.some((p) => p.jobs.runner === "ecs");
}

/** Runners given directly (tests: the local runner over another provider). */
export function fixedJobRunners(runner: JobRunner, probe: ProcessProbe | null = null): JobRunners {
  const store = isLocalLogStore(runner) ? runner : null;
  return { forPurpose: () => runner, probe: () => probe, logStore: () => store };
}

export function isLocalLogStore(r: unknown): r is LocalLogStore {
  const s = r as Partial<LocalLogStore>;
  return typeof s.listLogDirs === "function" && typeof s.hasLogDir === "function" && typeof s.removeLogDir === "function";
}

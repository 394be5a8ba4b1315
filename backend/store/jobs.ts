/**
 * The jobs table (issue #18): a job's row mapping, its reads, and its two writes. A job's
 * `state` is written only by `writeJobStateGuarded`, which only the jobs' transition owner
 * (backend/jobs/transitions.ts) calls, so every state change comes with its history event.
 */
import type { Kysely, Selectable, Updateable } from "kysely";
import type { JobFile, JobRunnerKind, JobState } from "../../contract/jobs";
import { fromRow as instanceFromRow, type Instance } from "./instances/row";
import type { Database, JobsTable } from "./schema";

type Db = Kysely<Database>;

/** What a runner needs to start the job; kept until the job ends. */
export interface JobSpecData {
  script: string | null;
  command: string[] | null;
  args: string[];
  env: Record<string, string>;
  files: JobFile[];
}

export interface Job {
  id: string;
  ownerId: string;
  purpose: string;
  runner: JobRunnerKind;
  state: JobState;
  stateReason: string | null;
  scriptName: string | null;
  spec: JobSpecData;
  specBytes: number;
  instanceId: string | null;
  runRef: string | null;
  exitCode: number | null;
  createdAt: number;
  placedAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  deadlineAt: number | null;
  cost: number | null;
  finalizedAt: number | null;
  updatedAt: number;
}

export type JobPatch = Partial<Omit<Job, "id" | "state" | "ownerId" | "createdAt">>;

const EMPTY_SPEC: JobSpecData = { script: null, command: null, args: [], env: {}, files: [] };
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function fromRow(r: Selectable<JobsTable>): Job {
  let spec = EMPTY_SPEC;
  try {
    spec = { ...EMPTY_SPEC, ...(JSON.parse(r.spec) as Partial<JobSpecData>) };
  } catch {
    /* an emptied spec */
  }
  return {
    id: r.id,
    ownerId: r.owner_id,
    purpose: r.purpose,
    runner: r.runner as JobRunnerKind,
    state: r.state as JobState,
    stateReason: r.state_reason,
    scriptName: r.script_name,
    spec,
    specBytes: Number(r.spec_bytes),
    instanceId: r.instance_id,
    runRef: r.run_ref,
    exitCode: num(r.exit_code),
    createdAt: Number(r.created_at),
    placedAt: num(r.placed_at),
    startedAt: num(r.started_at),
    endedAt: num(r.ended_at),
    deadlineAt: num(r.deadline_at),
    cost: num(r.cost),
    finalizedAt: num(r.finalized_at),
    updatedAt: Number(r.updated_at),
  };
}

const COLUMNS: { [K in keyof JobPatch]-?: keyof JobsTable } = {
  purpose: "purpose",
  runner: "runner",
  stateReason: "state_reason",
  scriptName: "script_name",
  spec: "spec",
  specBytes: "spec_bytes",
  instanceId: "instance_id",
  runRef: "run_ref",
  exitCode: "exit_code",
  placedAt: "placed_at",
  startedAt: "started_at",
  endedAt: "ended_at",
  deadlineAt: "deadline_at",
  cost: "cost",
  finalizedAt: "finalized_at",
  updatedAt: "updated_at",
};

function toColumns(patch: JobPatch): Updateable<JobsTable> {
  const out: Record<string, unknown> = {};
  for (const [field, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    const column = COLUMNS[field as keyof JobPatch];
    if (column) out[column] = field === "spec" ? JSON.stringify(v) : v;
  }
  return out as Updateable<JobsTable>;
}

export async function insertJob(db: Db, j: Job): Promise<void> {
  await db
    .insertInto("jobs")
    .values({
      id: j.id,
      owner_id: j.ownerId,
      purpose: j.purpose,
      runner: j.runner,
      state: j.state,
      state_reason: j.stateReason,
      script_name: j.scriptName,
      spec: JSON.stringify(j.spec),
      spec_bytes: j.specBytes,
      instance_id: j.instanceId,
      run_ref: j.runRef,
      exit_code: j.exitCode,
      created_at: j.createdAt,
      placed_at: j.placedAt,
      started_at: j.startedAt,
      ended_at: j.endedAt,
      deadline_at: j.deadlineAt,
      cost: j.cost,
      finalized_at: j.finalizedAt,
      updated_at: j.updatedAt,
    })
    .execute();
}

export async function getJob(db: Db, id: string): Promise<Job | null> {
  const r = await db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
  return r ? fromRow(r) : null;
}

/** The job if it is this user's; another user's job reads exactly like one that does not exist. */
export async function getJobForUser(db: Db, userId: string, id: string): Promise<Job | null> {
  const r = await db.selectFrom("jobs").selectAll().where("id", "=", id).where("owner_id", "=", userId).executeTakeFirst();
  return r ? fromRow(r) : null;
}

/** A user's jobs, newest first: every active one and the ended ones since `endedAfter`. */
export async function listJobsForUser(db: Db, userId: string, endedAfter: number, limit = 200): Promise<Job[]> {
  const rows = await db
    .selectFrom("jobs")
    .selectAll()
    .where("owner_id", "=", userId)
    .where((eb) => eb.or([eb("ended_at", "is", null), eb("ended_at", ">=", endedAfter)]))
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  return rows.map(fromRow);
}

/** Jobs in these states, oldest first (the queue's order). */
export async function listJobsInStates(db: Db, states: readonly JobState[]): Promise<Job[]> {
  if (states.length === 0) return [];
  const rows = await db.selectFrom("jobs").selectAll().where("state", "in", states).orderBy("created_at").orderBy("id").execute();
  return rows.map(fromRow);
}

/** Ended jobs whose process or instance may still need stopping or releasing. */
export async function listUnfinalizedEnded(db: Db, finalStates: readonly JobState[]): Promise<Job[]> {
  const rows = await db.selectFrom("jobs").selectAll().where("state", "in", finalStates).where("finalized_at", "is", null).orderBy("ended_at").execute();
  return rows.map(fromRow);
}

export async function countJobs(db: Db, filter: { ownerId?: string; purpose?: string; states: readonly JobState[] }): Promise<number> {
  let q = db.selectFrom("jobs").select((eb) => eb.fn.countAll<number>().as("n")).where("state", "in", filter.states);
  if (filter.ownerId !== undefined) q = q.where("owner_id", "=", filter.ownerId);
  if (filter.purpose !== undefined) q = q.where("purpose", "=", filter.purpose);
  const r = await q.executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Updates columns other than the state if the row is still in one of `states`; says whether it did. */
export async function updateJob(db: Db, id: string, patch: JobPatch, states?: readonly JobState[]): Promise<boolean> {
  let q = db.updateTable("jobs").set(toColumns(patch)).where("id", "=", id);
  if (states) q = q.where("state", "in", states);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows ?? 0) > 0;
}

/** Sets the state (and the patch) if the row is in one of `from`. Only the jobs' transition owner calls it. */
export async function writeJobStateGuarded(db: Db, id: string, from: readonly JobState[], to: JobState, patch: JobPatch): Promise<boolean> {
  const res = await db
    .updateTable("jobs")
    .set({ ...toColumns(patch), state: to })
    .where("id", "=", id)
    .where("state", "in", from)
    .executeTakeFirst();
  return Number(res.numUpdatedRows ?? 0) > 0;
}

/** The serving instance a job holds (or was given by a claim whose job row a crash did not update). */
export async function findServingByJob(db: Db, jobId: string, servingStates: readonly string[]): Promise<Instance | null> {
  const r = await db.selectFrom("instances").selectAll().where("job_id", "=", jobId).where("state", "in", servingStates).executeTakeFirst();
  return r ? instanceFromRow(r) : null;
}

/** Jobs whose span overlaps [from, to) (for the cost report): id, owner, runner, instance, stored cost and span. */
export async function listJobsOverlapping(db: Db, from: number, to: number): Promise<Array<Pick<Job, "id" | "ownerId" | "purpose" | "runner" | "instanceId" | "cost" | "startedAt" | "endedAt">>> {
  const rows = await db
    .selectFrom("jobs")
    .select(["id", "owner_id", "purpose", "runner", "instance_id", "cost", "started_at", "ended_at"])
    .where("created_at", "<", to)
    .where((eb) => eb.or([eb("ended_at", "is", null), eb("ended_at", ">=", from)]))
    .execute();
  return rows.map((r) => ({
    id: r.id,
    ownerId: r.owner_id,
    purpose: r.purpose,
    runner: r.runner as JobRunnerKind,
    instanceId: r.instance_id,
    cost: num(r.cost),
    startedAt: num(r.started_at),
    endedAt: num(r.ended_at),
  }));
}

/** The job state machine's table, its one owner's refusals, and the queue's fair order. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { JOB_FINAL_STATES, JOB_STATES, isJobFinal } from "../../../contract/jobs";
import { countByUser, fairOrder } from "../../../backend/jobs/fair-order";
import { JOB_CREATIONS, JOB_TRANSITIONS, JobTransitionRefused, jobTransition } from "../../../backend/jobs/transitions";
import { jobBytes } from "../../../backend/jobs/submit";
import { insideHome, jobEnv } from "../../../backend/jobs/runners/local";
import { openApiDocument } from "../../../backend/api/openapi";

test("the table: final states have no way out, every other state reaches one, new jobs are queued", () => {
  for (const s of JOB_STATES) {
    const out = Object.keys(JOB_TRANSITIONS[s]);
    if (isJobFinal(s)) assert.deepEqual(out, [], `${s} is final`);
    else assert.ok(out.some((t) => (JOB_FINAL_STATES as readonly string[]).includes(t)), `${s} can end`);
    for (const why of Object.values(JOB_TRANSITIONS[s])) assert.ok(why && why.length > 10);
  }
  assert.deepEqual(Object.keys(JOB_CREATIONS), ["queued"]);
  // Nothing goes back to the queue, and only a running job can succeed.
  for (const s of JOB_STATES) assert.equal(JOB_TRANSITIONS[s].queued, undefined);
  assert.deepEqual(JOB_STATES.filter((s) => JOB_TRANSITIONS[s].succeeded !== undefined), ["running"]);
});

test("a change outside the table is refused before anything is written", async () => {
  const untouchable = new Proxy({}, { get: () => { throw new Error("the database was touched"); } });
  const ctx = { db: untouchable, clock: { now: () => 0 }, log: untouchable, metrics: untouchable } as never;
  const job = { id: "job-0000000000000001", ownerId: "ann", purpose: "rstudio" };
  for (const [from, to] of [["queued", "succeeded"], ["succeeded", "running"], ["cancelled", "failed"], ["running", "queued"]] as const) {
    await assert.rejects(jobTransition(ctx, job, { from, to, event: { actor: "test" } }), JobTransitionRefused);
  }
  await assert.rejects(jobTransition(ctx, job, { from: [], to: "failed", event: { actor: "test" } }), JobTransitionRefused);
});

test("fair order: fewest running first, then oldest; each pick counts for the next", () => {
  const j = (id: string, ownerId: string, createdAt: number) => ({ id, ownerId, createdAt });
  const queued = [j("a1", "ann", 1), j("a2", "ann", 2), j("a3", "ann", 3), j("b1", "bob", 4), j("c1", "cat", 5), j("b2", "bob", 6)];
  assert.deepEqual(fairOrder(queued, new Map()).map((x) => x.id), ["a1", "b1", "c1", "a2", "b2", "a3"]);
  // Ann already runs two, Bob one: Cat goes first, then Bob, then it alternates by age.
  assert.deepEqual(fairOrder(queued, new Map([["ann", 2], ["bob", 1]])).map((x) => x.id), ["c1", "b1", "a1", "b2", "a2", "a3"]);
  assert.deepEqual(fairOrder([], new Map()), []);
  assert.deepEqual([...countByUser([{ ownerId: "x" }, { ownerId: "y" }, { ownerId: "x" }])], [["x", 2], ["y", 1]]);
});

test("a job's size counts its script, decoded files and environment", () => {
  assert.equal(jobBytes({ script: "é", files: [{ path: "a", contentBase64: Buffer.from("1234").toString("base64") }], env: { AB: "cd" } }), 2 + 4 + 4);
});

test("job files stay inside the home, and the job's environment is its own plus PATH, HOME and LANG", () => {
  assert.equal(insideHome("/h", "data/x.csv"), "/h/data/x.csv");
  for (const bad of ["../x", "/etc/passwd", "a/../../x", "", "a\0b"]) assert.equal(insideHome("/h", bad), null, bad);
  const env = jobEnv({ PATH: "/usr/bin", LANG: "en_US.UTF-8", AWS_SECRET_ACCESS_KEY: "s", POOL_DATABASE_URL: "postgres://x", ARENA_POOL_SERVICE_KEY: "k" }, { jobId: "job-1", env: { MODEL_CONFIG: "{}", HOME: "/elsewhere" } }, "/homes/i1");
  assert.deepEqual(env, { LANG: "en_US.UTF-8", MODEL_CONFIG: "{}", PATH: "/usr/bin", HOME: "/homes/i1", RSTUDIO_POOL_JOB: "job-1" });
});

test("the OpenAPI document describes the job and keep-alive routes, and every reference resolves", () => {
  const doc = openApiDocument("test");
  for (const p of ["/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/log", "/v1/instances/{id}/keep-alive"]) assert.ok((doc.paths as Record<string, unknown>)[p], p);
  const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
  for (const r of new Set(refs)) assert.ok((doc.components.schemas as Record<string, unknown>)[r], `schema ${r}`);
});

/**
 * Queries compiled once and run many times. Kysely builds and compiles a query on every call,
 * and for the small queries of heartbeats, claims and lifecycle ticks that costs more than the
 * database takes to run them. A prepared query is built once per dialect with a placeholder
 * for each argument, compiled, and then run with the arguments put where the placeholders
 * landed among the compiled parameters.
 *
 * The rule for `build`: each argument must reach the query only as bound values (compared,
 * set or inserted), never as an identifier, a list, or something the shape depends on.
 * Preparing checks that every placeholder became a parameter.
 */
import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from "kysely";
import type { Database } from "./schema";

type Db = Kysely<Database>;

const placeholder = (i: number) => `\u0000prepared-argument-${i}\u0000`;

interface Compiled<R> {
  query: CompiledQuery<R>;
  /** For each parameter, the argument that fills it (-1: a constant of the query). */
  argumentOf: number[];
}

function compile<R>(db: Db, arity: number, build: (db: Db, ...args: never[]) => Compilable<R>): Compiled<R> {
  const marks = Array.from({ length: arity }, (_, i) => placeholder(i));
  const query = build(db, ...(marks as never[])).compile();
  const argumentOf = query.parameters.map((p) => (typeof p === "string" ? marks.indexOf(p) : -1));
  for (let i = 0; i < arity; i++) {
    if (!argumentOf.includes(i)) throw new Error(`prepared query: argument ${i} is not a bound value in: ${query.sql}`);
  }
  return { query, argumentOf };
}

export type Prepared<A extends unknown[], R> = (db: Db, ...args: A) => Promise<QueryResult<R>>;

export function prepare<A extends unknown[], R>(build: (db: Db, ...args: A) => Compilable<R>): Prepared<A, R> {
  // Per dialect adapter: a transaction shares its database's adapter, so it shares the cache.
  const byAdapter = new WeakMap<object, Compiled<R>>();
  return async (db, ...args) => {
    const adapter = db.getExecutor().adapter;
    let c = byAdapter.get(adapter);
    if (!c) {
      c = compile(db, args.length, build as unknown as (db: Db, ...args: never[]) => Compilable<R>);
      byAdapter.set(adapter, c);
    }
    const parameters = c.query.parameters.map((p, i) => (c!.argumentOf[i]! >= 0 ? args[c!.argumentOf[i]!] : p));
    return db.executeQuery(CompiledQuery.raw(c.query.sql, parameters) as CompiledQuery<R>);
  };
}

/** Prepared queries of one family whose shape depends on a key (say, the columns an update sets). */
export function prepareByShape<K, A extends unknown[], R>(shapeKey: (key: K) => string, build: (key: K) => (db: Db, ...args: A) => Compilable<R>) {
  const shapes = new Map<string, Prepared<A, R>>();
  return (key: K): Prepared<A, R> => {
    const k = shapeKey(key);
    let p = shapes.get(k);
    if (!p) {
      p = prepare(build(key));
      shapes.set(k, p);
    }
    return p;
  };
}

/**
 * The admin cost report of one month (UTC), grouped by user, purpose or cost tag, as JSON,
 * CSV or a text table. Used by GET /v1/admin/costs and `rstudio-pool costs`. In the by-user
 * report the warm pool's idle time is its own row, "(pool)"; by purpose and by tag it stays
 * with the purpose and is shown in the warmIdleCost column.
 */
import type { Kysely } from "kysely";
import type { PoolConfig } from "../config/schema";
import { PoolError } from "../errors";
import type { Database } from "../store/schema";
import { listJobsOverlapping } from "../store/jobs";
import { Ledger } from "./ledger";
import { parseMonth, roundMoney } from "./money";
import { POOL_ACCOUNT, type UsageLine } from "./usage";

export const REPORT_GROUPINGS = ["user", "purpose", "tag"] as const;
export const REPORT_FORMATS = ["json", "csv", "table"] as const;
export type ReportGrouping = (typeof REPORT_GROUPINGS)[number];
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportRow {
  key: string;
  instanceHours: number;
  instanceCost: number;
  /** Part of instanceCost spent on free instances waiting in the warm pool. */
  warmIdleCost: number;
  volumeCost: number;
  total: number;
}

export interface CostReport {
  month: string;
  by: ReportGrouping;
  currency: string;
  /** Month to date when the month is the current one. */
  asOf: string;
  rows: ReportRow[];
  /** Over all lines once (by tag, rows overlap when a purpose has several tags). */
  total: ReportRow;
  /** Batch jobs of the month per user (issue #18): how many ran and what they cost (already inside the rows above). */
  jobs?: JobCostRow[];
}

export interface JobCostRow {
  user: string;
  jobs: number;
  cost: number;
}

export interface ReportRequest {
  month: string;
  by: ReportGrouping;
}

/** Checks the options of the report (from a query string or the command line). */
export function parseReportRequest(input: { month?: unknown; by?: unknown; format?: unknown }, formats: readonly string[], now: number): ReportRequest & { format: string } {
  const month = input.month === undefined ? new Date(now).toISOString().slice(0, 7) : String(input.month);
  if (!parseMonth(month)) throw new PoolError("INVALID_REQUEST", `Invalid month "${month.slice(0, 40)}": use YYYY-MM, e.g. 2026-11.`);
  const by = input.by === undefined ? "user" : String(input.by);
  if (!(REPORT_GROUPINGS as readonly string[]).includes(by)) {
    throw new PoolError("INVALID_REQUEST", `Invalid grouping "${by.slice(0, 40)}": use one of ${REPORT_GROUPINGS.join(", ")}.`);
  }
  const format = input.format === undefined ? formats[0]! : String(input.format);
  if (!formats.includes(format)) throw new PoolError("INVALID_REQUEST", `Invalid format "${format.slice(0, 40)}": use one of ${formats.join(", ")}.`);
  return { month, by: by as ReportGrouping, format };
}

function keysOf(line: UsageLine, by: ReportGrouping, tags: Map<string, string[]>): string[] {
  if (by === "user") return [line.account];
  if (by === "purpose") return [line.purpose];
  const t = tags.get(line.purpose) ?? [];
  return t.length ? t : ["(untagged)"];
}

function emptyRow(key: string): ReportRow {
  return { key, instanceHours: 0, instanceCost: 0, warmIdleCost: 0, volumeCost: 0, total: 0 };
}

function add(row: ReportRow, l: UsageLine): void {
  if (l.kind === "volume") row.volumeCost += l.cost;
  else {
    row.instanceHours += (l.to - l.from) / 3_600_000;
    row.instanceCost += l.cost;
    if (l.account === POOL_ACCOUNT) row.warmIdleCost += l.cost;
  }
  row.total += l.cost;
}

function rounded(r: ReportRow): ReportRow {
  return {
    key: r.key,
    instanceHours: Math.round(r.instanceHours * 1000) / 1000,
    instanceCost: roundMoney(r.instanceCost),
    warmIdleCost: roundMoney(r.warmIdleCost),
    volumeCost: roundMoney(r.volumeCost),
    total: roundMoney(r.total),
  };
}

export function groupLines(lines: UsageLine[], by: ReportGrouping, config: Pick<PoolConfig, "purposes">): { rows: ReportRow[]; total: ReportRow } {
  const tags = new Map(config.purposes.map((p) => [p.name, Object.entries(p.costTags).map(([k, v]) => `${k}=${v}`)]));
  const rows = new Map<string, ReportRow>();
  const total = emptyRow("(total)");
  for (const l of lines) {
    add(total, l);
    for (const key of keysOf(l, by, tags)) {
      const row = rows.get(key) ?? emptyRow(key);
      add(row, l);
      rows.set(key, row);
    }
  }
  return { rows: [...rows.values()].sort((a, b) => b.total - a.total || a.key.localeCompare(b.key)).map(rounded), total: rounded(total) };
}

export async function buildReport(db: Kysely<Database>, config: PoolConfig, request: ReportRequest, now: number): Promise<CostReport> {
  const window = parseMonth(request.month)!;
  const lines = await new Ledger(db, config).lines(window, now);
  const { rows, total } = groupLines(lines, request.by, config);
  const jobs = await jobCosts(db, lines, window);
  return { month: request.month, by: request.by, currency: config.currency, asOf: new Date(Math.min(now, window.to)).toISOString(), rows, total, ...(jobs.length ? { jobs } : {}) };
}

/** Per user, the jobs that overlap the month and their cost: the user's lines on the jobs' instances, and the runner-billed (ECS) lines. */
async function jobCosts(db: Kysely<Database>, lines: UsageLine[], window: { from: number; to: number }): Promise<JobCostRow[]> {
  const jobs = await listJobsOverlapping(db, window.from, window.to);
  if (jobs.length === 0) return [];
  const ownerOf = new Map(jobs.filter((j) => j.instanceId).map((j) => [j.instanceId!, j.ownerId]));
  const rows = new Map<string, JobCostRow>();
  const row = (user: string) => rows.get(user) ?? rows.set(user, { user, jobs: 0, cost: 0 }).get(user)!;
  for (const j of jobs) row(j.ownerId).jobs++;
  for (const l of lines) {
    if (l.kind === "job") row(l.account).cost += l.cost;
    else if (l.kind === "instance" && l.instanceId && ownerOf.get(l.instanceId) === l.account) row(l.account).cost += l.cost;
  }
  return [...rows.values()].map((r) => ({ ...r, cost: roundMoney(r.cost) })).sort((a, b) => b.cost - a.cost || a.user.localeCompare(b.user));
}

const COLUMNS: Array<keyof ReportRow> = ["key", "instanceHours", "instanceCost", "warmIdleCost", "volumeCost", "total"];

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function reportCsv(report: CostReport): string {
  const head = [report.by, ...COLUMNS.slice(1)].join(",");
  const body = [...report.rows, report.total].map((r) => COLUMNS.map((c) => csvCell(r[c])).join(","));
  return `${[head, ...body].join("\n")}\n`;
}

export function reportTable(report: CostReport): string {
  const fmt = (r: ReportRow) => [r.key, r.instanceHours.toFixed(1), ...[r.instanceCost, r.warmIdleCost, r.volumeCost, r.total].map((x) => x.toFixed(2))];
  const rows = [[report.by.toUpperCase(), "INSTANCE-H", "INSTANCE", "WARM-IDLE", "VOLUMES", `TOTAL ${report.currency}`], ...report.rows.map(fmt), fmt(report.total)];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const title = `Costs for ${report.month} by ${report.by} (as of ${report.asOf})`;
  const jobs = report.jobs?.length ? ["", `Batch jobs (included above): ${report.jobs.map((j) => `${j.user} ${j.jobs} job${j.jobs === 1 ? "" : "s"} ${j.cost.toFixed(2)}`).join(", ")}`] : [];
  return `${[title, line(rows[0]!), ...rows.slice(1, -1).map(line), line(rows[rows.length - 1]!), ...jobs].join("\n")}\n`;
}

export function renderReport(report: CostReport, format: string): string {
  if (format === "csv") return reportCsv(report);
  if (format === "table") return reportTable(report);
  return `${JSON.stringify(report, null, 2)}\n`;
}

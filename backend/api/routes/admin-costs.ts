/** GET /v1/admin/costs?month=YYYY-MM&by=user|purpose|tag&format=json|csv: the month's cost report, for admins. */
import { Router } from "express";
import type { Kysely } from "kysely";
import { buildReport, parseReportRequest, renderReport } from "../../cost/report";
import type { PoolConfig } from "../../config/schema";
import type { Clock } from "../../pool/context";
import type { Database } from "../../store/schema";
import { requireAdmin, requireUser, type AuthedRequest } from "../auth";

export function adminCostsRouter(db: Kysely<Database>, config: PoolConfig, clock: Clock): Router {
  const r = Router();
  r.get("/admin/costs", requireUser(db), requireAdmin, async (req: AuthedRequest, res) => {
    const now = clock.now();
    const request = parseReportRequest(req.query, ["json", "csv"], now);
    const report = await buildReport(db, config, request, now);
    if (request.format === "csv") {
      res.type("text/csv").setHeader("Content-Disposition", `attachment; filename="costs-${report.month}-by-${report.by}.csv"`);
      res.send(renderReport(report, "csv"));
      return;
    }
    res.json(report);
  });
  return r;
}

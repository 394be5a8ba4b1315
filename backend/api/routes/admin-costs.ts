/** GET /v1/admin/costs?month=YYYY-MM&by=user|purpose|tag&format=json|csv: the month's cost report, for admins. */
import { Router } from "express";
import { parseReportRequest, renderReport } from "../../cost/report";
import type { PoolApi } from "../../pool/api";
import { requireAdmin, requireUser, TokenCache, type AuthedRequest } from "../auth";

export function adminCostsRouter(pool: PoolApi, tokens = new TokenCache()): Router {
  const r = Router();
  r.get("/admin/costs", requireUser(pool, tokens), requireAdmin, async (req: AuthedRequest, res) => {
    const request = parseReportRequest(req.query, ["json", "csv"], pool.now());
    const report = await pool.costReport(request);
    if (request.format === "csv") {
      res.type("text/csv").setHeader("Content-Disposition", `attachment; filename="costs-${report.month}-by-${report.by}.csv"`);
      res.send(renderReport(report, "csv"));
      return;
    }
    res.json(report);
  });
  return r;
}

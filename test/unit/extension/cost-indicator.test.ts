import assert from "node:assert/strict";
import { test } from "node:test";
import { costDetailsMarkdown, costIndicator } from "../../../extension/core/cost-indicator";
import { describeFailure, ExtensionError } from "../../../extension/core/errors";
import { someCosts } from "./fakes";

test("the indicator shows instances, rate and month, and lists each instance in the tooltip", () => {
  const v = costIndicator(
    someCosts({
      ratePerHour: 0.5,
      instances: [
        { instanceId: "i-1", purpose: "rstudio", hourlyPrice: 0.42 },
        { instanceId: "i-2", purpose: "gpu", hourlyPrice: 0.08 },
      ],
    }),
  );
  assert.equal(v.text, "$(server) 2 · $0.50/h · $12.30 this month");
  assert.match(v.tooltip, /• rstudio \(i-1\): \$0\.42\/h/);
  assert.match(v.tooltip, /• gpu \(i-2\): \$0\.08\/h/);
  assert.match(v.tooltip, /Monthly budget: \$50\.00 \(25%\)/);
  assert.equal(v.colour, "none");
});

test("one instance reads as in the issue", () => {
  assert.equal(costIndicator(someCosts()).text, "$(server) 1 · $0.42/h · $12.30 this month");
});

test("warning colour near the budget, error colour past it", () => {
  const warn = costIndicator(someCosts({ budgetState: "warning", budgetUsed: 0.85 }));
  assert.equal(warn.colour, "warning");
  assert.match(warn.tooltip, /nearly spent/);
  const over = costIndicator(someCosts({ budgetState: "exceeded", budgetUsed: 1.1 }));
  assert.equal(over.colour, "error");
  assert.match(over.tooltip, /exceeded, new claims are refused/);
});

test("no costs yet: a neutral label; a failure shows in the tooltip", () => {
  const f = describeFailure("load", "your costs", new ExtensionError("BACKEND_UNREACHABLE", "the backend at http://127.0.0.1:8080 does not answer (ECONNREFUSED)"));
  const v = costIndicator(null, f);
  assert.equal(v.text, "$(server) RStudio Pool");
  assert.equal(v.colour, "none");
  assert.match(v.tooltip, /Failed to load your costs: the backend at http:\/\/127\.0\.0\.1:8080 does not answer/);
});

test("cost details list totals and instances", () => {
  const md = costDetailsMarkdown(someCosts({ budgetState: "exceeded", budget: null, budgetUsed: null }), new Date("2026-11-23T10:00:00Z"));
  assert.match(md, /\| Spent this month \| \$12\.30 \|/);
  assert.match(md, /\| Monthly budget \| none \|/);
  assert.match(md, /\| i-0123456789abcdef0 \| rstudio \| \$0\.42 \|/);
  assert.match(md, /The budget is spent/);
});

/**
 * The Terraform module on its own: formatting, `terraform validate`, and the IAM policy it
 * attaches being the EC2 provider's own document (policies/*.json.tftpl are generated from
 * backend/providers/ec2/iam-policy.ts and rendered here by Terraform's templatefile()).
 * Needs terraform and the hashicorp/aws mirror; skips loudly without them, fails under
 * TERRAFORM_REQUIRED=1 or CI=true.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test, type TestContext } from "node:test";
import { backendPolicyDocument, instancePolicyDocument } from "../../../backend/providers/ec2/iam-policy";
import { imageHelpers } from "../../../scripts/gen-image-helpers";
import { POLICY_DIR, policyTemplates } from "../../../scripts/gen-iam";
import { findTerraform, terraformRequired, tf, type Terraform } from "./support/terraform";
import { copyDeploy, DEPLOY } from "./support/workdir";

const scratch = mkdtempSync(path.join(os.tmpdir(), "deploy-tf-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const found = findTerraform(scratch);

/** The Terraform handle, or a loud skip (a failure when Terraform is required). */
function needTerraform(t: TestContext): Terraform | null {
  if (!("missing" in found)) return found;
  if (terraformRequired()) assert.fail(`Terraform is required here (TERRAFORM_REQUIRED=1 or CI=true): ${found.missing}`);
  console.warn(`\n!!! SKIPPED (Terraform): ${found.missing}. Set TERRAFORM_REQUIRED=1 to make this a failure.\n`);
  t.skip(found.missing);
  return null;
}

describe("deploy/terraform", () => {
  test("the committed policy templates and image helpers are what the generators write", () => {
    for (const [name, text] of Object.entries(policyTemplates())) {
      assert.equal(readFileSync(path.join(POLICY_DIR, name), "utf8"), text, `${name} is stale: run npm run gen:iam`);
    }
    for (const [name, text] of Object.entries(imageHelpers())) {
      assert.equal(readFileSync(path.join(DEPLOY, "image", "helpers", name), "utf8"), text, `${name} is stale: run npm run gen:image-helpers`);
    }
  });

  test("terraform fmt -check finds nothing to change", async (t) => {
    const terraform = needTerraform(t);
    if (!terraform) return;
    const res = await tf(terraform, DEPLOY, ["fmt", "-check", "-recursive", "-diff", "terraform"]);
    assert.equal(res.status, 0, `terraform fmt would change:\n${res.stdout}${res.stderr}`);
  });

  test("terraform validate accepts the module (init from the local provider mirror, offline)", { timeout: 180_000 }, async (t) => {
    const terraform = needTerraform(t);
    if (!terraform) return;
    const work = copyDeploy("deploy-validate-");
    try {
      const init = await tf(terraform, work.module, ["init", "-backend=false", "-input=false", "-no-color"]);
      assert.equal(init.status, 0, `terraform init failed (${terraform.version}):\n${init.stdout}${init.stderr}`);
      const res = await tf(terraform, work.module, ["validate", "-no-color", "-json"]);
      const out = JSON.parse(res.stdout) as { valid: boolean; error_count: number; warning_count: number; diagnostics: unknown[] };
      assert.equal(out.valid, true, JSON.stringify(out.diagnostics, null, 2));
      assert.equal(out.warning_count, 0, JSON.stringify(out.diagnostics, null, 2));
    } finally {
      work.cleanup();
    }
  });

  test("templatefile() renders exactly the provider's backend and instance policies", { timeout: 60_000 }, async (t) => {
    const terraform = needTerraform(t);
    if (!terraform) return;
    const vars = {
      partition: "aws-us-gov",
      region: "us-gov-west-1",
      accountId: "111122223333",
      poolName: "research-2",
      instanceRoleArn: "arn:aws-us-gov:iam::111122223333:role/rsp-research-2-instance",
      instanceProfileArn: "arn:aws-us-gov:iam::111122223333:instance-profile/rsp-research-2-instance",
      instanceTypes: ["m6i.large", "t3.large"],
    };
    // A configuration without providers: Terraform evaluates the templates exactly as iam.tf does.
    const dir = mkdtempSync(path.join(scratch, "render-"));
    const tfVars = JSON.stringify(vars).replace(/"(\w+)":/g, "$1 = ").replace(/,(?=\w+ = )/g, ", ");
    writeFileSync(
      path.join(dir, "main.tf"),
      ["backend", "instance"].map((n) => `output "${n}" {\n  value = jsondecode(templatefile(${JSON.stringify(path.join(POLICY_DIR, `${n}.json.tftpl`))}, ${tfVars}))\n}\n`).join("\n"),
    );
    const apply = await tf(terraform, dir, ["apply", "-auto-approve", "-no-color", "-input=false"]);
    assert.equal(apply.status, 0, apply.stdout + apply.stderr);
    const out = await tf(terraform, dir, ["output", "-json"]);
    const rendered = JSON.parse(out.stdout) as Record<string, { value: unknown }>;
    assert.deepEqual(rendered.backend!.value, backendPolicyDocument(vars));
    assert.deepEqual(rendered.instance!.value, instancePolicyDocument(vars));
  });
});

/**
 * Writes deploy/terraform/policies/*.json.tftpl from the EC2 provider's own policy functions
 * (backend/providers/ec2/iam-policy.ts), called with Terraform template placeholders, so the
 * policy Terraform attaches is the document the provider's policy test checks. Terraform renders
 * the files with templatefile() (deploy/terraform/iam.tf).
 *   npm run gen:iam            rewrite the files
 *   npm run gen:iam -- --check exit 1 if they are stale
 * test/integration/deploy/iam-policy-sync.test.ts checks they are current and render right.
 */
import path from "node:path";
import { writeGenerated } from "./generated-files";
import { backendPolicyDocument, instancePolicyDocument } from "../backend/providers/ec2/iam-policy";

export const POLICY_DIR = path.resolve(__dirname, "..", "deploy", "terraform", "policies");

/** The templatefile() variables each template expects (iam.tf passes exactly these). */
export const TEMPLATE_VARS = ["partition", "region", "accountId", "poolName", "instanceRoleArn", "instanceProfileArn", "instanceTypes"] as const;

const mark = (name: string) => `__TF_${name}__`;

/**
 * JSON with every placeholder turned into ${name}. Any other "${" or "%{" in the document would
 * be read by Terraform as a template sequence, so it is escaped first ($${ and %%{).
 * instanceTypes is a list: its marker array becomes ${jsonencode(instanceTypes)}.
 */
function toTemplate(doc: unknown): string {
  let text = `${JSON.stringify(doc, null, 2)}\n`;
  text = text.replace(/\$\{/g, "$${").replace(/%\{/g, "%%{");
  text = text.replace(new RegExp(`\\[\\s*"${mark("instanceTypes")}"\\s*\\]`, "g"), "${jsonencode(instanceTypes)}");
  for (const name of TEMPLATE_VARS) text = text.split(mark(name)).join(`\${${name}}`);
  return text;
}

export function policyTemplates(): Record<string, string> {
  const common = { partition: mark("partition"), region: mark("region"), accountId: mark("accountId"), poolName: mark("poolName") };
  return {
    "backend.json.tftpl": toTemplate(
      backendPolicyDocument({
        ...common,
        instanceRoleArn: mark("instanceRoleArn"),
        instanceProfileArn: mark("instanceProfileArn"),
        instanceTypes: [mark("instanceTypes")],
      }),
    ),
    "instance.json.tftpl": toTemplate(instancePolicyDocument(common)),
  };
}

function main(argv: string[]): void {
  const files = Object.entries(policyTemplates()).map(([name, text]) => [path.join(POLICY_DIR, name), text]);
  writeGenerated(Object.fromEntries(files), argv, "gen:iam");
}

if (require.main === module) main(process.argv.slice(2));

/** A throw-away copy of deploy/ (Terraform writes .terraform and state beside the config). */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..", "..", "..");
export const DEPLOY = path.join(ROOT, "deploy");

export function copyDeploy(prefix: string): { dir: string; module: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cpSync(DEPLOY, path.join(dir, "deploy"), {
    recursive: true,
    filter: (src) => !/[\\/](\.terraform|terraform\.tfstate[^\\/]*|\.terraform\.lock\.hcl|terraform\.tfvars)$/.test(src),
  });
  return { dir, module: path.join(dir, "deploy", "terraform"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Provider settings that point every service the module uses at one emulator URL. */
export function emulatorOverride(url: string): string {
  const services = ["acm", "dlm", "ec2", "ecr", "ecs", "elbv2", "events", "iam", "imagebuilder", "logs", "rds", "route53", "s3", "secretsmanager", "sqs", "ssm", "sts"];
  return [
    "# Written by the deploy tests: every endpoint at the emulator, fake credentials.",
    'provider "aws" {',
    '  access_key                  = "test"',
    '  secret_key                  = "test"',
    "  skip_credentials_validation = true",
    "  skip_requesting_account_id  = true",
    "  skip_metadata_api_check     = true",
    "  s3_use_path_style           = true",
    "  endpoints {",
    ...services.map((s) => `    ${s} = ${JSON.stringify(url)}`),
    "  }",
    "}",
    "",
  ].join("\n");
}

export function writeTfvars(file: string, values: Record<string, unknown>): void {
  // JSON variables files (*.auto.tfvars.json) take any value without HCL quoting rules.
  writeFileSync(file, `${JSON.stringify(values, null, 2)}\n`);
}

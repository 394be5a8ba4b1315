/**
 * Finds Terraform and the hashicorp/aws provider mirror for the deploy tests, and runs
 * Terraform with a CLI config that installs providers from that mirror only (these machines
 * reach no registry). Absent Terraform or mirror: the tests skip loudly, unless
 * TERRAFORM_REQUIRED=1 or CI=true, where they fail.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export const terraformRequired = (): boolean => process.env.TERRAFORM_REQUIRED === "1" || process.env.CI === "true";

export interface Terraform {
  bin: string;
  /** The directory above registry.terraform.io (a filesystem_mirror path). */
  mirror: string;
  /** A CLI config file (TF_CLI_CONFIG_FILE) naming the mirror. */
  cliConfig: string;
  version: string;
}

function which(cmd: string): string | null {
  const res = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return res.status === 0 ? res.stdout.trim() : null;
}

const hasAws = (dir: string): boolean => existsSync(path.join(dir, "registry.terraform.io", "hashicorp", "aws"));

/** The provider mirror: TF_PROVIDER_MIRROR, the usual places, then a search of / (slow, last). */
export function findMirror(): string | null {
  const candidates = [
    process.env.TF_PROVIDER_MIRROR,
    "/opt/tf-plugins",
    path.join(os.homedir(), ".terraform.d", "plugins"),
    path.join(os.homedir(), ".local", "share", "terraform", "plugins"),
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
  ].filter((c): c is string => Boolean(c));
  for (const c of candidates) if (hasAws(c)) return c;
  const found = spawnSync("sh", ["-c", "find / -xdev -path '*registry.terraform.io/hashicorp/aws' -prune 2>/dev/null | grep -v '/[.]terraform/' | head -n1"], {
    encoding: "utf8",
    timeout: 60_000,
  });
  const hit = found.stdout?.trim();
  return hit ? path.resolve(hit, "..", "..", "..") : null;
}

/** Terraform and its offline provider set-up, or the reason it cannot run here. */
export function findTerraform(workDir: string): Terraform | { missing: string } {
  const bin = which("terraform");
  if (!bin) return { missing: "terraform is not on the PATH (see scripts/ci/deps/terraform.sh)" };
  const mirror = findMirror();
  if (!mirror) return { missing: "no hashicorp/aws provider mirror found (set TF_PROVIDER_MIRROR to the directory above registry.terraform.io)" };
  const versions = readdirSync(path.join(mirror, "registry.terraform.io", "hashicorp", "aws"));
  const cliConfig = path.join(workDir, "terraform-cli.tfrc");
  writeFileSync(
    cliConfig,
    [
      "provider_installation {",
      "  filesystem_mirror {",
      `    path    = ${JSON.stringify(mirror)}`,
      '    include = ["registry.terraform.io/hashicorp/*"]',
      "  }",
      '  direct { exclude = ["registry.terraform.io/*/*"] }',
      "}",
      "",
    ].join("\n"),
  );
  const v = spawnSync(bin, ["version"], { encoding: "utf8", env: { ...process.env, TF_CLI_CONFIG_FILE: cliConfig } });
  return { bin, mirror, cliConfig, version: `${(v.stdout ?? "").split("\n")[0]}; aws ${versions.join(",")} in ${mirror}` };
}

export interface TfResult {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs terraform in `cwd` (asynchronously, so servers in this process keep answering). */
export function tf(t: Terraform, cwd: string, args: string[], timeoutMs = 240_000, extraEnv: Record<string, string> = {}): Promise<TfResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(t.bin, args, {
      cwd,
      env: {
        ...process.env,
        TF_CLI_CONFIG_FILE: t.cliConfig,
        TF_IN_AUTOMATION: "1",
        TF_INPUT: "0",
        CHECKPOINT_DISABLE: "1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_PROFILE: "",
        ...extraEnv,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    });
  });
}

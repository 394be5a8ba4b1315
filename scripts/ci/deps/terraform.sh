#!/usr/bin/env bash
# Terraform for the deploy tests (test/integration/deploy/). It cannot be installed from here:
# neither Debian nor npm ships the terraform binary (npm has only CDK-for-Terraform libraries,
# which need it too), and no other download site is reachable. So this checks and explains.
# The tests find the hashicorp/aws provider in a filesystem mirror (the directory above
# registry.terraform.io; TF_PROVIDER_MIRROR overrides the search) and skip loudly without it,
# or fail under CI=true / TERRAFORM_REQUIRED=1.
set -euo pipefail
if ! command -v terraform >/dev/null 2>&1; then
  echo "[deps/terraform] terraform is not on the PATH: the deploy tests will skip (and fail under CI=true)." >&2
  echo "[deps/terraform] Install Terraform >= 1.11 and a hashicorp/aws provider mirror on this machine by hand." >&2
  exit 0
fi
mirror="${TF_PROVIDER_MIRROR:-}"
if [ -z "$mirror" ]; then
  for c in /opt/tf-plugins "$HOME/.terraform.d/plugins" "$HOME/.local/share/terraform/plugins" /usr/local/share/terraform/plugins /usr/share/terraform/plugins; do
    if [ -d "$c/registry.terraform.io/hashicorp/aws" ]; then mirror=$c; break; fi
  done
fi
if [ -z "$mirror" ]; then
  hit=$(find / -xdev -path '*registry.terraform.io/hashicorp/aws' -prune 2>/dev/null | grep -v '/[.]terraform/' | head -n1 || true)
  [ -n "$hit" ] && mirror=$(cd "$hit/../../.." && pwd)
fi
if [ -z "$mirror" ]; then
  echo "[deps/terraform] $(terraform version 2>/dev/null | head -n1), but no hashicorp/aws provider mirror found: the deploy tests will skip (fail under CI=true)." >&2
  exit 0
fi
echo "[deps/terraform] $(terraform version 2>/dev/null | head -n1); hashicorp/aws $(ls "$mirror/registry.terraform.io/hashicorp/aws" | tr '\n' ' ')in $mirror" >&2

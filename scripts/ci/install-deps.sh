#!/usr/bin/env bash
# Installs the machine packages the test suite needs, then runs every part's own installer in
# scripts/ci/deps/ (one file per part, so parts can add their needs without editing this file).
# Idempotent: each step skips what is already there. Needs root (CI runs as root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}"
fi

for step in "$here"/deps/*.sh; do
  [ -e "$step" ] || continue
  echo "[install-deps] $(basename "$step")" >&2
  bash "$step"
done

# The end-to-end harness (code-server 4.100.3 + Chromium), cached outside the checkout so a
# later run on the same machine reuses it. See docs/e2e.md.
bash "$here/../e2e/install-harness.sh" >/dev/null

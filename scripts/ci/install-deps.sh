#!/usr/bin/env bash
# Installs the machine packages the test suite needs: PostgreSQL (store tests) and the e2e harness
# (code-server + Chromium, scripts/e2e/install-harness.sh).
# Idempotent: skips what is already there. Needs root (CI runs as root).
set -euo pipefail
need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi

# The end-to-end harness (code-server 4.100.3 + Chromium), cached outside the checkout so a
# later run on the same machine reuses it. See docs/e2e.md.
bash "$(dirname "$0")/../e2e/install-harness.sh" >/dev/null

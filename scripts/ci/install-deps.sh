#!/usr/bin/env bash
# Installs the machine packages the test suite needs (PostgreSQL server for the store tests).
# Idempotent: skips what is already there. Needs root (CI runs as root).
set -euo pipefail
need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi

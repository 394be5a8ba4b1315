#!/usr/bin/env bash
# Real R (Debian's r-base-core: Rscript) for the batch-job tests (test/integration/jobs/), which
# run real R scripts on the local provider. Without it they skip loudly, or fail under CI=true / R_REQUIRED=1.
set -euo pipefail
if dpkg-query -W -f='${Status}' r-base-core 2>/dev/null | grep -q "install ok installed"; then
  echo "[deps/r] r-base-core: already installed" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "[deps/r] installing r-base-core" >&2
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq r-base-core

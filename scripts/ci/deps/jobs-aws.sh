#!/usr/bin/env bash
# R for the AWS job runners' tests: the fake EC2 instance runs the runner's Run Command scripts
# with real Rscript, and the ECS test runs the task's command override with it. Debian's
# r-base-core. Without it those tests skip loudly (R_REQUIRED=1 or CI=true make that a failure).
set -euo pipefail
if command -v Rscript >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "[deps/jobs-aws] not root: install r-base-core yourself" >&2; exit 0; fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-base-core

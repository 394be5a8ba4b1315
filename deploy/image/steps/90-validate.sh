#!/bin/bash
# Checks the image has what the pool expects; Image Builder runs it on a fresh instance
# of the new AMI (test phase), Packer at the end of the build.
set -euo pipefail
fail() { echo "image check failed: $*" >&2; exit 1; }
[ "$(id -u rstudio)" = 1000 ] || fail "user rstudio is not uid 1000"
[ -x /usr/lib/rstudio-server/bin/rserver ] || fail "RStudio Server missing"
R --version >/dev/null || fail "R missing"
for p in ${R_PACKAGES:-}; do Rscript -e "stopifnot(requireNamespace('$p', quietly = TRUE))" || fail "R package $p missing"; done
/opt/jupyter/bin/jupyter kernelspec list | grep -q '\bir\b' || fail "Jupyter's R kernel missing"
for h in /usr/local/sbin/rstudio-pool-home /usr/local/bin/rstudio-pool-busy /usr/local/bin/rstudio-pool-ready; do [ -x "$h" ] || fail "$h missing"; done
/usr/local/bin/rstudio-pool-busy | grep -Eq '^load=[0-9.]+ cpus=[0-9]+ rsession=[0-9.]+$' || fail "busy check output"
systemctl is-enabled snap.amazon-ssm-agent.amazon-ssm-agent.service >/dev/null || fail "SSM agent not enabled"
echo "image checks passed"

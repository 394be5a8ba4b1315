#!/usr/bin/env bash
# Real R and Jupyter Notebook with the R kernel (IRkernel), for the local provider's `jupyter`
# runtime and the tests that run it (test/integration/jupyter*.test.ts, test/e2e/jupyter.test.ts).
# About 250 Debian packages: installs only what is missing, and keeps the downloaded .deb files
# in a cache directory outside the checkout so a second machine run does not fetch them again.
set -euo pipefail
pkgs=(r-base-core jupyter-notebook r-cran-irkernel)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[deps/jupyter] ${pkgs[*]}: already installed" >&2
  exit 0
fi
cache="${RSTUDIO_POOL_APT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rstudio-pool-apt}"
mkdir -p "$cache/partial"
export DEBIAN_FRONTEND=noninteractive
echo "[deps/jupyter] installing ${missing[*]} (debs cached in $cache)" >&2
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 -o Dir::Cache::Archives="$cache" install -y -qq "${missing[@]}"

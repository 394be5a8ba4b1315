#!/bin/bash
# R from CRAN's Ubuntu repository (current R, not the distribution's older one), with the
# libraries common packages build against.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates curl gnupg software-properties-common dirmngr
install -d -m 0755 /etc/apt/keyrings
curl -fsSL https://cloud.r-project.org/bin/linux/ubuntu/marutter_pubkey.asc | gpg --dearmor -o /etc/apt/keyrings/cran.gpg
echo "deb [signed-by=/etc/apt/keyrings/cran.gpg] https://cloud.r-project.org/bin/linux/ubuntu ${VERSION_CODENAME}-cran40/" >/etc/apt/sources.list.d/cran.list
apt-get update -qq
apt-get install -y -qq --no-install-recommends r-base r-base-dev libcurl4-openssl-dev libssl-dev libxml2-dev \
  libfontconfig1-dev libharfbuzz-dev libfribidi-dev libfreetype6-dev libpng-dev libtiff5-dev libjpeg-dev
# Binary packages from Posit Package Manager for this Ubuntu release, for every user.
cat >/etc/R/Rprofile.site <<RPROFILE
options(repos = c(CRAN = "https://packagemanager.posit.co/cran/__linux__/${VERSION_CODENAME}/latest"))
options(HTTPUserAgent = sprintf("R/%s R (%s)", getRversion(), paste(getRversion(), R.version\$platform, R.version\$arch, R.version\$os)))
RPROFILE
R --version | head -n1

#!/bin/bash
# RStudio Server and its user rstudio with uid 1000: the owner of /srv/rstudio-home (the user's
# home volume, formatted and mounted by rstudio-pool-home). Ubuntu's default user also wants
# uid 1000, so it is moved aside; cloud-init then gives it the next free uid on each host.
# The service itself is disabled: the instance's user data starts RStudio as rstudio-pool.service
# with the pool's settings (loopback only, framing allowed, no login page behind SSM).
set -euo pipefail
: "${RSTUDIO_SERVER_VERSION:?set RSTUDIO_SERVER_VERSION, e.g. 2024.12.1-563}"
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release

holder=$(getent passwd 1000 | cut -d: -f1 || true)
if [ -n "$holder" ] && [ "$holder" != rstudio ]; then
  usermod -u 2000 "$holder"
  groupmod -g 2000 "$holder" 2>/dev/null || true
  find / -xdev -uid 1000 -exec chown -h 2000 {} + 2>/dev/null || true
fi
getent group 1000 >/dev/null || groupadd -g 1000 rstudio
id rstudio >/dev/null 2>&1 || useradd -u 1000 -g 1000 -m -d /home/rstudio -s /bin/bash rstudio
[ "$(id -u rstudio)" = 1000 ] || { echo "user rstudio must have uid 1000" >&2; exit 1; }

apt-get install -y -qq --no-install-recommends gdebi-core
deb="rstudio-server-${RSTUDIO_SERVER_VERSION}-amd64.deb"
curl -fsSL -o "/tmp/$deb" "https://download2.rstudio.org/server/${VERSION_CODENAME}/amd64/$deb"
if [ -n "${RSTUDIO_SERVER_SHA256:-}" ]; then echo "${RSTUDIO_SERVER_SHA256}  /tmp/$deb" | sha256sum -c -; fi
gdebi -n "/tmp/$deb"
rm -f "/tmp/$deb"
systemctl disable --now rstudio-server
install -d -m 0755 /etc/rstudio-pool /srv/rstudio-home
chown 1000:1000 /srv/rstudio-home
/usr/lib/rstudio-server/bin/rserver --version

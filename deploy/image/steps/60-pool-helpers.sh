#!/bin/bash
# The backend's helpers, baked in so they are there before the user data runs:
#   rstudio-pool-home   mounts/unmounts the user's home volume (the backend runs it through SSM)
#   rstudio-pool-busy   the busy check the reaper runs before taking an idle host back
#   rstudio-pool-ready  exit 0 when the SSM agent runs and RStudio answers on 127.0.0.1:8787
# HELPERS_DIR holds them (deploy/image/helpers, generated from the backend's sources).
set -euo pipefail
: "${HELPERS_DIR:?set HELPERS_DIR to the directory with the helpers}"
install -m 0755 "$HELPERS_DIR/rstudio-pool-home" /usr/local/sbin/rstudio-pool-home
install -m 0755 "$HELPERS_DIR/rstudio-pool-busy" /usr/local/bin/rstudio-pool-busy
install -m 0755 "$HELPERS_DIR/rstudio-pool-ready" /usr/local/bin/rstudio-pool-ready

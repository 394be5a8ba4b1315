#!/bin/sh
# Entry point of the backend image: `docker-entrypoint.sh serve` is `npm start` without the build.
# Other arguments go to the CLI (`user add alice`, `migrate`, `costs`...).
# POOL_CONFIG_YAML (the pool's YAML in a variable, as ECS passes it) is written to a private file
# and handed over as POOL_CONFIG; the variable itself is not passed on.
set -eu
if [ -n "${POOL_CONFIG_YAML:-}" ]; then
  dir=$(mktemp -d)
  (umask 077 && printf '%s\n' "$POOL_CONFIG_YAML" >"$dir/pool.yaml")
  export POOL_CONFIG="$dir/pool.yaml"
  unset POOL_CONFIG_YAML
fi
exec node --max-semi-space-size=2 dist/backend/cli.js "$@"

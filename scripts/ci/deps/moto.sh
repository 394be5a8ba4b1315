#!/usr/bin/env bash
# moto (an AWS emulator we did not write) lives in ../shared/tools beside the checkout; it needs
# Debian's python packages. Absent on a user's fresh clone: the tests that use it skip loudly.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
moto="$root/../shared/tools/moto-server"
if [ -x "$moto" ]; then bash "$moto" --install; else echo "[deps/moto] $moto not found" >&2; fi

#!/usr/bin/env bash
# Installs the end-to-end harness: a real VS Code (code-server 4.100.3, from npm) and a real
# browser (Debian's Chromium), into a cache directory outside the checkout so CI runs reuse it.
#
#   bash scripts/e2e/install-harness.sh          # prints the code-server directory when done
#
# code-server's postinstall downloads ripgrep from GitHub, which this network cannot reach, so
# it is installed with --ignore-scripts and finished by hand (steps verified in
# docs/e2e.md). Idempotent: a marker file says the install is complete; a half-finished one is
# thrown away and redone. Root is needed only for apt (skipped when the packages are present).
set -euo pipefail

CS_VERSION=4.100.3
CACHE_DIR="${E2E_CACHE_DIR:-$HOME/.cache/rstudio-pool-e2e}"
CS_DIR="$CACHE_DIR/code-server-$CS_VERSION"
MARKER="$CS_DIR/.install-complete"
started=$(date +%s)
say() { echo "[e2e-harness] $*" >&2; }

# --- Debian packages: Chromium, ripgrep (replaces the download), Kerberos headers (native module).
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}"
    exit 1
  fi
  say "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -f "$MARKER" ]; then
  say "code-server $CS_VERSION already installed in $CS_DIR"
  echo "$CS_DIR"
  exit 0
fi

# --- code-server from npm, finished by hand. Built in a temporary directory next to the final
# one and renamed at the end, so an interrupted run never leaves a directory that looks done.
mkdir -p "$CACHE_DIR"
work="$CS_DIR.partial"
rm -rf "$work"
mkdir -p "$work"
# node-gyp needs Node's headers; Debian's nodejs ships them under /usr/include/node.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

say "npm install code-server@$CS_VERSION (no scripts) into $work"
(cd "$work" && echo '{"name":"e2e-harness","private":true}' >package.json &&
  npm install --no-save --ignore-scripts --loglevel=error "code-server@$CS_VERSION" >/dev/null)

vs="$work/node_modules/code-server/lib/vscode"
say "installing VS Code's own modules"
(cd "$vs" && npm install --omit=dev --ignore-scripts --loglevel=error >/dev/null)
mkdir -p "$vs/node_modules/@vscode/ripgrep/bin"
cp "$(command -v rg)" "$vs/node_modules/@vscode/ripgrep/bin/rg"
say "building native modules"
for m in kerberos node-pty @vscode/spdlog native-watchdog @parcel/watcher; do
  (cd "$vs/node_modules/$m" && npx --yes node-gyp rebuild >/dev/null 2>&1) || {
    say "node-gyp rebuild failed in $m"
    exit 1
  }
done
ln -sfn node_modules "$vs/node_modules.asar"
(cd "$vs/bin/remote-cli" && ln -sfn code-linux.sh code-server)
(cd "$vs/bin/helpers" && ln -sfn browser-linux.sh browser.sh)
(cd "$vs/extensions" && npm install --omit=dev --loglevel=error >/dev/null)
(cd "$work" && npm rebuild argon2 --build-from-source --loglevel=error >/dev/null)

# The ln targets are relative, so the directory can be renamed into place.
"$work/node_modules/.bin/code-server" --version >/dev/null
rm -rf "$CS_DIR"
mv "$work" "$CS_DIR"
date -u +%FT%TZ >"$MARKER"
say "code-server $CS_VERSION installed in $CS_DIR ($(($(date +%s) - started)) s)"
echo "$CS_DIR"

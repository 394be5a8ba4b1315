#!/bin/bash
# rstudio-pool-spot-watcher: acts on EC2's two-minute spot interruption warning and on
# rebalance recommendations, from inside the instance.
#
# EC2 publishes both in the instance metadata (IMDSv2 only here: every request carries a session
# token) and recommends polling every 5 seconds, because the warning is best effort and may come
# late. On an interruption warning the watcher:
#   1. suspends the R sessions to the home volume (`rstudio-server suspend-all`, through
#      `rstudio-pool-home suspend`, which knows container from baked mode), so the user's
#      environment is restored on the next machine;
#   2. flushes and unmounts the home (`rstudio-pool-home unmount`), so the backend can attach it
#      to the replacement as soon as EC2 lets go of it;
#   3. writes what it saw and did to a notice file that the backend reads through SSM (the
#      instance role is not allowed to tag anything, on purpose).
# A rebalance recommendation is only reported: what it leads to is the purpose's policy, decided
# by the backend. Each notice is acted on once, even if the metadata keeps showing it.
#
# Every path and command below can be overridden by the environment, so the tests run this very
# script against a fake metadata service with stand-in commands.
set -uo pipefail

IMDS="${WATCHER_IMDS_ENDPOINT:-http://169.254.169.254}"
POLL_SECONDS="${WATCHER_POLL_SECONDS:-5}"
STATE_DIR="${WATCHER_STATE_DIR:-/var/lib/rstudio-pool}"
SUSPEND_CMD="${WATCHER_SUSPEND_CMD:-/usr/local/sbin/rstudio-pool-home suspend}"
UNMOUNT_CMD="${WATCHER_UNMOUNT_CMD:-/usr/local/sbin/rstudio-pool-home unmount}"
MAX_POLLS="${WATCHER_MAX_POLLS:-0}" # 0: forever (tests bound the loop)
NOTICE_FILE="$STATE_DIR/notice.json"
TOKEN=""
TOKEN_AT=0

mkdir -p "$STATE_DIR"

log() { echo "rstudio-pool-spot-watcher: $*"; }

# IMDSv2 session token, renewed well before its 6-hour lifetime ends.
refresh_token() {
  local now
  now=$(date +%s)
  if [ -n "$TOKEN" ] && [ $((now - TOKEN_AT)) -lt 18000 ]; then return 0; fi
  TOKEN=$(curl -sf -m 2 -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 21600") || TOKEN=""
  [ -n "$TOKEN" ] && TOKEN_AT=$now
}

# Prints the document at a metadata path; fails when there is none (404) or the service is away.
metadata() {
  curl -sf -m 2 -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/$1"
}

# One JSON object, written atomically so the backend never reads half a notice.
write_notice() {
  local tmp="$NOTICE_FILE.tmp"
  printf '%s\n' "$1" >"$tmp" && mv -f "$tmp" "$NOTICE_FILE"
}

json_string() { printf '"%s"' "$(printf '%s' "$1" | tr -d '"\\\n')"; }
# EC2's documents are JSON objects; anything else is kept as a string, so the notice stays JSON.
as_json() { case "$1" in "{"*"}") printf '%s' "$1" ;; *) json_string "$1" ;; esac; }

handled_action=""
handled_rebalance=""
polls=0
log "started (metadata $IMDS, every ${POLL_SECONDS}s)"
while :; do
  refresh_token
  if [ -n "$TOKEN" ]; then
    action=$(metadata spot/instance-action) || action=""
    if [ -n "$action" ] && [ "$action" != "$handled_action" ]; then
      handled_action="$action"
      log "interruption warning: $action"
      seen=$(date -u +%Y-%m-%dT%H:%M:%SZ)
      notice=$(as_json "$action")
      write_notice "{\"kind\":\"interruption\",\"notice\":$notice,\"seenAt\":\"$seen\",\"suspended\":null,\"unmounted\":null}"
      suspended=false
      if $SUSPEND_CMD; then suspended=true; else log "suspending the R sessions failed"; fi
      sync
      unmounted=false
      if $UNMOUNT_CMD; then unmounted=true; else log "unmounting the home failed"; fi
      done_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
      write_notice "{\"kind\":\"interruption\",\"notice\":$notice,\"seenAt\":\"$seen\",\"doneAt\":\"$done_at\",\"suspended\":$suspended,\"unmounted\":$unmounted}"
      log "interruption handled (suspended=$suspended unmounted=$unmounted)"
    fi
    if [ -z "$handled_action" ]; then
      rebalance=$(metadata events/recommendations/rebalance) || rebalance=""
      if [ -n "$rebalance" ] && [ "$rebalance" != "$handled_rebalance" ]; then
        handled_rebalance="$rebalance"
        log "rebalance recommendation: $rebalance"
        write_notice "{\"kind\":\"rebalance\",\"notice\":$(as_json "$rebalance"),\"seenAt\":$(json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)")}"
      elif [ -z "$rebalance" ] && [ -n "$handled_rebalance" ]; then
        # EC2 withdrew the recommendation: so does the notice.
        handled_rebalance=""
        rm -f "$NOTICE_FILE"
        log "rebalance recommendation withdrawn"
      fi
    fi
  fi
  polls=$((polls + 1))
  if [ "$MAX_POLLS" -gt 0 ] && [ "$polls" -ge "$MAX_POLLS" ]; then break; fi
  sleep "$POLL_SECONDS"
done

#!/bin/bash
# RStudio Pool instance bootstrap (cloud-init user data).
# Rendered by backend/providers/ec2/user-data.ts: every placeholder in double braces below is replaced by a
# shell-quoted value. Explained in docs/aws.md ("The user-data template").
#
# Sections, in order:
#  0. values and the status file the backend's readiness probe reads (/run/rstudio-pool/status);
#  1. RStudio Server's settings, and the helper that merges them into the files RStudio (or
#     rocker's init, which replaces rserver.conf when auth is disabled) really reads;
#  2. baked mode: IMDS blocked for every non-system user (the RStudio user's R code), verified;
#  3. /usr/local/sbin/rstudio-pool-home: mount VOLUME | unmount | check. The backend runs it
#     through SSM: "mount" formats (first use) and mounts the user's home, then starts RStudio and
#     waits until it answers; "check" says whether the instance is ready;
#  4. RStudio as the systemd unit rstudio-pool.service (container or baked). An instance
#     launched for a user does not start RStudio before their home is mounted;
#  5. the spot watcher (spot-watcher.sh in the repo) as rstudio-pool-spot-watcher.service: on
#     EC2's two-minute warning it suspends the R sessions to the home and unmounts it, and
#     writes a notice the backend reads.
# With Jupyter among the purpose's apps, section "Jupyter" also runs Jupyter Notebook with the R
# kernel on its own loopback port; RStudio runs only when it is one of the apps.
# RSP_ROOT (never set on an instance) lets the tests run this script under a scratch directory.
set -euo pipefail
R="${RSP_ROOT:-}"
mkdir -p "$R/var/log" "$R/run/rstudio-pool"
exec >>"$R/var/log/rstudio-pool.log" 2>&1
echo "rstudio-pool: bootstrap started $(date -Is)"

# --- 0. values -------------------------------------------------------------------------------
MODE={{mode}}
RSTUDIO_IMAGE={{rstudioImage}}
R_PACKAGES={{rPackages}}
FRAME_ORIGIN={{frameOrigin}}
# "1": launched for a user; RStudio starts only once their home is mounted.
WAIT_FOR_HOME={{waitForHome}}
SPOT_WATCHER={{spotWatcher}}
APPS={{apps}}
RSTUDIO_PORT=8787
HOME_MOUNT=/srv/rstudio-home
STATUS="$R/run/rstudio-pool/status"
status() { echo "$*" >"$STATUS"; }
trap 'status "failed: bootstrap stopped at line $LINENO (see /var/log/rstudio-pool.log)"' ERR
status "booting"

install -d -m 0755 "$R/etc/rstudio-pool" "$R$HOME_MOUNT" "$R/usr/local/sbin" "$R/etc/systemd/system"
chown 1000:1000 "$R$HOME_MOUNT"
if [ "$WAIT_FOR_HOME" = "1" ]; then touch "$R/etc/rstudio-pool/require-home"; fi
echo "$MODE" >"$R/etc/rstudio-pool/mode"

# --- 1. RStudio Server settings --------------------------------------------------------------
# Baked: rserver runs on the host and listens on 127.0.0.1 itself. Container: it listens inside
# the container's own network namespace and Docker publishes the port on the host's 127.0.0.1
# only; the container stays on the bridge network, one hop further than IMDS allows.
if [ "$MODE" = "baked" ]; then RSTUDIO_ADDRESS=127.0.0.1; else RSTUDIO_ADDRESS=0.0.0.0; fi
cat >"$R/etc/rstudio-pool/rserver.conf" <<CONF
www-address=$RSTUDIO_ADDRESS
www-port=$RSTUDIO_PORT
www-frame-origin=$FRAME_ORIGIN
www-same-site=none
auth-none=1
CONF

# Merges our settings into DIR/rserver.conf and, where rocker keeps its auth-less variant,
# DIR/disable_auth_rserver.conf: rocker's init moves that file over rserver.conf when
# DISABLE_AUTH=true, which would drop settings appended to rserver.conf alone. Keys we set are
# removed first, because rserver refuses an option given twice.
cat >"$R/etc/rstudio-pool/apply-rserver-conf" <<'APPLY'
#!/bin/sh
# apply-rserver-conf OURS DIR
set -eu
ours="$1"; dir="$2"
mkdir -p "$dir"
[ -f "$dir/rserver.conf" ] || : >"$dir/rserver.conf"
for f in "$dir/rserver.conf" "$dir/disable_auth_rserver.conf"; do
  [ -f "$f" ] || continue
  tmp="$f.rstudio-pool"
  cp "$f" "$tmp"
  while IFS='=' read -r key _; do
    [ -n "$key" ] || continue
    grep -v "^[[:space:]]*$key[[:space:]]*=" "$tmp" >"$tmp.next" || true
    mv "$tmp.next" "$tmp"
  done <"$ours"
  cat "$ours" >>"$tmp"
  mv "$tmp" "$f"
done
APPLY
chmod 0755 "$R/etc/rstudio-pool/apply-rserver-conf"

# --- 2. IMDS guard (baked mode) --------------------------------------------------------------
# RStudio runs on the host: the hop limit does not keep a local process from IMDS, so the
# instance role's credentials would be one curl away from the user's R code. Packets to IMDS
# from any uid >= 1000 (the RStudio user and anything it starts) are rejected; root (the SSM
# agent, cloud-init) keeps access. The rule is checked as the rstudio user before RStudio starts.
imds_guard() {
  if command -v nft >/dev/null 2>&1; then
    nft -f - <<'NFT'
table inet rstudio_pool_imds {
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr 169.254.169.254 meta skuid 1000-4294967294 reject
    ip6 daddr fd00:ec2::254 meta skuid 1000-4294967294 reject
  }
}
NFT
  elif command -v iptables >/dev/null 2>&1; then
    iptables -I OUTPUT -d 169.254.169.254 -m owner --uid-owner 1000-4294967294 -j REJECT
    if command -v ip6tables >/dev/null 2>&1; then ip6tables -I OUTPUT -d fd00:ec2::254 -m owner --uid-owner 1000-4294967294 -j REJECT || true; fi
  else
    return 1
  fi
  # Verify: the rstudio user must not get a token (a connect that succeeds means the rule is not there).
  if runuser -u rstudio -- bash -c 'exec 3<>/dev/tcp/169.254.169.254/80' 2>/dev/null; then return 1; fi
}
if [ "$MODE" = "baked" ]; then
  id rstudio >/dev/null 2>&1 || useradd -u 1000 -m -d /home/rstudio rstudio
  if ! imds_guard; then
    status "failed: could not block IMDS for the RStudio user (nft or iptables with owner match needed)"
    exit 1
  fi
fi

# --- 3. home volume helper -------------------------------------------------------------------
cat >"$R/usr/local/sbin/rstudio-pool-home" <<'HELPER'
#!/bin/bash
# rstudio-pool-home mount VOLUME_ID | unmount | suspend | check
set -euo pipefail
R="${RSP_ROOT:-}"
HOME_MOUNT=/srv/rstudio-home
STATUS="$R/run/rstudio-pool/status"
DEVICE_WAIT_SECONDS="${RSP_DEVICE_WAIT_SECONDS:-300}"
status() { echo "$*" >"$STATUS"; }
# The main app answers: RStudio, or Jupyter on a purpose without RStudio.
answers() {
  local port=8787
  [ -f "$R/etc/rstudio-pool/rstudio" ] || port="$(cat "$R/etc/rstudio-pool/jupyter-port" 2>/dev/null || echo 8888)"
  if command -v curl >/dev/null 2>&1; then curl -fsS -o /dev/null -m 5 "http://127.0.0.1:$port/"; else bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"; fi
}
wait_answering() {
  for _ in $(seq 1 60); do answers 2>/dev/null && return 0; sleep 2; done
  return 1
}
case "${1:-}" in
  mount)
    vol="$2"
    serial="${vol/-/}" # Nitro instances name the NVMe device after the volume id without its dash
    dev=""
    for _ in $(seq 1 $((DEVICE_WAIT_SECONDS / 2 + 1))); do
      if [ -e "$R/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial}" ]; then dev="$R/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial}"
      elif [ -b "$R/dev/xvdh" ]; then dev="$R/dev/xvdh"
      elif [ -b "$R/dev/sdh" ]; then dev="$R/dev/sdh"
      fi
      [ -n "$dev" ] && break
      sleep 2
    done
    if [ -z "$dev" ]; then
      # RStudio stays stopped: it must never run on the root disk for a user.
      status "failed: home volume $vol did not appear"
      echo "home volume $vol did not appear" >&2
      exit 1
    fi
    blkid "$dev" >/dev/null 2>&1 || mkfs.ext4 -q -L rstudio-home "$dev"
    mkdir -p "$R$HOME_MOUNT"
    mountpoint -q "$R$HOME_MOUNT" || mount -o noatime "$dev" "$R$HOME_MOUNT" || { status "failed: could not mount $vol"; exit 1; }
    chown 1000:1000 "$R$HOME_MOUNT"
    echo "$vol" >"$R/etc/rstudio-pool/home-volume"
    systemctl try-restart rstudio-pool-jupyter.service 2>/dev/null || true
    if [ -f "$R/etc/rstudio-pool/rstudio" ]; then
      systemctl restart rstudio-pool.service
      if ! wait_answering; then status "failed: RStudio did not answer after mounting $vol"; exit 1; fi
    fi
    status "ready home=$vol"
    echo "rstudio-pool-ready home=$vol"
    ;;
  suspend)
    # R sessions saved to the user's home, to be resumed where it is mounted next.
    if [ "$(cat "$R/etc/rstudio-pool/mode" 2>/dev/null)" = container ]; then docker exec rstudio rstudio-server suspend-all || true
    else rstudio-server suspend-all || true; fi
    echo "suspended"
    ;;
  unmount)
    "$0" suspend || true
    systemctl stop rstudio-pool.service rstudio-pool-jupyter.service || true
    sync
    if mountpoint -q "$R$HOME_MOUNT"; then umount "$R$HOME_MOUNT"; fi
    rm -f "$R/etc/rstudio-pool/home-volume"
    status "waiting-for-home"
    echo "unmounted"
    ;;
  check)
    s="$(cat "$STATUS" 2>/dev/null || echo "booting")"
    case "$s" in failed*) echo "rstudio-pool-$s"; exit 0 ;; esac
    if [ -f "$R/etc/rstudio-pool/require-home" ] && [ ! -s "$R/etc/rstudio-pool/home-volume" ]; then echo "rstudio-pool-waiting-for-home"; exit 0; fi
    if answers 2>/dev/null; then echo "rstudio-pool-ready home=$(cat "$R/etc/rstudio-pool/home-volume" 2>/dev/null || echo none)"; else echo "rstudio-pool-starting"; fi
    ;;
  *)
    echo "usage: rstudio-pool-home mount VOLUME_ID | unmount | suspend | check" >&2
    exit 2
    ;;
esac
HELPER
chmod 0755 "$R/usr/local/sbin/rstudio-pool-home"

# --- 4. RStudio as a systemd unit ------------------------------------------------------------
# Both units refuse to start while /etc/rstudio-pool/require-home is there and no home is mounted.
HOME_GATE="/bin/sh -c 'test ! -f /etc/rstudio-pool/require-home || mountpoint -q $HOME_MOUNT'"
if [ "$MODE" = "container" ]; then
  if ! command -v docker >/dev/null 2>&1; then
    (dnf install -y docker || yum install -y docker || (apt-get update && apt-get install -y docker.io))
  fi
  systemctl enable --now docker
  IMAGE="$RSTUDIO_IMAGE"
  if [ -n "$R_PACKAGES" ]; then
    # The purpose's R packages, installed once per boot into a local image.
    printf 'FROM %s\nRUN install2.r --error --skipinstalled %s\n' "$RSTUDIO_IMAGE" "$R_PACKAGES" |
      docker build -t rstudio-pool-r:local -
    IMAGE=rstudio-pool-r:local
  fi
  cat >"$R/etc/systemd/system/rstudio-pool.service" <<UNIT
[Unit]
Description=RStudio Server (RStudio Pool, container)
After=docker.service
Requires=docker.service
[Service]
ExecStartPre=$HOME_GATE
ExecStartPre=-/usr/bin/docker rm -f rstudio
ExecStart=/usr/bin/docker run --rm --name rstudio -p 127.0.0.1:$RSTUDIO_PORT:8787 -e DISABLE_AUTH=true -e USER=rstudio -v $HOME_MOUNT:/home/rstudio -v /etc/rstudio-pool:/etc/rstudio-pool:ro --entrypoint /bin/sh $IMAGE -c '/etc/rstudio-pool/apply-rserver-conf /etc/rstudio-pool/rserver.conf /etc/rstudio && exec /init'
ExecStop=/usr/bin/docker stop rstudio
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
else
  # Baked AMI: RStudio Server installed, user rstudio (uid 1000) present.
  "$R/etc/rstudio-pool/apply-rserver-conf" "$R/etc/rstudio-pool/rserver.conf" "$R/etc/rstudio"
  mkdir -p "$R/home/rstudio"
  systemctl disable --now rstudio-server 2>/dev/null || true
  cat >"$R/etc/systemd/system/rstudio-pool.service" <<UNIT
[Unit]
Description=RStudio Server (RStudio Pool, baked)
After=network.target
[Service]
Environment=USER=rstudio
ExecStartPre=$HOME_GATE
ExecStartPre=/bin/sh -c 'mountpoint -q /home/rstudio || mount --bind $HOME_MOUNT /home/rstudio'
ExecStart=/usr/lib/rstudio-server/bin/rserver --server-daemonize=0 --server-user=rstudio
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
fi
systemctl daemon-reload
case " $APPS " in *" rstudio "*)
  touch "$R/etc/rstudio-pool/rstudio"
  # A user's launch: the backend attaches the home once the instance runs, then "rstudio-pool-home mount".
  if [ "$WAIT_FOR_HOME" = "1" ]; then systemctl enable rstudio-pool.service; else systemctl enable --now rstudio-pool.service; fi ;;
esac
# --- Jupyter (purposes with jupyter among their apps; issue #15) ------------------------------
# Jupyter Notebook with the R kernel on the host as uid 1000, on loopback only, no token (the SSM
# tunnel is the door), framing allowed for the editor webview, notebooks in the home directory.
# The image should have it (Debian/Ubuntu: jupyter-notebook r-cran-irkernel); if not, it is
# installed here with apt. Host processes can reach IMDS whatever the hop limit, so uid 1000's
# traffic to it is rejected: R code must not get the instance role's credentials.
case " $APPS " in *" jupyter "*)
  JUPYTER_PORT={{jupyterPort}}
  JUPYTER_FRAME_ANCESTORS={{jupyterFrameAncestors}}
  if ! command -v jupyter-notebook >/dev/null 2>&1; then
    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y jupyter-notebook r-cran-irkernel) ||
      echo "rstudio-pool: jupyter-notebook is not in the image and could not be installed; Jupyter will not answer"
  fi
  id -u 1000 >/dev/null 2>&1 || useradd -u 1000 -m -d /home/rstudio rstudio
  if command -v iptables >/dev/null 2>&1; then
    iptables -C OUTPUT -m owner --uid-owner 1000 -d 169.254.169.254 -j REJECT 2>/dev/null ||
      iptables -I OUTPUT -m owner --uid-owner 1000 -d 169.254.169.254 -j REJECT
  fi
  install -d -m 0755 "$R/etc/rstudio-pool/jupyter"
  echo "$JUPYTER_PORT" >"$R/etc/rstudio-pool/jupyter-port"
  cat >"$R/etc/rstudio-pool/jupyter/jupyter_notebook_config.json" <<CONF
{"NotebookApp": {"ip": "127.0.0.1", "port": $JUPYTER_PORT, "port_retries": 0, "open_browser": false,
  "token": "", "password": "", "notebook_dir": "$HOME_MOUNT",
  "tornado_settings": {"headers": {"Content-Security-Policy": "frame-ancestors $JUPYTER_FRAME_ANCESTORS"},
    "xsrf_cookie_kwargs": {"samesite": "None", "secure": true}}},
 "MappingKernelManager": {"default_kernel_name": "ir"}}
CONF
  # Notebooks open in the same frame: a webview's sandbox allows no new windows.
  install -d -m 0755 "$R/etc/rstudio-pool/jupyter/custom"
  echo "define(['base/js/namespace'], function (J) { J._target = '_self'; });" >"$R/etc/rstudio-pool/jupyter/custom/custom.js"
  cat >"$R/etc/systemd/system/rstudio-pool-jupyter.service" <<UNIT
[Unit]
Description=Jupyter Notebook with R (RStudio Pool)
After=network.target
[Service]
User=1000
Environment=HOME=$HOME_MOUNT JUPYTER_CONFIG_DIR=/etc/rstudio-pool/jupyter JUPYTER_RUNTIME_DIR=/run/rstudio-pool-jupyter
RuntimeDirectory=rstudio-pool-jupyter
WorkingDirectory=$HOME_MOUNT
ExecStartPre=$HOME_GATE
ExecStart=/usr/bin/env jupyter-notebook --no-browser
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  if [ "$WAIT_FOR_HOME" = "1" ]; then systemctl enable rstudio-pool-jupyter.service; else systemctl enable --now rstudio-pool-jupyter.service; fi
  ;;
esac

if [ "$WAIT_FOR_HOME" = "1" ]; then
  status "waiting-for-home"
else
  status "started"
fi
# --- 5. spot watcher ------------------------------------------------------------------------
printf '%s' "$SPOT_WATCHER" | base64 -d | gunzip >"$R/usr/local/sbin/rstudio-pool-spot-watcher"
chmod 0755 "$R/usr/local/sbin/rstudio-pool-spot-watcher"
cat >"$R/etc/systemd/system/rstudio-pool-spot-watcher.service" <<UNIT
[Unit]
Description=RStudio Pool spot interruption watcher
After=network-online.target
[Service]
Environment="WATCHER_SUSPEND_CMD=/usr/local/sbin/rstudio-pool-home suspend"
ExecStart=/usr/local/sbin/rstudio-pool-spot-watcher
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now rstudio-pool-spot-watcher.service
echo "rstudio-pool: bootstrap done $(date -Is)"

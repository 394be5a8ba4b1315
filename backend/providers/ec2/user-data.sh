#!/bin/bash
# RStudio Pool instance bootstrap (cloud-init user data).
# Rendered by backend/providers/ec2/user-data.ts: every placeholder in double braces below is replaced by a
# shell-quoted value. Explained in docs/aws.md ("The user-data template").
#
# What it does, in order:
#  1. writes RStudio Server's settings: listen on loopback port 8787 only, no login page
#     (the SSM tunnel is the door and it opens only for the owner), framing allowed so
#     RStudio renders inside an editor webview;
#  2. installs /usr/local/sbin/rstudio-pool-home, which mounts (or unmounts) the user's
#     home volume and restarts RStudio; the backend runs it through SSM when it hands a
#     warm instance to a user;
#  3. starts RStudio as the systemd unit rstudio-pool.service, either the rocker/rstudio
#     container (mode "container") or the RStudio Server baked into the AMI (mode "baked");
#  4. when the instance was launched for a user, mounts their home volume once the backend
#     has attached it.
# With Jupyter among the purpose's apps, section "Jupyter" (after 3) also runs Jupyter Notebook with
# the R kernel on its own loopback port; RStudio runs only when it is one of the apps.
set -euo pipefail
exec >>/var/log/rstudio-pool.log 2>&1
echo "rstudio-pool: bootstrap started $(date -Is)"

MODE={{mode}}
RSTUDIO_IMAGE={{rstudioImage}}
R_PACKAGES={{rPackages}}
FRAME_ORIGIN={{frameOrigin}}
HOME_VOLUME_ID={{homeVolumeId}}
APPS={{apps}}
RSTUDIO_PORT=8787
HOME_MOUNT=/srv/rstudio-home

install -d -m 0755 /etc/rstudio-pool "$HOME_MOUNT"
# Until a home volume is mounted, RStudio uses this (instance-local) directory.
chown 1000:1000 "$HOME_MOUNT"

# --- 1. RStudio Server settings ----------------------------------------------------------
# In baked mode rserver runs on the host and listens on 127.0.0.1 itself. In container mode it
# listens inside the container's own network namespace and Docker publishes the port on the
# host's 127.0.0.1 only: the container stays on the bridge network, so with the IMDS hop
# limit of 1 the user's R code cannot fetch the instance role's credentials.
if [ "$MODE" = "baked" ]; then RSTUDIO_ADDRESS=127.0.0.1; else RSTUDIO_ADDRESS=0.0.0.0; fi
cat >/etc/rstudio-pool/rserver.conf <<CONF
www-address=$RSTUDIO_ADDRESS
www-port=$RSTUDIO_PORT
www-frame-origin=$FRAME_ORIGIN
www-same-site=none
auth-none=1
CONF

# --- 2. home volume helper -----------------------------------------------------------------
cat >/usr/local/sbin/rstudio-pool-home <<'HELPER'
#!/bin/bash
# rstudio-pool-home mount VOLUME_ID | unmount
# Mounts the user's home volume at /srv/rstudio-home (formatting it on first use) and
# restarts RStudio so it sees it; unmount stops RStudio and unmounts cleanly.
set -euo pipefail
HOME_MOUNT=/srv/rstudio-home
case "${1:-}" in
  mount)
    vol="$2"
    serial="${vol/-/}" # Nitro instances name the NVMe device after the volume id without its dash
    dev=""
    for _ in $(seq 1 150); do
      if [ -e "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial}" ]; then
        dev="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${serial}"
      elif [ -b /dev/xvdh ]; then
        dev=/dev/xvdh
      elif [ -b /dev/sdh ]; then
        dev=/dev/sdh
      fi
      [ -n "$dev" ] && break
      sleep 2
    done
    [ -n "$dev" ] || { echo "home volume $vol did not appear" >&2; exit 1; }
    blkid "$dev" >/dev/null 2>&1 || mkfs.ext4 -q -L rstudio-home "$dev"
    mkdir -p "$HOME_MOUNT"
    mountpoint -q "$HOME_MOUNT" || mount -o noatime "$dev" "$HOME_MOUNT"
    chown 1000:1000 "$HOME_MOUNT"
    echo "$vol" >/etc/rstudio-pool/home-volume
    systemctl try-restart rstudio-pool.service rstudio-pool-jupyter.service
    echo "mounted $vol"
    ;;
  unmount)
    systemctl stop rstudio-pool.service rstudio-pool-jupyter.service || true
    sync
    if mountpoint -q "$HOME_MOUNT"; then umount "$HOME_MOUNT"; fi
    rm -f /etc/rstudio-pool/home-volume
    echo "unmounted"
    ;;
  *)
    echo "usage: rstudio-pool-home mount VOLUME_ID | unmount" >&2
    exit 2
    ;;
esac
HELPER
chmod 0755 /usr/local/sbin/rstudio-pool-home

# --- 3. RStudio as a systemd unit ----------------------------------------------------------
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
  cat >/etc/systemd/system/rstudio-pool.service <<UNIT
[Unit]
Description=RStudio Server (RStudio Pool, container)
After=docker.service
Requires=docker.service
[Service]
ExecStartPre=-/usr/bin/docker rm -f rstudio
ExecStart=/usr/bin/docker run --rm --name rstudio -p 127.0.0.1:$RSTUDIO_PORT:8787 -e DISABLE_AUTH=true -e USER=rstudio -v $HOME_MOUNT:/home/rstudio -v /etc/rstudio-pool/rserver.conf:/etc/rstudio-pool/rserver.conf:ro --entrypoint /bin/sh $IMAGE -c 'cat /etc/rstudio-pool/rserver.conf >>/etc/rstudio/rserver.conf && exec /init'
ExecStop=/usr/bin/docker stop rstudio
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
else
  # Baked AMI: RStudio Server installed, user rstudio (uid 1000) present.
  id rstudio >/dev/null 2>&1 || useradd -u 1000 -m -d /home/rstudio rstudio
  cat /etc/rstudio-pool/rserver.conf >/etc/rstudio/rserver.conf
  mkdir -p /home/rstudio
  mountpoint -q /home/rstudio || mount --bind "$HOME_MOUNT" /home/rstudio
  systemctl disable --now rstudio-server 2>/dev/null || true
  cat >/etc/systemd/system/rstudio-pool.service <<UNIT
[Unit]
Description=RStudio Server (RStudio Pool, baked)
After=network.target
[Service]
Environment=USER=rstudio
ExecStartPre=/bin/sh -c 'mountpoint -q /home/rstudio || mount --bind $HOME_MOUNT /home/rstudio'
ExecStart=/usr/lib/rstudio-server/bin/rserver --server-daemonize=0 --server-user=rstudio
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
fi
systemctl daemon-reload
case " $APPS " in *" rstudio "*) systemctl enable --now rstudio-pool.service ;; esac

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
  install -d -m 0755 /etc/rstudio-pool/jupyter
  echo "$JUPYTER_PORT" >/etc/rstudio-pool/jupyter-port
  cat >/etc/rstudio-pool/jupyter/jupyter_notebook_config.json <<CONF
{"NotebookApp": {"ip": "127.0.0.1", "port": $JUPYTER_PORT, "port_retries": 0, "open_browser": false,
  "token": "", "password": "", "notebook_dir": "$HOME_MOUNT",
  "tornado_settings": {"headers": {"Content-Security-Policy": "frame-ancestors $JUPYTER_FRAME_ANCESTORS"},
    "xsrf_cookie_kwargs": {"samesite": "None", "secure": true}}},
 "MappingKernelManager": {"default_kernel_name": "ir"}}
CONF
  # Notebooks open in the same frame: a webview's sandbox allows no new windows.
  install -d -m 0755 /etc/rstudio-pool/jupyter/custom
  echo "define(['base/js/namespace'], function (J) { J._target = '_self'; });" >/etc/rstudio-pool/jupyter/custom/custom.js
  cat >/etc/systemd/system/rstudio-pool-jupyter.service <<UNIT
[Unit]
Description=Jupyter Notebook with R (RStudio Pool)
After=network.target
[Service]
User=1000
Environment=HOME=$HOME_MOUNT JUPYTER_CONFIG_DIR=/etc/rstudio-pool/jupyter JUPYTER_RUNTIME_DIR=/run/rstudio-pool-jupyter
RuntimeDirectory=rstudio-pool-jupyter
WorkingDirectory=$HOME_MOUNT
ExecStart=/usr/bin/env jupyter-notebook --no-browser
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now rstudio-pool-jupyter.service
  ;;
esac

# --- 4. the owner's home volume (owned launches only) ----------------------------------------
# The backend attaches the volume once the instance is running; the helper waits for it.
if [ -n "$HOME_VOLUME_ID" ]; then
  /usr/local/sbin/rstudio-pool-home mount "$HOME_VOLUME_ID"
fi
echo "rstudio-pool: bootstrap done $(date -Is)"

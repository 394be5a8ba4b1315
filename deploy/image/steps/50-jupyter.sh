#!/bin/bash
# JupyterLab beside RStudio, with the R kernel (IRkernel), in its own virtualenv. Installed, not
# started: a purpose whose app is Jupyter starts jupyter-pool.service, which listens on loopback
# only, like RStudio, and is reached through the same SSM port forwarding.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends python3-venv python3-pip
python3 -m venv /opt/jupyter
/opt/jupyter/bin/pip install --quiet --upgrade pip
/opt/jupyter/bin/pip install --quiet jupyterlab
Rscript -e 'if (!requireNamespace("IRkernel", quietly = TRUE)) install.packages("IRkernel", lib = .Library.site[1]);
IRkernel::installspec(user = FALSE, prefix = "/opt/jupyter")'
cat >/etc/systemd/system/jupyter-pool.service <<'UNIT'
[Unit]
Description=JupyterLab (RStudio Pool, loopback only)
After=network.target
[Service]
User=rstudio
WorkingDirectory=/home/rstudio
ExecStart=/opt/jupyter/bin/jupyter lab --no-browser --ip=127.0.0.1 --port=8888 --ServerApp.token= --ServerApp.password=
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
/opt/jupyter/bin/jupyter kernelspec list

#!/bin/bash
# The SSM agent: the only way into a pool host (sessions, Run Command). Ubuntu's AWS images ship
# it as a snap; make sure it is there, enabled, and starts at boot.
set -euo pipefail
if ! snap list amazon-ssm-agent >/dev/null 2>&1; then
  snap install amazon-ssm-agent --classic
fi
systemctl enable snap.amazon-ssm-agent.amazon-ssm-agent.service
echo "ssm agent: $(snap list amazon-ssm-agent | tail -n1)"

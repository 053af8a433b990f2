#!/usr/bin/env bash
# Installs Debian's Prometheus for the live-metrics test (cmd/surge
# TestRunMetricsInPrometheus), if it is not there yet. Needs root (or sudo)
# and Debian's package mirror. Only the binary is used: the test starts its
# own server on loopback with its own configuration (the package's service
# is not started).
set -euo pipefail
if command -v prometheus >/dev/null; then
	echo "prometheus: $(command -v prometheus) ($(prometheus --version 2>&1 | head -1))"
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# The package's post-install starts its service where systemd runs; a
# policy-rc.d that refuses keeps it from binding :9090 on a CI machine.
printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
$sudo chmod +x /usr/sbin/policy-rc.d
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
$sudo rm -f /usr/sbin/policy-rc.d
echo "prometheus: $(command -v prometheus) ($(prometheus --version 2>&1 | head -1))"

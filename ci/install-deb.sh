#!/usr/bin/env bash
# ci/install-deb.sh BINARY PACKAGE: installs Debian's PACKAGE unless BINARY
# is already on the PATH, without starting any service the package brings
# (a policy-rc.d that refuses, for the install). Needs root (or sudo) and
# Debian's package mirror. The test scripts install what their tests need
# with it: install-prometheus.sh, install-podman.sh.
set -euo pipefail
bin=$1 pkg=$2
if command -v "$bin" >/dev/null; then
	echo "$pkg: $(command -v "$bin") ($("$bin" --version 2>&1 | head -1))"
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
$sudo chmod +x /usr/sbin/policy-rc.d
trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
echo "$pkg: $(command -v "$bin") ($("$bin" --version 2>&1 | head -1))"

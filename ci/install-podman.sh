#!/usr/bin/env bash
# Installs Debian's podman for the image test (ci/image), if it is not there
# yet: the test loads the shards' image with it and runs it where podman's
# runtime may run containers (else it runs the image's filesystem with
# unshare). Needs root (or sudo) and Debian's package mirror; the package's
# socket service is not started.
set -euo pipefail
if command -v podman >/dev/null; then
	echo "podman: $(command -v podman) ($(podman --version))"
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
$sudo chmod +x /usr/sbin/policy-rc.d
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends podman >/dev/null
$sudo rm -f /usr/sbin/policy-rc.d
echo "podman: $(command -v podman) ($(podman --version))"

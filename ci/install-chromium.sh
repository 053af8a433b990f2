#!/usr/bin/env bash
# Installs Debian's Chromium for the report's browser test (ci/browser), if
# it is not there yet. Needs root (or sudo) and Debian's package mirror.
set -euo pipefail
for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null; then
		echo "chromium: $(command -v "$b") ($("$b" --version 2>/dev/null || true))"
		exit 0
	fi
done
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: $(command -v chromium) ($(chromium --version))"

#!/usr/bin/env bash
# Installs Debian's podman for the image test (ci/image), if it is not there
# yet: the test loads the shards' image with it and runs it where podman's
# runtime may run containers (else it runs the image's filesystem with
# unshare). The package's socket service is not started.
set -euo pipefail
exec bash "$(dirname "$0")/install-deb.sh" podman podman

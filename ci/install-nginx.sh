#!/usr/bin/env bash
# Installs Debian's nginx (with its http_v2 module) for the HTTP/2 test
# against a server surge did not write (cmd/surge TestRunAgainstNginxHTTP2),
# if it is not there yet. Only the binary is used: the test starts its own
# server on loopback with its own configuration (the package's service is
# not started).
set -euo pipefail
exec bash "$(dirname "$0")/install-deb.sh" nginx nginx-light

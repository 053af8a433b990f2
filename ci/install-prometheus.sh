#!/usr/bin/env bash
# Installs Debian's Prometheus for the live-metrics test (cmd/surge
# TestRunMetricsInPrometheus), if it is not there yet. Only the binary is
# used: the test starts its own server on loopback with its own
# configuration (the package's service is not started).
set -euo pipefail
exec bash "$(dirname "$0")/install-deb.sh" prometheus prometheus

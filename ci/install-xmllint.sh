#!/usr/bin/env bash
# Installs Debian's xmllint (libxml2-utils) for the JUnit schema test
# (reports TestJUnitFollowsTheSchema), if it is not there yet.
set -euo pipefail
exec bash "$(dirname "$0")/install-deb.sh" xmllint libxml2-utils

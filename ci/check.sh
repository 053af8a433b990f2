#!/usr/bin/env bash
# ci/check.sh: every check a change must pass, in the order that fails fastest:
# gofmt, go vet, the import-direction rules (ci/importrules), then every test with
# the race detector. This is the README's test command and what .ci/run calls.
#
#   bash ci/check.sh            # all of it
#   SHORT=1 bash ci/check.sh    # skip the multi-second load, kill -9 and overload tests
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo ok

step "go vet"
go vet ./...
echo ok

step "import rules (go list -deps)"
go run ./ci/importrules

step "tests"
flags=(-timeout 20m)
# The race detector needs cgo and a C compiler; without them, test without it and say so.
if [ "$(go env CGO_ENABLED)" = 1 ] && command -v "$(go env CC)" >/dev/null 2>&1; then
  flags+=(-race)
else
  echo "note: no C compiler for cgo; running the tests without the race detector"
fi
[ -n "${SHORT:-}" ] && flags+=(-short)
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then
  echo "note: no Chromium; the report's browser test (ci/browser) skips. bash ci/install-chromium.sh installs it."
fi
# The live capacity searches (scenarios/capacity) judge latency percentiles of
# servers on this machine: they run alone, after the rest, so that another
# package's tests do not take the cores they measure with.
go test "${flags[@]}" $(go list ./... | grep -v '/scenarios/capacity$')
go test "${flags[@]}" ./scenarios/capacity
# The live accuracy tests of the knee skip under the race detector, which
# slows the load generator itself (see TestLiveKneeAndCalibration): here they
# run without it. TestLiveServicesKneeAndStructure plays its compressed set
# (the rate limiter and the service finishing its gone clients' work: about
# 10 minutes); SURGE_LONG_TESTS=1 plays every class of service (about 30).
if [ -z "${SHORT:-}" ]; then
  go test -timeout 30m -run 'TestLiveKneeAndCalibration|TestLiveServicesKneeAndStructure' ./scenarios/capacity
fi
# surge k8s's manifests on a real cluster (ci/k8s, a module of its own: the
# k8s.io/kubernetes module stays out of the product's go.mod). It needs the
# control plane and kubelet ci/k8s/build.sh builds (about 10 minutes the
# first time), root, and Debian's etcd, containerd, runc and CNI plugins
# (ci/k8s-e2e.sh installs them); without them it says so and skips, as
# .ci/run never does.
k8s_bin="${SURGE_K8S_BIN:-$HOME/.cache/surge-k8s/v1.34.2/bin}"
if [ -n "${SURGE_REQUIRE_K8S:-}" ] || { [ -x "$k8s_bin/kube-apiserver" ] && command -v etcd >/dev/null; }; then
  (cd ci/k8s && go vet ./... && SURGE_K8S_BIN="$k8s_bin" go test -count=1 -timeout 15m ./...)
else
  echo "note: no Kubernetes control plane in $k8s_bin or no etcd: the sharded run on a real API server (ci/k8s) skips. bash ci/k8s-e2e.sh builds and runs it."
fi

#!/usr/bin/env bash
# ci/bench/report-memory.sh: what surge report and surge merge cost on large
# runs. It writes a run of an hour of 200 requests whose results.json is
# about MB megabytes (cmd/surge TestWriteLargeRun), then renders it as text
# and as HTML under /usr/bin/time: wall time and peak RSS of each. No
# traffic is sent.
#
#   MB=100 bash ci/bench/report-memory.sh
#
# The merge of 16 one-hour shards is a Go benchmark:
#   go test ./cmd/surge -run XXX -bench Merge16Shards -benchmem -benchtime 3x
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MB=${MB:-100}
OUT=${OUT:-/tmp/surge-report-memory}
rm -rf "$OUT" && mkdir -p "$OUT"
cd "$ROOT"
go build -o "$OUT/surge" ./cmd/surge
SURGE_LARGE_RUN="$OUT/run" SURGE_LARGE_RUN_MB=$MB go test ./cmd/surge -run TestWriteLargeRun -count=1 -v | grep ' MB'
for format in text html; do
  /usr/bin/time -v "$OUT/surge" report "$OUT/run" --format "$format" -o "$OUT/report.$format" >/dev/null 2>"$OUT/time.$format" || true
  printf '%s: %s, peak RSS %s kB\n' "$format" \
    "$(grep -o 'Elapsed (wall clock).*' "$OUT/time.$format" | sed 's/.*: //')" \
    "$(grep -o 'Maximum resident set size (kbytes): [0-9]*' "$OUT/time.$format" | grep -o '[0-9]*$')"
done

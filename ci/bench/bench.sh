#!/usr/bin/env bash
# ci/bench/bench.sh: surge's engine measured side by side with vegeta on this
# machine, one command end to end. It installs what it compares against
# (vegeta with go install; wrk from Debian's packages when it can), builds
# surge and a tiny loopback target (ci/bench/target), and measures:
#   ceiling  open-loop ceiling by bisection (0 errors, >= 99% delivered in time;
#            surge also: 99% of sends within 1 ms of schedule, by default
#            and with --send-slack 0)
#   cost     CPU seconds per 100k requests at a fixed 5,000 req/s (and RSS);
#            surge also with --send-slack 0 (every send paced on its own)
#   over     2x past surge's ceiling: delivered rate, RSS, how late it fell
#   stall    coordinated omission: a 500 ms global stall every 5 s, 1,000 req/s, 20 s
#   report   render a 600k-request run (surge report vs vegeta report)
#   sim      the simulator's Go benchmarks (event loop, national scale 30x)
#   shards   the open-loop ceiling of N surge processes sharing this machine,
#            each a shard (--shard i/N, one --start-in), merged with surge
#            merge and judged as one run (SHARDS="2 4"): the total should
#            stay near one process's ceiling, not fall
#   h2       HTTP/2 with prior knowledge (h2c) to the same target: surge's and
#            vegeta -h2c's open-loop ceilings, and CPU per 100k at 5,000 req/s
#            beside h2load's (closed loop: 10 connections x 10 streams, as many
#            requests as the others send; it has no open-loop mode)
#   grpc     unary gRPC calls to a grpc-go service (ci/bench/grpctarget, h2c):
#            surge's open-loop ceiling, and CPU per 100k at 5,000 calls/s beside
#            ghz's (--rps 5000, 50 workers; installed with go install when it
#            builds) and ghz's own maximum
#   soak     the 1-hour, 18M-request run at 5,000 req/s (its scenario, so its
#            bucket widths), interrupted after SOAK seconds (default 300), RSS
#            sampled every 10 s: the memory slope, extrapolated to the hour
# and prints a table of medians (min-max over REPS). Rows: $OUT/rows.jsonl.
#
# Safety: traffic goes only to the target on 127.0.0.1, which this script
# starts and stops; every run is bounded by `timeout`. Where `ip netns` works
# (root), every run gets a fresh network namespace with only lo, so one
# overloaded run's TIME_WAIT debris cannot wreck the next.
#
# Knobs: REPS=1 SECTIONS="ceiling cost over stall report sim" LO=5000 HI=60000
#        RES=1000 DUR=10 PORT=18080 OUT=/tmp/surge-bench-<time>
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REPS=${REPS:-1}
SECTIONS=${SECTIONS:-"ceiling cost over stall report sim soak"}
SOAK=${SOAK:-300}
LO=${LO:-5000} HI=${HI:-60000} RES=${RES:-1000} DUR=${DUR:-10}
PORT=${PORT:-18080}
OUT=${OUT:-/tmp/surge-bench-$(date +%Y%m%d-%H%M%S)}
BIN=$OUT/bin
ROWS=$OUT/rows.jsonl
mkdir -p "$BIN"
: >"$ROWS"
export PATH="$PATH:$(go env GOPATH)/bin"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
has() { [[ " $SECTIONS " == *" $1 "* ]]; }

# ------------------------------------------------------------ install, build
command -v vegeta >/dev/null || { log "installing vegeta v12.13.0"; GOFLAGS= go install github.com/tsenart/vegeta/v12@v12.13.0 || exit 1; }
if has grpc && ! command -v ghz >/dev/null; then
	log "installing ghz"; GOFLAGS= go install github.com/bojand/ghz/cmd/ghz@v0.93.0 >/dev/null 2>&1 || log "ghz not installed (optional)"
fi
if has h2 && ! command -v h2load >/dev/null; then
	log "installing h2load (Debian's nghttp2-client)"; bash "$ROOT/ci/install-deb.sh" h2load nghttp2-client >/dev/null 2>&1 || log "h2load not installed (optional)"
fi
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ]; then
	log "installing wrk (Debian)"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || log "wrk not installed (optional)"
fi
for t in jq /usr/bin/time timeout curl; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }; done
log "building surge and the target"
(cd "$ROOT" && go build -o "$BIN/surge" ./cmd/surge && go build -o "$BIN/benchtarget" ./ci/bench/target && go build -o "$BIN/grpctarget" ./ci/bench/grpctarget) || exit 1
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ------------------------------------------------------ namespace + target
NETNS=0 NS="" NSX=() TPID="" RUN=0
if ip netns add "surgebench-probe-$$" 2>/dev/null; then ip netns del "surgebench-probe-$$"; NETNS=1; fi
start_target() {
	RUN=$((RUN + 1))
	if ((NETNS)); then
		NS=surgebench-$$-$RUN
		ip netns add "$NS" && ip netns exec "$NS" ip link set lo up || exit 1
		NSX=(ip netns exec "$NS")
	else
		local i=0 # shared namespace: let earlier runs' TIME_WAIT drain
		while (($(ss -Htan state time-wait 2>/dev/null | wc -l) > 2000 && i < 70)); do sleep 1; i=$((i + 1)); done
	fi
	if [ -n "${GRPC:-}" ]; then
		"${NSX[@]}" "$BIN/grpctarget" -addr "127.0.0.1:$PORT" -proto "$OUT/venue.proto" >>"$OUT/target.log" 2>&1 &
		TPID=$!
		for _ in $(seq 100); do "${NSX[@]}" bash -c "echo >/dev/tcp/127.0.0.1/$PORT" 2>/dev/null && return 0; sleep 0.05; done
		echo "grpc target did not come up" >&2; exit 1
	fi
	"${NSX[@]}" "$BIN/benchtarget" -addr "127.0.0.1:$PORT" >>"$OUT/target.log" 2>&1 &
	TPID=$!
	for _ in $(seq 100); do "${NSX[@]}" curl -sf -o /dev/null "http://127.0.0.1:$PORT/hello" && return 0; sleep 0.05; done
	echo "target did not come up" >&2; exit 1
}
stop_target() {
	[ -n "$TPID" ] && { kill "$TPID" 2>/dev/null; wait "$TPID" 2>/dev/null; TPID=""; }
	[ -n "$NS" ] && { ip netns del "$NS" 2>/dev/null; NS="" NSX=(); }
}
trap stop_target EXIT INT TERM

# timed ID cmd...: the command in the run's namespace, under GNU time and timeout.
timed() {
	local id=$1; shift
	/usr/bin/time -f '%e %U %S %M' -o "$OUT/$id.time" "${NSX[@]}" timeout -s INT -k 10 "${LIMIT:-$((DUR * 3 + 60))}" "$@" >"$OUT/$id.out" 2>"$OUT/$id.err"
}
# cost ID: {"wall_s","cpu_s","rss_mb"} of the timed command.
cost() { tail -1 "$OUT/$1.time" | awk '{printf "{\"wall_s\":%s,\"cpu_s\":%s,\"rss_mb\":%.1f}", $1, $2+$3, $4/1024}'; }
row() { jq -c -n --arg sec "$1" --arg tool "$2" --argjson rate "$3" --argjson m "$4" --argjson c "$5" \
	'$m + $c + {sec:$sec, tool:$tool, rate:$rate} | . + {cpu_per_100k: (if (.reqs // 0) > 0 then .cpu_s / .reqs * 1e5 else null end)}' | tee -a "$ROWS" >&2; }

# surge_yaml FILE RATE SECONDS PATH: the one-request scenario at RATE.
surge_yaml() {
	cat >"$1" <<YAML
name: bench
target: {url: "${SCHEME:-http}://127.0.0.1:$PORT"}
scale: 1
arrivals: {start: "00:00", bucket: ${3}s, total: $(($2 * $3)), profile: [100%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: all, share: 100%, journey: hit}]
journeys: {hit: [{request: hit}]}
requests: {hit: {method: GET, path: $4}}
behaviour: {timeout: 30s}
slo: [errors <= 0%]
YAML
}

# surge_grpc_yaml FILE RATE SECONDS: the one-call scenario at RATE.
surge_grpc_yaml() {
	cat >"$1" <<YAML
name: bench-grpc
target: {url: "grpc://127.0.0.1:$PORT"}
scale: 1
arrivals: {start: "00:00", bucket: ${3}s, total: $(($2 * $3)), profile: [100%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: all, share: 100%, journey: hit}]
journeys: {hit: [{request: hit}]}
requests: {hit: {grpc: pass.v1.Venue/CheckIn, message: {token: t, venue_id: v}}}
behaviour: {timeout: 30s}
slo: [errors <= 0%]
YAML
}

# surge_row DIR: a run directory's figures for its row.
surge_row() {
	jq -c '{reqs: .endpoints.hit.attempted, ok: .endpoints.hit.succeeded, elapsed_s: (.meta.elapsed_ns/1e9),
		p50: (.endpoints.hit.p50_s*1e3), p90: (.endpoints.hit.p90_s*1e3), p99: (.endpoints.hit.p99_s*1e3), max: (.endpoints.hit.max_s*1e3),
		late_p99_ms: (.generator.late_p99_s*1e3), late_max_ms: (.generator.late_max_s*1e3), dir: "'"$1"'"}' "$1/summary.json" 2>/dev/null || echo '{"reqs":0}'
}

# surge_run SEC RATE SECONDS PATH [flags]: one surge run at RATE; prints its row.
surge_run() {
	local sec=$1 rate=$2 secs=$3 path=$4; shift 4
	local id="$sec-surge-$rate-$RUN" dir="$OUT/runs/$sec-$rate-$RUN"
	if [ -n "${GRPC:-}" ]; then surge_grpc_yaml "$OUT/$id.yaml" "$rate" "$secs"; else surge_yaml "$OUT/$id.yaml" "$rate" "$secs" "$path"; fi
	start_target
	timed "$id" "$BIN/surge" run "$OUT/$id.yaml" --out "$dir" --quiet --drain 10s "$@" # (SIGINT at LIMIT: a partial run, still written)
	stop_target
	row "$sec" "surge${LABEL:+ $LABEL}" "$rate" "$(surge_row "$dir")" "$(cost "$id")"
}

# shards_run SEC RATE SECONDS PATH N: N surge shards of one run at RATE in
# all, started together, merged; prints the merged run's row (CPU summed
# over the shards, RSS the largest shard's).
shards_run() {
	local sec=$1 rate=$2 secs=$3 path=$4 n=$5
	local id="$sec-shards$n-$rate-$RUN" dir="$OUT/runs/$sec-shards$n-$rate-$RUN"
	surge_yaml "$OUT/$id.yaml" "$rate" "$secs" "$path"
	start_target
	timed "$id" sh -c 'for i in $(seq 0 $(('"$n"' - 1))); do "$0" run "$1" --out "$2/shard-$i" --quiet --drain 10s --shard "$i/'"$n"'" --start-in 2s >/dev/null & done; wait' \
		"$BIN/surge" "$OUT/$id.yaml" "$dir"
	stop_target
	"$BIN/surge" merge "$dir" --out "$dir/merged" >/dev/null 2>&1
	row "$sec" "surge x$n shards" "$rate" "$(surge_row "$dir/merged")" "$(cost "$id")"
}
shards2_run() { shards_run "$1" "$2" "$3" "$4" 2; }
shards4_run() { shards_run "$1" "$2" "$3" "$4" 4; }

# vegeta_run SEC RATE SECONDS PATH [flags]
vegeta_run() {
	local sec=$1 rate=$2 secs=$3 path=$4; shift 4
	local id="$sec-vegeta-$rate-$RUN"
	start_target
	echo "GET http://127.0.0.1:$PORT$path" >"$OUT/$id.targets"
	timed "$id" sh -c "vegeta attack -rate=$rate -duration=${secs}s -timeout=30s $* -targets=$OUT/$id.targets > $OUT/$id.bin"
	stop_target
	local m
	m=$(vegeta report -type=json "$OUT/$id.bin" | jq -c '{reqs: .requests, ok: ((.success * .requests)|round), elapsed_s: ((.duration + .wait)/1e9), sent_s: (.duration/1e9),
		p50: (.latencies."50th"/1e6), p90: (.latencies."90th"/1e6), p99: (.latencies."99th"/1e6), max: (.latencies.max/1e6)}')
	row "$sec" "vegeta${LABEL:+ $LABEL}" "$rate" "$m" "$(cost "$id")"
}

# h2load_run SEC N PATH [RATE]: h2load's N requests over h2c, 10
# connections x 10 streams: closed loop (its rate is what it reached), or
# at RATE in all (--rps RATE/10 per connection), for the cost at equal rate.
h2load_run() {
	local sec=$1 n=$2 path=$3 rate=${4:-0} id="$1-h2load-${4:-0}-$RUN" rps=()
	[ "$rate" -gt 0 ] && rps=(--rps $((rate / 10)))
	start_target
	timed "$id" h2load -n "$n" -c 10 -m 10 "${rps[@]}" "http://127.0.0.1:$PORT$path"
	stop_target
	local m
	m=$(awk '/^finished in/ {el=$3; gsub(/,/, "", el); if (el ~ /ms$/) {sub(/ms$/, "", el); el = el / 1000} else sub(/s$/, "", el); rps=$4}
		/^requests:/ {reqs=$2; ok=$8} END {printf "{\"reqs\":%d,\"ok\":%d,\"elapsed_s\":%s,\"reached_rps\":%s}", reqs, ok, el, rps}' "$OUT/$id.out")
	row "$sec" "h2load$([ "$rate" -gt 0 ] && echo " --rps" || echo " (closed loop)")" "$rate" "$m" "$(cost "$id")"
}

# ghz_run SEC RATE SECONDS: ghz's calls at RATE (0: as fast as it can) for
# SECONDS, 50 workers.
ghz_run() {
	local sec=$1 rate=$2 secs=$3 id="$1-ghz-$2-$RUN"
	GRPC=1 start_target
	timed "$id" ghz --insecure --proto "$OUT/venue.proto" --call pass.v1.Venue/CheckIn -d '{"token":"t","venue_id":"v"}' \
		-c 50 --rps "$rate" -z "${secs}s" --format json "127.0.0.1:$PORT"
	stop_target
	local m
	m=$(jq -c '{reqs: .count, ok: (.statusCodeDistribution.OK // 0), elapsed_s: (.total/1e9), reached_rps: .rps,
		p50: ((.latencyDistribution // [] | map(select(.percentage == 50)) | .[0].latency // 0)/1e6),
		p99: ((.latencyDistribution // [] | map(select(.percentage == 99)) | .[0].latency // 0)/1e6)}' "$OUT/$id.out" 2>/dev/null || echo '{"reqs":0}')
	row "$sec" "ghz${LABEL:+ $LABEL}" "$rate" "$m" "$(cost "$id")"
}

# passes ROW RATE SECONDS [late]: 0 errors, >= 99% of the requests sent and
# answered, and sent on schedule: vegeta's attack lasted at most 1% longer
# than asked; surge's sends went out within 10 ms of schedule at p99 (with
# late: within 1 ms, the issue's target).
passes() {
	jq -e --argjson rate "$2" --argjson secs "$3" --arg late "${4:-}" '
		.reqs >= 0.99 * $rate * $secs and .ok == .reqs and .elapsed_s <= $secs + 2
		and (if .late_p99_ms then .late_p99_ms <= (if $late == "" then 10 else 1 end) else .sent_s <= 1.01 * $secs end)' <<<"$1" >/dev/null
}

bisect() { # TOOL [late [FLAGS...]]: the highest passing rate in [LO, HI] to RES
	local tool=$1 late=${2:-} lo=$LO hi=$HI r out
	shift $(($# < 2 ? $# : 2))
	while ((hi - lo > RES)); do
		r=$(((lo + hi) / 2 / RES * RES))
		out=$("${tool}_run" "ceiling${late:+-late}" "$r" "$DUR" /hello "$@" 2>&1 | tail -1)
		if passes "$out" "$r" "$DUR" "$late"; then lo=$r; else hi=$r; fi
		log "$tool${late:+ (late<=1ms)} $*: $r req/s $(passes "$out" "$r" "$DUR" "$late" && echo pass || echo fail) -> [$lo, $hi]"
	done
	echo "$lo"
}

for rep in $(seq "$REPS"); do
	if has ceiling; then
		for tool in surge vegeta; do
			c=$(bisect "$tool"); row ceiling "$tool" "$c" '{"ceiling": true}' '{}'
			[ "$tool" = surge ] && echo "$c" >"$OUT/surge-ceiling"
		done
		c=$(bisect surge late); row ceiling-late surge "$c" '{"ceiling": true}' '{}' # LO itself may fail: see the rows
		c=$(LABEL="--send-slack 0" bisect surge late --send-slack 0); row ceiling-late "surge --send-slack 0" "$c" '{"ceiling": true}' '{}'
	fi
	if has cost; then
		surge_run cost 5000 "$DUR" /hello
		LABEL="--send-slack 0" surge_run cost 5000 "$DUR" /hello --send-slack 0
		vegeta_run cost 5000 "$DUR" /hello
	fi
	if has over; then
		c=$(cat "$OUT/surge-ceiling" 2>/dev/null || echo 20000)
		surge_run over $((c * 2)) "$DUR" /hello
		LABEL="--max-users 2000" surge_run over $((c * 2)) "$DUR" /hello --max-users 2000
		vegeta_run over $((c * 2)) "$DUR" /hello
		LABEL="-max-workers 200" vegeta_run over $((c * 2)) "$DUR" /hello -max-workers=200
	fi
	if has stall; then surge_run stall 1000 20 /stall; LABEL="--max-conns 10" surge_run stall 1000 20 /stall --max-conns 10; vegeta_run stall 1000 20 /stall; LABEL="-max-workers 10" vegeta_run stall 1000 20 /stall -max-workers=10; fi
	if has h2; then
		c=$(SCHEME=h2c LABEL=h2c bisect surge); row ceiling-h2 surge "$c" '{"ceiling": true}' '{}'
		c=$(LABEL=-h2c bisect vegeta "" -h2c); row ceiling-h2 "vegeta -h2c" "$c" '{"ceiling": true}' '{}'
		SCHEME=h2c LABEL=h2c surge_run cost-h2 5000 "$DUR" /hello
		LABEL=-h2c vegeta_run cost-h2 5000 "$DUR" /hello -h2c
		command -v h2load >/dev/null && h2load_run cost-h2 $((5000 * DUR)) /hello && h2load_run cost-h2 $((5000 * DUR)) /hello 5000
	fi
	if has grpc; then
		c=$(GRPC=1 LABEL=grpc bisect surge); row ceiling-grpc surge "$c" '{"ceiling": true}' '{}'
		GRPC=1 LABEL=grpc surge_run cost-grpc 5000 "$DUR" /
		if command -v ghz >/dev/null; then
			LABEL="--rps 5000" ghz_run cost-grpc 5000 "$DUR"
			LABEL="unbounded (closed loop)" ghz_run ceiling-grpc 0 "$DUR"
		fi
	fi
	if has report; then
		surge_run report 20000 30 /hello
		dir=$(tail -1 "$ROWS" | jq -r .dir)
		/usr/bin/time -f '%e %U %S %M' -o "$OUT/report-surge.time" "$BIN/surge" report "$dir" -o "$OUT/report.html" >/dev/null
		/usr/bin/time -f '%e %U %S %M' -o "$OUT/report-surge-text.time" "$BIN/surge" report "$dir" --format text >/dev/null
		row report-html surge 20000 "$(jq -c '{reqs: .endpoints.hit.attempted}' "$dir/summary.json")" "$(cost report-surge)"
		row report-text surge 20000 "$(jq -c '{reqs: .endpoints.hit.attempted}' "$dir/summary.json")" "$(cost report-surge-text)"
		vegeta_run report 20000 30 /hello
		id=$(ls -t "$OUT"/report-vegeta-*.bin | head -1)
		/usr/bin/time -f '%e %U %S %M' -o "$OUT/report-vegeta.time" vegeta report "$id" >/dev/null
		row report-text vegeta 20000 "$(vegeta report -type=json "$id" | jq -c '{reqs: .requests}')" "$(cost report-vegeta)"
	fi
	if has sim; then
		# built as the shipped binary is: with its profile (cmd/surge/default.pgo)
		pgo="-pgo=$ROOT/cmd/surge/default.pgo"
		(cd "$ROOT" && go test "$pgo" -run '^$' -bench 'EventLoop' -count 1 ./sim && go test "$pgo" -run '^$' -bench 'National' -benchtime 1x -count 1 ./sim) >"$OUT/sim-bench.txt" 2>&1
		grep '^Benchmark' "$OUT/sim-bench.txt" | while read -r l; do row sim go-test 0 "$(jq -c -n --arg l "$l" '{bench: $l}')" '{}'; done
		# the national 1:1 first download (no traffic: a simulation)
		/usr/bin/time -f '%e %U %S %M' -o "$OUT/sim-national.time" "$BIN/surge" sim "$ROOT/scenarios/first-download.yaml" \
			--scale 1 --compression 1 --out "$OUT/runs/sim-national" >/dev/null 2>"$OUT/sim-national.err"
		l=$(grep -o 'simulated .* in [0-9.]*s ([0-9]* events' "$OUT/sim-national.err")
		row sim-national surge 0 "$(jq -c -n --arg l "$l" '{line: $l, sim_s: ($l | capture("in (?<s>[0-9.]+)s").s | tonumber), events: ($l | capture("\\((?<n>[0-9]+) events").n | tonumber)}')" "$(cost sim-national)"
	fi
	if has shards; then
		c=$(bisect surge); row ceiling surge "$c" '{"ceiling": true}' '{}'
		for n in ${SHARDS:-2 4}; do
			c=$(bisect "shards$n"); row ceiling "surge x$n shards" "$c" '{"ceiling": true}' '{}'
		done
	fi
	if has soak; then
		# surge_run in the background, its RSS read from /proc every 10 s
		( LIMIT=$SOAK surge_run soak 5000 3600 /hello >/dev/null 2>&1 ) &
		bg=$!
		: >"$OUT/soak-rss.txt"
		t0=$(date +%s)
		while kill -0 "$bg" 2>/dev/null; do
			pid=$(pgrep -n -f "surge run $OUT/soak-surge" || true)
			if [ -n "$pid" ]; then
				rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)
				[ -n "$rss" ] && echo "$(($(date +%s) - t0)) $rss" >>"$OUT/soak-rss.txt"
			fi
			sleep 10
		done
		wait "$bg"
		# slope by least squares over the samples after the first minute (warm-up)
		fit=$(awk '$1 >= 60 {n++; x+=$1; y+=$2/1024; xx+=$1*$1; xy+=$1*$2/1024; last=$2/1024}
			END {if (n < 2) {print "{}"; exit}; b=(n*xy-x*y)/(n*xx-x*x); printf "{\"rss_last_mb\":%.1f,\"slope_mb_per_min\":%.3f,\"rss_1h_mb\":%.1f,\"samples\":%d}", last, b*60, last+b*(3600-$1), n}' "$OUT/soak-rss.txt")
		row soak-rss surge 5000 "$fit" '{}'
	fi
done

log "rows: $ROWS"
bash "$ROOT/ci/bench/summarize.sh" "$ROWS"

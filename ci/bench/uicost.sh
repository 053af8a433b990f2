#!/usr/bin/env bash
# ci/bench/uicost.sh: what the live page (--ui) costs the run it watches.
#
#   alternate  one run at RATE req/s for SECS seconds with --ui-listen; after
#              a 10 s warm-up, windows of WIN seconds alternate between a
#              watcher fetching the page each second (what the page's outer
#              frame asks of surge: GET /report, once a second) and none.
#              surge's CPU (utime+stime from /proc) is read at each switch:
#              the CPU seconds per window watched vs not, and their ratio
#              (the requests per window are the same: an open-model rate).
#   soak       one run of SOAK seconds (default 3600) at RATE with the page
#              fetched each second throughout: surge's RSS every 60 s and
#              its high-water mark at the end.
#
# Safety: traffic goes only to the target on 127.0.0.1, which this script
# starts and stops; the run is bounded by its own length and `timeout`.
#
#   MODE=alternate RATE=2000 SECS=190 WIN=15 bash ci/bench/uicost.sh
#   MODE=soak RATE=500 SOAK=3600 bash ci/bench/uicost.sh
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODE=${MODE:-alternate} RATE=${RATE:-2000} SECS=${SECS:-190} WIN=${WIN:-15} SOAK=${SOAK:-3600}
PORT=${PORT:-18090} UIPORT=${UIPORT:-18091}
OUT=${OUT:-/tmp/surge-uicost-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/bin"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
(cd "$ROOT" && go build -o "$OUT/bin/surge" ./cmd/surge && go build -o "$OUT/bin/benchtarget" ./ci/bench/target) || exit 1
[ "$MODE" = soak ] && SECS=$SOAK

"$OUT/bin/benchtarget" -addr "127.0.0.1:$PORT" >"$OUT/target.log" 2>&1 &
TPID=$!
trap 'kill $TPID 2>/dev/null; [ -n "${SPID:-}" ] && kill $SPID 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/hello" && break; sleep 0.05; done

cat >"$OUT/ui.yaml" <<YAML
name: uicost
target: {url: "http://127.0.0.1:$PORT"}
scale: 1
arrivals: {start: "00:00", bucket: ${SECS}s, total: $((RATE * SECS)), profile: [100%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: all, share: 100%, journey: hit}]
journeys: {hit: [{request: hit}]}
requests: {hit: {method: GET, path: /hello}}
behaviour: {timeout: 30s}
slo: [errors <= 0%, hit p99 <= 100ms]
YAML

timeout -s INT -k 10 $((SECS + 120)) "$OUT/bin/surge" run "$OUT/ui.yaml" --out "$OUT/run" --quiet --ui-listen "127.0.0.1:$UIPORT" --ui-linger 0s \
	>"$OUT/surge.out" 2>"$OUT/surge.err" &
TPID2=$!
for _ in $(seq 50); do SPID=$(pgrep -P "$TPID2" | head -1); [ -n "$SPID" ] && break; sleep 0.1; done # surge, under timeout
cpu() { awk '{print $14 + $15}' "/proc/$SPID/stat" 2>/dev/null; } # clock ticks
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SPID/status" 2>/dev/null; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$SPID/status" 2>/dev/null; }
watch() { # fetch the page each second for $1 seconds
	local end=$((SECONDS + $1))
	while ((SECONDS < end)); do curl -s -o /dev/null "http://127.0.0.1:$UIPORT/report"; sleep 1; done
}
TCK=$(getconf CLK_TCK)
sleep 10

if [ "$MODE" = soak ]; then
	log "soak: $SOAK s at $RATE req/s, the page fetched each second; RSS every 60 s -> $OUT/rss.txt"
	watch "$SOAK" &
	WPID=$!
	while kill -0 "$SPID" 2>/dev/null; do
		echo "$SECONDS $(rss)" >>"$OUT/rss.txt"
		hwm >"$OUT/hwm.txt"
		sleep 60
	done
	kill "$WPID" 2>/dev/null
	wait "$TPID2"
	log "RSS (KB) first and last samples: $(head -1 "$OUT/rss.txt") / $(tail -1 "$OUT/rss.txt"); high-water $(cat "$OUT/hwm.txt") KB"
	exit 0
fi

on=0 off=0 n=0
while (((n + 1) * WIN + 10 < SECS)); do
	before=$(cpu)
	if ((n % 2 == 0)); then watch "$WIN"; else sleep "$WIN"; fi
	after=$(cpu)
	[ -z "$before" ] || [ -z "$after" ] && break
	d=$((after - before))
	if ((n % 2 == 0)); then on=$((on + d)); else off=$((off + d)); fi
	what=unwatched
	((n % 2 == 0)) && what=watched
	awk -v n="$n" -v w="$what" -v d="$d" -v t="$TCK" 'BEGIN{printf "window %d %s: %.2f CPU-s\n", n, w, d/t}' | tee -a "$OUT/windows.txt" >&2
	n=$((n + 1))
done
wait "$TPID2"
awk -v on="$on" -v off="$off" -v t="$TCK" -v w="$WIN" -v r="$RATE" -v n="$n" 'BEGIN{
	non = int((n + 1) / 2); noff = int(n / 2); a = on / t / non; b = off / t / noff
	printf "watched %.3f CPU-s a window (%d windows), unwatched %.3f (%d), each %d s at %d req/s: CPU per request watched/unwatched %.3f (%+.1f%%)\n",
		a, non, b, noff, w, r, a/b, 100*(a/b-1) }' | tee "$OUT/result.txt"
grep -E "GO|NO-GO" "$OUT/surge.out" | head -2

#!/usr/bin/env bash
# Load benchmark (127.0.0.1 only, bounded in time): starts ClickHouse, the service and a
# bare Fiber handler (parse the same JSON, answer 204), fires realistic beacons with wrk at
# each in alternating rounds, then prints requests/s, p50/p99 latency and peak RSS of the
# median round, the ratio full/bare, and rows in ClickHouse versus events accepted.
# Usage: bench/load.sh [seconds per run, default 10] [connections, default 64] [rounds, default 3]
set -euo pipefail
DURATION="${1:-10}"
CONNS="${2:-64}"
ROUNDS="${3:-3}"
PORT_FULL=18481
PORT_BARE=18482
source "$(dirname "$0")/lib.sh"
go build -o var/bench/bare ./bench/bare

start_consentry "$PORT_FULL" sites.example.yaml
var/bench/bare --listen "127.0.0.1:$PORT_BARE" &
bare=$!; pids+=("$bare")
wait_up "$PORT_BARE" /

# Alternate bare and full runs so drift in the shared machine's speed hits both alike;
# each round's ratio is printed and the median one is the result.
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round: bare Fiber handler (parse JSON, answer 204), $DURATION s, $CONNS connections"
  run_wrk "$PORT_BARE" "bare-$round" bench/beacon.lua
  echo "== round $round: full pipeline (consentry serve -> ClickHouse 18.16)"
  run_wrk "$PORT_FULL" "full-$round" bench/beacon.lua
  ratios+=("$(awk -v f="$(rps "full-$round")" -v b="$(rps "bare-$round")" 'BEGIN {printf "%.2f", f / b}')")
done

# Requests wrk left in flight may still be handled after it exits: read once they settle.
accepted="$(metric consentry_events_accepted_total)"
while sleep 0.5; a2="$(metric consentry_events_accepted_total)"; [ "$a2" != "$accepted" ]; do accepted="$a2"; done
notstored="$(metric consentry_events_not_stored_total)"
inserterrors="$(metric consentry_insert_errors_total)"
rss_full="$(rss_peak_mb "$full")"; rss_bare="$(rss_peak_mb "$bare")"
kill -TERM "$full"; wait "$full" || true
kill "$bare"; wait "$bare" 2>/dev/null || true
rows="$(ch "SELECT count() FROM $DB.events")"
signals="$(ch "SELECT sum(count) FROM $DB.signals")"

median="$(median "${ratios[@]}")"
mid="$(for r in $(seq 1 "$ROUNDS"); do echo "${ratios[$((r - 1))]} $r"; done | sort -n | awk -v m="$median" '$1 == m {print $2; exit}')"
echo
echo "== results ($(nproc) cores; wrk, the service and ClickHouse share them; median round: $mid)"
printf '%-28s %12s %10s %10s %12s\n' "" "requests/s" "p50" "p99" "peak RSS MB"
printf '%-28s %12s %10s %10s %12s\n' "full pipeline" "$(rps "full-$mid")" "$(pct "full-$mid" 50%)" "$(pct "full-$mid" 99%)" "$rss_full"
printf '%-28s %12s %10s %10s %12s\n' "bare Fiber handler" "$(rps "bare-$mid")" "$(pct "bare-$mid" 50%)" "$(pct "bare-$mid" 99%)" "$rss_bare"
echo "ratio full/bare per round: ${ratios[*]}"
echo "ratio full/bare (median): $median (target >= 0.50)"
echo "events accepted: $accepted   rows in ClickHouse: $rows   not stored (DNT/bot/...): $notstored   signals counted: $signals   insert errors: $inserterrors"
if [ "$accepted" = "$rows" ]; then echo "rows match accepted: yes"; else echo "rows match accepted: NO"; exit 1; fi
awk -v r="$rss_full" 'BEGIN {exit !(r <= 100)}' && echo "peak RSS <= 100 MB: yes" || echo "peak RSS <= 100 MB: NO"

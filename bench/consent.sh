#!/usr/bin/env bash
# Consent ledger benchmark (127.0.0.1 only, bounded in time). Starts ClickHouse and the
# service on a fresh database with bench/sites.yaml, then
#  1. fires consent decisions with wrk (bench/decision.lua): decisions/s acknowledged only
#     once durable, p50/p99 latency, and a check that every acknowledged decision is in
#     consents (FINAL);
#  2. mints receipts, then fires the same pageviews at the exempt site without a receipt
#     and at the consent-mode site with one, in alternating rounds: the ratio is the cost
#     of checking receipts (signature, expiry, policy, revocation, grant).
# Usage: bench/consent.sh [seconds per run, default 10] [connections, default 256] [rounds, default 3]
set -euo pipefail
DURATION="${1:-10}"
CONNS="${2:-256}"
ROUNDS="${3:-3}"
PORT_FULL=18483
source "$(dirname "$0")/lib.sh"
start_consentry "$PORT_FULL" bench/sites.yaml --rate-limit 0

# ms: a wrk latency (e.g. 812.00us, 12.34ms, 1.02s) in milliseconds
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'; }

acked=0
drps=()
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round: decisions (POST /v1/consent, durable before the answer), $DURATION s, $CONNS connections"
  run_wrk "$PORT_FULL" "decide-$round" bench/decision.lua
  acked=$((acked + $(completed "decide-$round") - $(non2xx "decide-$round")))
  drps+=("$(rps "decide-$round")")
done
dmed="$(median "${drps[@]}")"
dmid="$(for r in $(seq 1 "$ROUNDS"); do echo "${drps[$((r - 1))]} $r"; done | awk -v m="$dmed" '$1 == m {print $2; exit}')"
sleep 1 # answers wrk stopped reading may still be committed
rows="$(ch "SELECT count() FROM $DB.consents FINAL")"
batches="$(metric consentry_decision_batch_rows_count)"

echo "== minting 200 receipts that grant analytics"
: > var/bench/receipts.txt
for _ in $(seq 1 200); do
  curl -s "http://127.0.0.1:$PORT_FULL/v1/consent" -H 'Origin: https://gated.example' -H 'Content-Type: text/plain' \
    --data '{"site":"gated","method":"accept_all"}' | grep -o '"receipt":"[^"]*"' | cut -d'"' -f4 >> var/bench/receipts.txt
done
[ "$(wc -l < var/bench/receipts.txt)" = 200 ] || { echo "could not mint receipts"; exit 1; }

ratios=()
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round: pageviews without a receipt (exempt site)"
  run_wrk "$PORT_FULL" "open-$round" bench/receipt-beacon.lua -- open
  echo "== round $round: pageviews with a receipt (consent-mode site)"
  run_wrk "$PORT_FULL" "gated-$round" bench/receipt-beacon.lua -- gated var/bench/receipts.txt
  ratios+=("$(awk -v g="$(rps "gated-$round")" -v o="$(rps "open-$round")" 'BEGIN {printf "%.2f", g / o}')")
done
cmed="$(median "${ratios[@]}")"
cmid="$(for r in $(seq 1 "$ROUNDS"); do echo "${ratios[$((r - 1))]} $r"; done | awk -v m="$cmed" '$1 == m {print $2; exit}')"
notstored="$(metric consentry_events_not_stored_total)"
rss="$(rss_peak_mb "$full")"

echo
echo "== results ($(nproc) cores; wrk, the service and ClickHouse share them)"
printf '%-40s %12s %10s %10s\n' "" "requests/s" "p50" "p99"
printf '%-40s %12s %10s %10s\n' "decisions, durable (median round $dmid)" "$(rps "decide-$dmid")" "$(pct "decide-$dmid" 50%)" "$(pct "decide-$dmid" 99%)"
printf '%-40s %12s %10s %10s\n' "pageviews without receipt (round $cmid)" "$(rps "open-$cmid")" "$(pct "open-$cmid" 50%)" "$(pct "open-$cmid" 99%)"
printf '%-40s %12s %10s %10s\n' "pageviews with receipt (round $cmid)" "$(rps "gated-$cmid")" "$(pct "gated-$cmid" 50%)" "$(pct "gated-$cmid" 99%)"
echo "decisions/s per round: ${drps[*]}; ledger inserts: $batches ($(awk -v r="$rows" -v b="$batches" 'BEGIN {printf "%.1f", r / b}') decisions per insert)"
echo "ratio with/without receipt per round: ${ratios[*]} (median $cmed)"
echo "peak RSS: $rss MB; beacons not stored (should be 0: every receipt is valid): $notstored"
echo "decisions acknowledged: $acked   in consents (FINAL): $rows"
fail=0
[ "$rows" -ge "$acked" ] && echo "every acknowledged decision stored: yes" || { echo "every acknowledged decision stored: NO"; fail=1; }
awk -v r="$dmed" 'BEGIN {exit !(r >= 5000)}' && echo "decisions/s >= 5000: yes" || echo "decisions/s >= 5000: NO"
awk -v p="$(ms "$(pct "decide-$dmid" 99%)")" 'BEGIN {exit !(p <= 100)}' && echo "decision p99 <= 100 ms: yes" || echo "decision p99 <= 100 ms: NO"
[ "$notstored" = 0 ] || fail=1
exit "$fail"

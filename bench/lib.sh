# Shared by the load scripts in bench/ (sourced): ClickHouse, builds, dev keys, a fresh
# database that is dropped at exit, processes stopped at exit, and wrk helpers.
# Everything targets 127.0.0.1 and every run is bounded in time.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/lib.sh
CH_PORT="$CH_TCP_PORT"
DB="bench_$(date +%s)_$$"

command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }
ensure_clickhouse
pids=()
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  clickhouse-client --port "$CH_PORT" -q "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true
  stop_clickhouse_if_started
}
trap bench_cleanup EXIT

mkdir -p var/bench
go build -o var/bench/consentry ./cmd/consentry
KEYS=var/bench/keys.json
var/bench/consentry keys generate --if-missing --out "$KEYS" >/dev/null

# start_consentry PORT SITES [flags…]: serve on a fresh database; sets $full to its pid.
# $CONSENTRY_BIN runs another build instead of the one made above.
start_consentry() {
  local port="$1" sites="$2"
  shift 2
  "${CONSENTRY_BIN:-var/bench/consentry}" serve --listen "127.0.0.1:$port" --clickhouse "clickhouse://127.0.0.1:$CH_PORT/$DB" \
    --sites "$sites" --keys "$KEYS" --data-dir var/bench/data --trusted-proxies 127.0.0.1/32 --log-level warn "$@" 2>>var/bench/consentry.log &
  full=$!
  pids+=("$full")
  wait_up "$port" /readyz
}

wait_up() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$1$2" && return 0; sleep 0.1; done; echo "port $1 did not come up"; exit 1; }
rss_peak_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
# run_wrk PORT NAME SCRIPT [-- script args…]: one bounded wrk run, output kept in
# var/bench/wrk-NAME.txt. $WRK_CONNS overrides $CONNS for the run.
run_wrk() {
  local port="$1" name="$2" script="$3"
  shift 3
  wrk -t1 -c"${WRK_CONNS:-$CONNS}" -d"${DURATION}s" --latency -s "$script" "http://127.0.0.1:$port" "$@" > "var/bench/wrk-$name.txt"
  grep -E "Requests/sec|50%|99%|Non-2xx" "var/bench/wrk-$name.txt"
}
rps() { awk '/Requests\/sec/ {print $2}' "var/bench/wrk-$1.txt"; }
pct() { awk -v p="$2" '$1 == p {print $2}' "var/bench/wrk-$1.txt"; }
completed() { awk '/requests in/ {print $1}' "var/bench/wrk-$1.txt"; }
non2xx() { awk '/Non-2xx/ {print $NF}' "var/bench/wrk-$1.txt" | grep . || echo 0; }
# metric NAME: the sum of a Prometheus metric's samples on the running service.
metric() { curl -s "http://127.0.0.1:$PORT_FULL/metrics" | awk -v m="$1" '$1 ~ "^"m {s += $2} END {printf "%d", s}'; }
# median of the numbers given as arguments
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
ch() { clickhouse-client --port "$CH_PORT" -q "$1"; }

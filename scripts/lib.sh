# Shared by run.sh, test.sh and bench/load.sh (sourced, not run): Go on PATH, and
# ensure_clickhouse, which starts the private ClickHouse unless it already runs and stops
# it again when the calling script exits, but only if this script started it.
export PATH="/usr/local/go/bin:$PATH"
CH_TCP_PORT="${CH_TCP_PORT:-19000}"

ensure_clickhouse() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  CLICKHOUSE_STARTED=0
  if ! "$root/scripts/clickhouse.sh" status >/dev/null 2>&1; then
    "$root/scripts/clickhouse.sh" start
    CLICKHOUSE_STARTED=1
  fi
}

stop_clickhouse_if_started() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ "${CLICKHOUSE_STARTED:-0}" = 1 ]; then "$root/scripts/clickhouse.sh" stop; fi
}

# with_private_clickhouse: ensure_clickhouse, and stop it at exit if this script started it.
with_private_clickhouse() {
  ensure_clickhouse
  trap stop_clickhouse_if_started EXIT
}

# apt_install CMD PACKAGE...: installs the packages with apt unless CMD is on PATH.
apt_install() {
  local cmd="$1"; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  echo "$cmd not found; installing $* with apt" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

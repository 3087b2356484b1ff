#!/usr/bin/env bash
# Runs a private ClickHouse (Debian's clickhouse-server) for development and tests:
# its own config, ports and data dir under $CH_DIR (default var/clickhouse), stopped by PID.
# Usage: scripts/clickhouse.sh start|stop|status|dsn
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/scripts/lib.sh" # apt_install
CH_DIR="${CH_DIR:-$ROOT/var/clickhouse}"
CH_TCP_PORT="${CH_TCP_PORT:-19000}"
CH_HTTP_PORT="${CH_HTTP_PORT:-18123}"
PID_FILE="$CH_DIR/clickhouse.pid"

log() { echo "clickhouse.sh: $*" >&2; }

install_if_missing() { apt_install clickhouse-server clickhouse-server clickhouse-client; }

running() {
  [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

write_config() {
  mkdir -p "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/user_files" "$CH_DIR/log" "$CH_DIR/format_schemas"
  cat >"$CH_DIR/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$CH_DIR/log/clickhouse-server.log</log>
    <errorlog>$CH_DIR/log/clickhouse-server.err.log</errorlog>
    <size>100M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$CH_TCP_PORT</tcp_port>
  <http_port>$CH_HTTP_PORT</http_port>
  <max_connections>1024</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$CH_DIR/data/</path>
  <tmp_path>$CH_DIR/tmp/</tmp_path>
  <user_files_path>$CH_DIR/user_files/</user_files_path>
  <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
  <users_config>$CH_DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_session_timeout>3600</max_session_timeout>
  <default_session_timeout>60</default_session_timeout>
</yandex>
XML
  cat >"$CH_DIR/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default>
  </quotas>
</yandex>
XML
}

wait_ready() {
  local i
  for i in $(seq 1 120); do
    if clickhouse-client --host 127.0.0.1 --port "$CH_TCP_PORT" --query "SELECT 1" >/dev/null 2>&1; then
      return 0
    fi
    if ! running; then
      log "server exited during start; last log lines:"
      tail -n 20 "$CH_DIR/log/clickhouse-server.err.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
  log "server did not become ready in 60s"
  return 1
}

start() {
  install_if_missing
  if running; then
    log "already running (pid $(cat "$PID_FILE")) on tcp port $CH_TCP_PORT"
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$CH_TCP_PORT") 2>/dev/null; then
    log "port $CH_TCP_PORT is already taken by a process this script did not start; set CH_TCP_PORT (and CH_HTTP_PORT) to free ports"
    return 1
  fi
  write_config
  # The server stays in the foreground of its own subshell; we record its PID ourselves.
  (cd "$CH_DIR" && exec clickhouse-server --config-file="$CH_DIR/config.xml" >"$CH_DIR/log/stdout.log" 2>&1) &
  echo $! >"$PID_FILE"
  wait_ready
  log "ready on 127.0.0.1:$CH_TCP_PORT (pid $(cat "$PID_FILE"), data in $CH_DIR)"
}

stop() {
  if ! running; then
    rm -f "$PID_FILE"
    return 0
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped"; return 0; }
    sleep 0.5
  done
  log "pid $pid did not stop in 30s; sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running pid $(cat "$PID_FILE") port $CH_TCP_PORT"; else echo "stopped"; exit 1; fi ;;
  dsn) echo "clickhouse://127.0.0.1:$CH_TCP_PORT/${2:-consentry}" ;;
  *) echo "usage: $0 start|stop|status|dsn [database]" >&2; exit 2 ;;
esac

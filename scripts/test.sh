#!/usr/bin/env bash
# make test: starts the private ClickHouse if it is not running and runs every Go test
# against it (integration tests use their own throw-away databases). Extra arguments go
# to `go test`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="/usr/local/go/bin:$PATH"

started=0
if ! scripts/clickhouse.sh status >/dev/null 2>&1; then
  scripts/clickhouse.sh start
  started=1
fi
cleanup() { if [ "$started" = 1 ]; then scripts/clickhouse.sh stop; fi; }
trap cleanup EXIT

export CONSENTRY_TEST_CLICKHOUSE="clickhouse://127.0.0.1:${CH_TCP_PORT:-19000}"
export CONSENTRY_TEST_REQUIRE_CLICKHOUSE=1
go test -count=1 "${@:-./...}"

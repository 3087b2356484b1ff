#!/usr/bin/env bash
# make test: starts the private ClickHouse if it is not running and runs every Go test
# against it (integration tests use their own throw-away databases). Extra arguments go
# to `go test`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source scripts/lib.sh
ensure_clickhouse
trap stop_clickhouse_if_started EXIT

export CONSENTRY_TEST_CLICKHOUSE="clickhouse://127.0.0.1:$CH_TCP_PORT"
export CONSENTRY_TEST_REQUIRE_CLICKHOUSE=1
go test -count=1 "${@:-./...}"

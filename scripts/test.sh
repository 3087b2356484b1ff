#!/usr/bin/env bash
# make test: starts the private ClickHouse if it is not running and runs every Go test
# against it (integration tests use their own throw-away databases). Extra arguments go
# to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
with_private_clickhouse

export CONSENTRY_TEST_CLICKHOUSE="clickhouse://127.0.0.1:$CH_TCP_PORT"
export CONSENTRY_TEST_REQUIRE_CLICKHOUSE=1
go test -count=1 "${@:-./...}"

#!/usr/bin/env bash
# make test: starts the private ClickHouse if it is not running and runs every Go test
# against it (integration tests use their own throw-away databases). Extra arguments go
# to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
with_private_clickhouse

# Chromium for the banner's tests, and their npm packages (axe-core, page styles, Turbo):
# installed again whenever the lock file is newer than what node_modules holds.
apt_install chromium chromium
if command -v npm >/dev/null && [ scripts/browser/package-lock.json -nt scripts/browser/node_modules/.package-lock.json ]; then
  npm --prefix scripts/browser install --no-audit --no-fund >/dev/null
fi
export CONSENTRY_TEST_CLICKHOUSE="clickhouse://127.0.0.1:$CH_TCP_PORT"
export CONSENTRY_TEST_REQUIRE_CLICKHOUSE=1
go test -count=1 "${@:-./...}"

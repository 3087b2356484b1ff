#!/usr/bin/env bash
# make run: starts a private ClickHouse (scripts/clickhouse.sh), the service with the
# example sites and the demo page of the example shop on http://localhost:8081, and prints
# how to see the rows. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
with_private_clickhouse

go build -o bin/consentry ./cmd/consentry
LISTEN="${CONSENTRY_LISTEN:-127.0.0.1:8080}"
DSN="$(scripts/clickhouse.sh dsn consentry)"
CH_PORT="$CH_TCP_PORT"
# Development keys, made once and kept under the ignored var/; production brings its own.
KEYS=var/dev-keys.json
bin/consentry keys generate --if-missing --out "$KEYS"

cat <<EOF

Consentry is starting on http://$LISTEN with sites.example.yaml (ClickHouse: $DSN).

Open the example shop's demo page in a browser: http://localhost:8081
It embeds the banner (http://$LISTEN/s/shop/banner.js) with a blocked analytics script,
a blocked marketing iframe and a "Cookie settings" button. Choose, then see your decision:

  clickhouse-client --port $CH_PORT -d consentry -q "SELECT decided_at, method, signal, granted, lang FROM consents FINAL WHERE site = 'shop' ORDER BY decided_ms DESC LIMIT 5"

Send a beacon the way a browser on the example site would:

  curl -i http://$LISTEN/v1/collect \\
    -H 'Origin: http://localhost:8081' -H 'Content-Type: text/plain' -H 'Accept-Language: en' \\
    -A 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' \\
    --data '{"site":"shop","type":"pageview","url":"http://localhost:8081/hello/jane@example.com?utm_source=readme&secret=1","referrer":"https://www.google.com/search?q=consent"}'

Then, a second later (batches flush every second), see the anonymized row:

  clickhouse-client --port $CH_PORT -d consentry -q "SELECT ts, site, path, utm_source, referrer_host, browser, os, device, visitor FROM events ORDER BY ts DESC LIMIT 10 FORMAT Vertical"

Add -H 'DNT: 1' to the curl and only a count in the signals table goes up:

  clickhouse-client --port $CH_PORT -d consentry -q "SELECT day, site, signal, sum(count) FROM signals GROUP BY day, site, signal"

Record a consent decision on the blog (a consent-mode site); the answer carries the receipt:

  curl -s http://$LISTEN/v1/consent -H 'Origin: http://localhost:8082' -H 'Content-Type: text/plain' \
    --data '{"site":"blog","method":"accept_all","lang":"en"}'

  clickhouse-client --port $CH_PORT -d consentry -q "SELECT * FROM consents FINAL ORDER BY decided_at DESC LIMIT 5 FORMAT Vertical"

Receipts verify against http://$LISTEN/.well-known/jwks.json. Admin API token:
  bin/consentry token --keys $KEYS --role analyst --ttl 1h

Metrics: http://$LISTEN/metrics   Readiness: http://$LISTEN/readyz   Stop: Ctrl-C

EOF
bin/consentry demo --listen 127.0.0.1:8081 --consent "http://$LISTEN" --site shop &
demo=$!
trap 'kill "$demo" 2>/dev/null; stop_clickhouse_if_started' EXIT
bin/consentry serve --listen "$LISTEN" --clickhouse "$DSN" --sites sites.example.yaml --data-dir var --keys "$KEYS" --log-format text

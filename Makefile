# The two commands a newcomer needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)

.PHONY: run test build lint schema-check bench bench-consent bench-banner clickhouse-start clickhouse-stop fuzz

run: ## ClickHouse + the service with sites.example.yaml on 127.0.0.1:8080
	scripts/run.sh

test: ## every test, against a private ClickHouse 18.16
	scripts/test.sh

build: ## static binary, as the Dockerfile builds it
	CGO_ENABLED=0 go build -o bin/consentry ./cmd/consentry

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	go vet ./...
	staticcheck ./...

schema-check: ## every migration and SCHEMA.md query on current ClickHouse (chdb)
	npm --prefix scripts/chdb install --no-audit --no-fund
	node scripts/chdb/check.mjs

bench: ## load benchmark: full pipeline vs a bare Fiber handler (wrk, 127.0.0.1)
	bench/load.sh

bench-consent: ## consent ledger: durable decisions/s, p50/p99, collect with vs without receipts
	bench/consent.sh

bench-banner: ## the banner's first visit in headless Chromium vs vanilla-cookieconsent: size, script time, visible, DOM, CLS
	bench/banner.sh

fuzz: ## run each fuzz test for 30s
	go test -run '^$$' -fuzz FuzzParseBeacon -fuzztime 30s ./collector/
	go test -run '^$$' -fuzz FuzzScrubURL -fuzztime 30s ./collector/
	go test -run '^$$' -fuzz FuzzParseDecision -fuzztime 30s ./consent/
	go test -run '^$$' -fuzz FuzzVerifyReceipt -fuzztime 30s ./consent/
	go test -run '^$$' -fuzz FuzzChooseLanguage -fuzztime 30s ./banner/

clickhouse-start:
	scripts/clickhouse.sh start

clickhouse-stop:
	scripts/clickhouse.sh stop

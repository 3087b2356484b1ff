// Package chtest gives tests a fresh database on the real ClickHouse that `make test`
// starts (scripts/clickhouse.sh), dropped when the test ends.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/consentry/consentry/schema"
)

// EnvServer names the ClickHouse server tests use, e.g. clickhouse://127.0.0.1:19000.
// EnvRequire=1 (set by make test and CI) turns a missing server into a failure.
const (
	EnvServer  = "CONSENTRY_TEST_CLICKHOUSE"
	EnvRequire = "CONSENTRY_TEST_REQUIRE_CLICKHOUSE"
)

// DSN returns the DSN of a new, uniquely named database (not yet created); whatever
// creates it, the database is dropped when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvServer)
	if base == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s is not set; run the tests with `make test`", EnvServer)
		}
		t.Skipf("integration test needs a real ClickHouse: set %s (make test starts one and sets it)", EnvServer)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test_" + hex.EncodeToString(b[:])
	dsn := strings.TrimRight(base, "/") + "/" + name
	t.Cleanup(func() { drop(t, dsn, name) })
	return dsn
}

// drop removes a test database through the server's default database, so a database
// that was never created is not created just to be dropped.
func drop(t testing.TB, dsn, name string) {
	if os.Getenv("CONSENTRY_TEST_KEEP_DB") != "" {
		return
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Errorf("drop %s: %v", name, err)
		return
	}
	opts.Auth.Database = "default"
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Errorf("drop %s: %v", name, err)
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		t.Errorf("drop %s: %v", name, err)
	}
}

// Open creates a fresh database (dropped when the test ends) and returns its DSN and a
// connection to it. With migrate, every migration is applied.
func Open(t testing.TB, migrate bool) (string, driver.Conn) {
	t.Helper()
	dsn := DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := schema.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { conn.Close() }) // runs before DSN's drop: cleanups go last-in first-out
	if migrate {
		if _, err := schema.Migrate(ctx, conn); err != nil {
			t.Fatalf("migrate test database: %v", err)
		}
	}
	return dsn, conn
}

// Count runs a query returning one count.
func Count(t testing.TB, conn driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// Strings runs a query returning one String column and returns its values in order.
func Strings(t testing.TB, conn driver.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/consentry/consentry/schema"
)

const defaultDSN = "clickhouse://127.0.0.1:9000/consentry"

type migrateConfig struct {
	ClickHouse string
}

func parseMigrate(args []string, getenv func(string) string, stderr io.Writer) (migrateConfig, error) {
	var c migrateConfig
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.ClickHouse, "clickhouse", defaultDSN, "ClickHouse DSN; the database is created if missing")
	if err := parseFlags(fs, args, getenv); err != nil {
		return c, err
	}
	var v validator
	v.dsn("clickhouse", c.ClickHouse)
	return c, v.err()
}

// openMigrated connects (creating the database if missing) and applies pending migrations.
func openMigrated(ctx context.Context, dsn string) (driver.Conn, []uint32, error) {
	conn, err := schema.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	applied, err := schema.Migrate(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, applied, nil
}

func migrate(ctx context.Context, c migrateConfig, stdout io.Writer) error {
	conn, applied, err := openMigrated(ctx, c.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "schema is up to date")
	}
	for _, v := range applied {
		fmt.Fprintf(stdout, "applied migration %04d\n", v)
	}
	return nil
}

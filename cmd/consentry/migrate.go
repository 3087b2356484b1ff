package main

import (
	"context"
	"flag"
	"fmt"
	"io"

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

func migrate(ctx context.Context, c migrateConfig, stdout io.Writer) error {
	conn, err := schema.Open(ctx, c.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	applied, err := schema.Migrate(ctx, conn)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "schema is up to date")
	}
	for _, v := range applied {
		fmt.Fprintf(stdout, "applied migration %04d\n", v)
	}
	return nil
}

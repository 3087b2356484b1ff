// Command consentry serves the consent banner backend and analytics collector.
//
//	consentry serve   --listen :8080 --clickhouse clickhouse://127.0.0.1:9000/consentry --sites sites.yaml
//	consentry migrate --clickhouse clickhouse://127.0.0.1:9000/consentry
//	consentry keys generate --out keys.json
//	consentry keys rotate --keys keys.json
//	consentry token --keys keys.json --role analyst --ttl 1h
//	consentry demo --listen 127.0.0.1:8081 --consent http://127.0.0.1:8080 --site shop
//
// Every flag can also be set by environment variable: CONSENTRY_ and the flag name in
// upper snake case (--trusted-proxies is CONSENTRY_TRUSTED_PROXIES).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: consentry <command> [flags]

commands:
  serve     run the HTTP service (applies pending migrations first)
  migrate   apply pending ClickHouse migrations and exit
  check     validate a sites file as serve would, without starting (--sites FILE)
  keys      generate --out FILE: create the key file (receipt and admin keys)
            rotate --keys FILE: add a new receipt signing key
  token     print an admin API token (--keys FILE --role admin|analyst --ttl 1h)
  demo      serve a demo page embedding a site's banner (--listen 127.0.0.1:8081 --site shop)

Run "consentry <command> -h" for its flags. Every flag can also be set by environment
variable: CONSENTRY_ and the flag name in upper snake case.
`

// Main runs one subcommand until ctx ends and returns the process exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		var cfg serveConfig
		if cfg, err = parseServe(args[1:], getenv, stderr); err == nil {
			err = serve(ctx, cfg, stderr)
		}
	case "migrate":
		var cfg migrateConfig
		if cfg, err = parseMigrate(args[1:], getenv, stderr); err == nil {
			err = migrate(ctx, cfg, stdout)
		}
	case "check":
		err = checkCmd(args[1:], getenv, stdout, stderr)
	case "keys":
		err = keysCmd(args[1:], getenv, stdout, stderr)
	case "token":
		err = tokenCmd(args[1:], getenv, stdout, stderr)
	case "demo":
		err = demoCmd(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "consentry %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

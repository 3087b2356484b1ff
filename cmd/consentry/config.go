package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// envPrefix + the flag name in upper snake case is each flag's environment variable.
const envPrefix = "CONSENTRY_"

// envName returns the environment variable that backs flag name.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command line from its
// environment variable. Every problem is reported at once.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// validator collects configuration errors so all are reported together.
type validator struct{ errs []error }

func (v *validator) check(ok bool, flagName, format string, args ...any) {
	if !ok {
		v.errs = append(v.errs, fmt.Errorf("--%s (%s): %s", flagName, envName(flagName), fmt.Sprintf(format, args...)))
	}
}

func (v *validator) positive(flagName string, n int) {
	v.check(n > 0, flagName, "must be > 0, got %d", n)
}

func (v *validator) err() error { return errors.Join(v.errs...) }

func (v *validator) dsn(flagName, dsn string) {
	_, err := clickhouse.ParseDSN(dsn)
	v.check(dsn != "" && err == nil, flagName, "not a clickhouse DSN (clickhouse://host:port/database): %v", err)
}

// parsePrefixes reads a comma-separated list of CIDRs or single addresses.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is neither a CIDR nor an IP address", part))
			continue
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, errors.Join(errs...)
}

// ensureDir creates dir if needed and checks it is writable.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

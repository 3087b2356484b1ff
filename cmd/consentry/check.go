package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/consentry/consentry/banner"
	"github.com/consentry/consentry/consent"
)

// checkCmd validates a sites file as serve would at start (sites, categories, banner
// texts in every offered language), without ClickHouse or keys, so that an operator can
// check a change before restarting a service that would refuse it. It prints what serve
// would warn of, and a line per site.
func checkCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("sites", "sites.yaml", "sites file (YAML)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	sites, err := consent.LoadSites(*file)
	if err != nil {
		return err
	}
	banners, err := banner.New(sites)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	for _, w := range banners.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	for _, s := range sites.All() {
		langs := banners.Languages(s.ID)
		fmt.Fprintf(stdout, "site %s: policy_version %s, %s analytics, banner in %d languages (default %s)\n", s.ID, s.PolicyVersion, s.AnalyticsMode, len(langs), langs[0])
	}
	fmt.Fprintf(stdout, "%s: ok\n", *file)
	return nil
}

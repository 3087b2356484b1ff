package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/consentry/consentry/banner"
	"github.com/consentry/consentry/collector"
	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/retention"
	"github.com/consentry/consentry/server"
)

type serveConfig struct {
	Listen            string
	ClickHouse        string
	SitesFile         string
	TrustedProxiesRaw string
	DataDir           string
	MaxBody           int
	Limits            collector.Limits
	DecisionLimits    consent.DecisionLimits
	KeysFile          string
	Consent           consent.ServiceConfig
	ConsentTimeout    time.Duration
	RateLimit         int
	RateClients       int
	Writer            collector.WriterConfig
	UACache           int
	SaltRefresh       time.Duration
	RetentionInterval time.Duration
	ShutdownTimeout   time.Duration
	LogLevel          string
	LogFormat         string
	BannerMaxAge      time.Duration

	sites          *consent.Sites
	banners        *banner.Banners
	keys           *consent.KeySet
	trustedProxies []netip.Prefix
}

func parseServe(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	c := serveConfig{
		Limits: collector.DefaultLimits, Writer: collector.DefaultWriterConfig, DecisionLimits: consent.DefaultDecisionLimits,
		Consent: consent.ServiceConfig{Ledger: consent.DefaultLedgerConfig},
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", ":8080", "address to listen on")
	fs.StringVar(&c.ClickHouse, "clickhouse", defaultDSN, "ClickHouse DSN; the database is created if missing")
	fs.StringVar(&c.SitesFile, "sites", "sites.yaml", "sites file (YAML)")
	fs.StringVar(&c.TrustedProxiesRaw, "trusted-proxies", "", "comma-separated CIDRs/IPs whose X-Forwarded-For is believed")
	fs.StringVar(&c.DataDir, "data-dir", "./var", "directory for local state")
	fs.IntVar(&c.MaxBody, "max-body", 8192, "max request body bytes")
	fs.IntVar(&c.Limits.MaxURL, "max-url", c.Limits.MaxURL, "max bytes of a beacon's url and referrer")
	fs.IntVar(&c.Limits.MaxName, "max-name", c.Limits.MaxName, "max bytes of an event name")
	fs.IntVar(&c.Limits.MaxProps, "max-props", c.Limits.MaxProps, "max properties per event")
	fs.IntVar(&c.Limits.MaxPropKey, "max-prop-key", c.Limits.MaxPropKey, "max bytes of a property name")
	fs.IntVar(&c.Limits.MaxPropValue, "max-prop-value", c.Limits.MaxPropValue, "max bytes of a property value")
	fs.IntVar(&c.Limits.MaxReceipt, "max-receipt", c.Limits.MaxReceipt, "max bytes of a consent receipt in a beacon or decision")
	fs.IntVar(&c.DecisionLimits.MaxBannerVersion, "max-banner-version", c.DecisionLimits.MaxBannerVersion, "max bytes of a decision's banner_version")
	fs.StringVar(&c.KeysFile, "keys", "", "key file from `consentry keys generate` (required: there is no default key)")
	fs.StringVar(&c.Consent.Issuer, "issuer", "consentry", "iss of receipts and admin tokens, e.g. this service's public URL")
	fs.IntVar(&c.Consent.ReceiptCache, "receipt-cache", 10_000, "verified receipts kept in memory")
	fs.IntVar(&c.Consent.Ledger.MaxBatch, "consent-batch", c.Consent.Ledger.MaxBatch, "max decisions per ledger insert")
	fs.IntVar(&c.Consent.Ledger.Committers, "consent-committers", c.Consent.Ledger.Committers, "ledger inserts in flight at once")
	fs.DurationVar(&c.Consent.Ledger.MaxWait, "consent-wait", c.Consent.Ledger.MaxWait, "how long a decision waits for others to share its insert (0: none)")
	fs.IntVar(&c.Consent.Ledger.MaxWaiting, "consent-waiting", c.Consent.Ledger.MaxWaiting, "decisions waiting for an insert before answering 503")
	fs.DurationVar(&c.ConsentTimeout, "consent-timeout", 5*time.Second, "how long a decision may wait to become durable before answering 503")
	fs.DurationVar(&c.Consent.RevocationRefresh, "revocation-refresh", 5*time.Second, "how often withdrawals made on other replicas are read")
	fs.DurationVar(&c.Consent.StatsInterval, "stats-interval", 10*time.Second, "how often consent_daily is fed with the latest decisions")
	fs.DurationVar(&c.Consent.ErasurePoll, "erasure-wait", 3*time.Second, "how long an erasure waits for ClickHouse's delete before answering 202")
	fs.IntVar(&c.RateLimit, "rate-limit", 20, "max requests per second per client (0 disables)")
	fs.IntVar(&c.RateClients, "rate-clients", 100_000, "max clients tracked per rate window")
	fs.IntVar(&c.Writer.QueueSize, "queue-size", c.Writer.QueueSize, "events held in memory before answering 503")
	fs.IntVar(&c.Writer.BatchRows, "batch-rows", c.Writer.BatchRows, "flush when this many events are pending")
	fs.DurationVar(&c.Writer.FlushInterval, "flush-interval", c.Writer.FlushInterval, "flush at least this often")
	fs.DurationVar(&c.Writer.InsertTimeout, "insert-timeout", c.Writer.InsertTimeout, "timeout of one insert attempt")
	fs.IntVar(&c.UACache, "ua-cache", 10_000, "user agents kept in the parse cache")
	fs.DurationVar(&c.SaltRefresh, "salt-refresh", 5*time.Minute, "how often salts are re-read and old ones deleted")
	fs.DurationVar(&c.RetentionInterval, "retention-interval", 24*time.Hour, "how often expired partitions are dropped")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "time to finish requests and drain the queue on SIGTERM")
	fs.DurationVar(&c.BannerMaxAge, "banner-max-age", 5*time.Minute, "how long browsers may cache /s/SITE/banner.js without its v parameter (with it: a year)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
	if err := parseFlags(fs, args, getenv); err != nil {
		return c, err
	}
	return c, c.validate()
}

// validate checks every setting and loads the sites file, reporting all problems at once.
func (c *serveConfig) validate() error {
	var v validator
	_, _, err := net.SplitHostPort(c.Listen)
	v.check(err == nil, "listen", "not host:port: %v", err)
	v.dsn("clickhouse", c.ClickHouse)
	for _, f := range []struct {
		name string
		n    int
	}{
		{"max-body", c.MaxBody}, {"max-url", c.Limits.MaxURL}, {"max-name", c.Limits.MaxName},
		{"max-props", c.Limits.MaxProps}, {"max-prop-key", c.Limits.MaxPropKey}, {"max-prop-value", c.Limits.MaxPropValue},
		{"rate-clients", c.RateClients}, {"queue-size", c.Writer.QueueSize}, {"batch-rows", c.Writer.BatchRows}, {"ua-cache", c.UACache},
		{"max-receipt", c.Limits.MaxReceipt}, {"max-banner-version", c.DecisionLimits.MaxBannerVersion},
		{"consent-batch", c.Consent.Ledger.MaxBatch}, {"consent-committers", c.Consent.Ledger.Committers}, {"consent-waiting", c.Consent.Ledger.MaxWaiting},
	} {
		v.positive(f.name, f.n)
	}
	v.check(c.RateLimit >= 0, "rate-limit", "must be >= 0")
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"flush-interval", c.Writer.FlushInterval}, {"insert-timeout", c.Writer.InsertTimeout}, {"salt-refresh", c.SaltRefresh},
		{"retention-interval", c.RetentionInterval}, {"shutdown-timeout", c.ShutdownTimeout},
		{"consent-timeout", c.ConsentTimeout}, {"revocation-refresh", c.Consent.RevocationRefresh}, {"erasure-wait", c.Consent.ErasurePoll},
		{"stats-interval", c.Consent.StatsInterval}, {"banner-max-age", c.BannerMaxAge},
	} {
		v.check(f.d > 0, f.name, "must be a positive duration")
	}
	v.check(c.Consent.Ledger.MaxWait >= 0 && c.Consent.Ledger.MaxWait < c.ConsentTimeout, "consent-wait", "must be >= 0 and shorter than --consent-timeout")
	v.check(c.Consent.ReceiptCache >= 0, "receipt-cache", "must be >= 0")
	v.check(c.Consent.Issuer != "", "issuer", "must not be empty")
	c.DecisionLimits.MaxReceipt = c.Limits.MaxReceipt
	c.Consent.Ledger.InsertTimeout = c.Writer.InsertTimeout
	// An acknowledged decision is visible at most one attempt after its request gave up.
	c.Consent.StatsOverlap = c.ConsentTimeout + c.Writer.InsertTimeout + time.Minute
	if c.KeysFile == "" {
		v.check(false, "keys", "is required: create one with `consentry keys generate --out FILE`")
	} else {
		c.keys, err = consent.LoadKeySet(c.KeysFile)
		v.check(err == nil, "keys", "%v", err)
	}
	var level slog.Level
	v.check(level.UnmarshalText([]byte(c.LogLevel)) == nil, "log-level", "must be debug, info, warn or error")
	v.check(c.LogFormat == "json" || c.LogFormat == "text", "log-format", "must be json or text")
	c.trustedProxies, err = parsePrefixes(c.TrustedProxiesRaw)
	v.check(err == nil, "trusted-proxies", "%v", err)
	err = ensureDir(c.DataDir)
	v.check(err == nil, "data-dir", "not a writable directory: %v", err)
	c.sites, err = consent.LoadSites(c.SitesFile)
	v.check(err == nil, "sites", "%v", err)
	if c.sites != nil {
		c.banners, err = banner.New(c.sites)
		v.check(err == nil, "sites", "%s: %v", c.SitesFile, err)
	}
	return v.err()
}

func (c *serveConfig) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// serve runs until ctx ends, then shuts down in order: stop accepting and finish
// requests, then drain the queue into ClickHouse under a fresh timeout.
func serve(ctx context.Context, c serveConfig, logOut io.Writer) error {
	log := c.logger(logOut)
	for _, w := range c.banners.Warnings() {
		log.Warn("banner text missing from the sites file", "detail", w)
	}
	conn, applied, err := openMigrated(ctx, c.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	if len(applied) > 0 {
		log.Info("applied migrations", "versions", applied)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bg, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	// The banners go to the ledger once, at start, and are not kept in c.
	cfg := c.Consent
	if cfg.Banners, err = c.banners.Versions(); err != nil {
		return err
	}
	ledger, err := consent.Start(bg, conn, c.sites, c.keys, cfg, reg, log)
	if err != nil {
		return err
	}
	svc, err := collector.Start(bg, conn, collector.ServiceConfig{Writer: c.Writer, UACache: c.UACache, SaltRefresh: c.SaltRefresh, Permits: ledger}, reg, log)
	if err != nil {
		return err
	}
	writer := svc.Writer
	go retention.New(conn, c.sites, nil, log).Run(bg, c.RetentionInterval)
	jwks, err := c.keys.JWKS()
	if err != nil {
		return err
	}

	app := server.New(server.Config{
		MaxBody: c.MaxBody, Limits: c.Limits, DecisionLimits: c.DecisionLimits, ConsentTimeout: c.ConsentTimeout,
		RateLimit: c.RateLimit, RateClients: c.RateClients,
		TrustedProxies: c.trustedProxies, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		BannerMaxAge: c.BannerMaxAge,
	}, server.Deps{Sites: c.sites, Banners: c.banners, Collector: svc, Consent: ledger, AdminData: ledger,
		Admin: consent.NewAdminTokens(c.keys, c.Consent.Issuer, nil), JWKS: jwks, Ready: conn.Ping, Registry: reg, Log: log})

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		_ = ledger.Ledger.Close(context.Background())
		_ = writer.Close(context.Background())
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "sites", len(c.sites.All()))
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()

	select {
	case err = <-served:
		log.Error("server stopped", "err", err)
	case <-ctx.Done():
		log.Info("shutting down")
	}
	if sErr := app.ShutdownWithTimeout(c.ShutdownTimeout); sErr != nil {
		log.Error("http shutdown", "err", sErr)
	}
	stopBackground()
	drainCtx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if lErr := ledger.Ledger.Close(drainCtx); lErr != nil {
		err = errors.Join(err, lErr)
	}
	if wErr := writer.Close(drainCtx); wErr != nil {
		return errors.Join(err, wErr)
	}
	log.Info("stopped; queue drained")
	return err
}

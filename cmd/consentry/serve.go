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
	RateLimit         int
	RateClients       int
	Writer            collector.WriterConfig
	UACache           int
	SaltRefresh       time.Duration
	RetentionInterval time.Duration
	ShutdownTimeout   time.Duration
	LogLevel          string
	LogFormat         string

	sites          *consent.Sites
	trustedProxies []netip.Prefix
}

func parseServe(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	c := serveConfig{Limits: collector.DefaultLimits, Writer: collector.DefaultWriterConfig}
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
	} {
		v.check(f.d > 0, f.name, "must be a positive duration")
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
	svc, err := collector.Start(bg, conn, collector.ServiceConfig{Writer: c.Writer, UACache: c.UACache, SaltRefresh: c.SaltRefresh}, reg, log)
	if err != nil {
		return err
	}
	writer := svc.Writer
	go retention.New(conn, c.sites, nil, log).Run(bg, c.RetentionInterval)

	app := server.New(server.Config{
		MaxBody: c.MaxBody, Limits: c.Limits, RateLimit: c.RateLimit, RateClients: c.RateClients,
		TrustedProxies: c.trustedProxies, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
	}, server.Deps{Sites: c.sites, Collector: svc, Ready: conn.Ping, Registry: reg, Log: log})

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
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
	if wErr := writer.Close(drainCtx); wErr != nil {
		return errors.Join(err, wErr)
	}
	log.Info("stopped; queue drained")
	return err
}

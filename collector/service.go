package collector

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
)

// ServiceConfig configures a Service.
type ServiceConfig struct {
	Writer      WriterConfig
	UACache     int              // user agents kept in the parse cache
	SaltRefresh time.Duration    // how often salts are re-read and old ones deleted
	Permits     Permitter        // consent receipts of consent-mode sites
	Now         func() time.Time // clock; time.Now if nil
}

// Service is the collector wired to ClickHouse: salts loaded, writer loop running.
type Service struct {
	*Collector
	Writer *Writer
}

// Start loads today's and tomorrow's salts, starts the writer and, until ctx ends, the
// salt refresh loop. Close the Writer to drain it on shutdown.
func Start(ctx context.Context, conn driver.Conn, cfg ServiceConfig, reg prometheus.Registerer, log *slog.Logger) (*Service, error) {
	store := NewClickHouse(conn)
	hasher := NewHasher(store, cfg.Now)
	if err := hasher.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("load salts: %w", err)
	}
	agents, err := NewAgentParser(cfg.UACache)
	if err != nil {
		return nil, fmt.Errorf("user-agent cache: %w", err)
	}
	metrics := NewMetrics(reg)
	writer := NewWriter(cfg.Writer, store, log, metrics)
	if cfg.SaltRefresh > 0 {
		go hasher.Run(ctx, cfg.SaltRefresh, func(err error) { log.Error("salt refresh failed", "err", err) })
	}
	return &Service{Collector: New(agents, hasher, writer, cfg.Permits, metrics, cfg.Now), Writer: writer}, nil
}

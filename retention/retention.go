// Package retention deletes analytics data older than each site's retention_days by
// dropping whole ClickHouse partitions (ClickHouse 18.16 has no TTL).
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/schema"
)

// tables lists every table holding per-site data; each is partitioned by
// (site, toYYYYMMDD(day)), so a partition is one site's day.
var tables = []string{"events", "signals"}

// Job drops expired partitions.
type Job struct {
	conn  driver.Conn
	sites *consent.Sites
	now   func() time.Time
	log   *slog.Logger
}

// New returns a Job; now is the clock (time.Now if nil).
func New(conn driver.Conn, sites *consent.Sites, now func() time.Time, log *slog.Logger) *Job {
	if now == nil {
		now = time.Now
	}
	return &Job{conn: conn, sites: sites, now: now, log: log}
}

var partitionValue = regexp.MustCompile(`^\('([a-z0-9_-]+)',(\d{8})\)$`)

// RunOnce drops every partition whose day is older than its site's retention; a site no
// longer in the sites file gets the default retention. It returns the dropped partitions
// as "table/value".
func (j *Job) RunOnce(ctx context.Context) ([]string, error) {
	now := j.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	var dropped []string
	for _, t := range tables {
		parts, err := schema.Partitions(ctx, j.conn, t)
		if err != nil {
			return dropped, err
		}
		for _, p := range parts {
			m := partitionValue.FindStringSubmatch(p.Value)
			if m == nil {
				return dropped, fmt.Errorf("retention: %s partition %s has an unexpected key", t, p.Value)
			}
			days := consent.DefaultRetentionDays
			if s := j.sites.Lookup(m[1]); s != nil {
				days = s.RetentionDays
			}
			day, err := time.Parse("20060102", m[2])
			if err != nil {
				return dropped, fmt.Errorf("retention: %s partition %s: %w", t, p.Value, err)
			}
			if !day.Before(today.AddDate(0, 0, -days)) {
				continue
			}
			if err := schema.DropPartition(ctx, j.conn, t, p.ID); err != nil {
				return dropped, err
			}
			dropped = append(dropped, t+"/"+p.Value)
		}
	}
	return dropped, nil
}

// Run calls RunOnce now and then every interval until ctx ends.
func (j *Job) Run(ctx context.Context, interval time.Duration) {
	for {
		dropped, err := j.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			j.log.Error("retention run failed", "err", err)
		case len(dropped) > 0:
			j.log.Info("retention dropped partitions", "partitions", dropped)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

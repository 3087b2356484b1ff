// Package retention deletes data older than its retention by dropping whole ClickHouse
// partitions (ClickHouse 18.16 has no TTL): analytics after each site's retention_days,
// consent records after its consent_retention_days.
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

// table says how one table is partitioned and how long each partition is kept.
type table struct {
	name string
	// keep returns the days to keep data of site ("" for tables without a site).
	keep func(j *Job, site string) int
}

// tables lists every table that holds data over time. Per-site tables are partitioned
// by (site, toYYYYMMDD(day)) or (site, toYYYYMM(day)), the others by toYYYYMM(day).
var tables = []table{
	{"events", (*Job).analyticsDays},
	{"signals", (*Job).analyticsDays},
	{"consent_daily", (*Job).analyticsDays},
	{"consents", (*Job).consentDays},
	// A revocation matters only while a receipt it revokes can still be unexpired.
	{"revocations", func(*Job, string) int { return consent.MaxConsentMaxAge + 1 }},
	// The anonymous count of erasures is evidence like the consent records it replaced.
	{"erasures", (*Job).longestConsentDays},
}

func (j *Job) analyticsDays(site string) int {
	if s := j.sites.Lookup(site); s != nil {
		return s.RetentionDays
	}
	return consent.DefaultRetentionDays
}

func (j *Job) consentDays(site string) int {
	if s := j.sites.Lookup(site); s != nil {
		return s.ConsentRetentionDays
	}
	return consent.DefaultConsentRetentionDays
}

func (j *Job) longestConsentDays(string) int {
	days := consent.DefaultConsentRetentionDays
	for _, s := range j.sites.All() {
		days = max(days, s.ConsentRetentionDays)
	}
	return days
}

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

// partitionValue matches ('site',20261124), ('site',202611) and 202611.
var partitionValue = regexp.MustCompile(`^(?:\('([a-z0-9_-]+)',(\d{6}|\d{8})\)|(\d{6}))$`)

// period parses a partition value into its site ("" if none) and the first day after
// the period it holds.
func period(value string) (string, time.Time, error) {
	m := partitionValue.FindStringSubmatch(value)
	if m == nil {
		return "", time.Time{}, fmt.Errorf("unexpected partition key %s", value)
	}
	site, digits := m[1], m[2]
	if digits == "" {
		digits = m[3]
	}
	if len(digits) == 8 {
		day, err := time.Parse("20060102", digits)
		return site, day.AddDate(0, 0, 1), err
	}
	month, err := time.Parse("200601", digits)
	return site, month.AddDate(0, 1, 0), err
}

// RunOnce drops every partition all of whose days are older than the table's retention
// for its site; a site no longer in the sites file gets the default retention. It
// returns the dropped partitions as "table/value".
func (j *Job) RunOnce(ctx context.Context) ([]string, error) {
	now := j.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	var dropped []string
	for _, t := range tables {
		parts, err := schema.Partitions(ctx, j.conn, t.name)
		if err != nil {
			return dropped, err
		}
		for _, p := range parts {
			site, end, err := period(p.Value)
			if err != nil {
				return dropped, fmt.Errorf("retention: %s: %w", t.name, err)
			}
			if end.After(today.AddDate(0, 0, -t.keep(j, site))) {
				continue
			}
			if err := schema.DropPartition(ctx, j.conn, t.name, p.ID); err != nil {
				return dropped, err
			}
			dropped = append(dropped, t.name+"/"+p.Value)
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

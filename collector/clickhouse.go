package collector

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/consentry/consentry/schema"
)

// ClickHouse stores batches and salts in ClickHouse. It implements Sink and SaltStore.
type ClickHouse struct {
	conn driver.Conn
}

// NewClickHouse wraps an open connection whose database has been migrated.
func NewClickHouse(conn driver.Conn) *ClickHouse { return &ClickHouse{conn: conn} }

// Explicit column lists: ClickHouse 18.16 needs them in PrepareBatch inserts.
const (
	insertEvents = `INSERT INTO events (ts, site, type, name, host, path, query, referrer_host,
		utm_source, utm_medium, utm_campaign, utm_term, utm_content, visitor,
		browser, browser_version, os, device, prop_keys, prop_values)`
	insertSignals = `INSERT INTO signals (day, site, signal, count)`
)

// WriteEvents inserts rows as one batch, column by column: appending whole columns
// avoids clickhouse-go's per-value reflection of row-wise Append.
func (c *ClickHouse) WriteEvents(ctx context.Context, rows []Event) error {
	batch, err := c.conn.PrepareBatch(ctx, insertEvents)
	if err != nil {
		return fmt.Errorf("prepare events batch: %w", err)
	}
	defer batch.Close()
	str := func(f func(*Event) string) []string { return column(rows, f) }
	cols := []any{ // in the order of insertEvents
		column(rows, func(e *Event) time.Time { return e.Time }),
		str(func(e *Event) string { return e.Site }),
		str(func(e *Event) string { return e.Type }),
		str(func(e *Event) string { return e.Name }),
		str(func(e *Event) string { return e.Host }),
		str(func(e *Event) string { return e.Path }),
		str(func(e *Event) string { return e.Query }),
		str(func(e *Event) string { return e.ReferrerHost }),
		str(func(e *Event) string { return e.UTM.Source }),
		str(func(e *Event) string { return e.UTM.Medium }),
		str(func(e *Event) string { return e.UTM.Campaign }),
		str(func(e *Event) string { return e.UTM.Term }),
		str(func(e *Event) string { return e.UTM.Content }),
		column(rows, func(e *Event) uint64 { return e.Visitor }),
		str(func(e *Event) string { return e.Browser }),
		str(func(e *Event) string { return e.BrowserVersion }),
		str(func(e *Event) string { return e.OS }),
		str(func(e *Event) string { return e.Device }),
		column(rows, func(e *Event) []string { return nonNil(e.PropKeys) }),
		column(rows, func(e *Event) []string { return nonNil(e.PropValues) }),
	}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("append events column %d: %w", i, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send events batch: %w", err)
	}
	return nil
}

// column extracts one field of every row.
func column[T any](rows []Event, f func(*Event) T) []T {
	out := make([]T, len(rows))
	for i := range rows {
		out[i] = f(&rows[i])
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// WriteSignals inserts anonymous signal counts as one batch.
func (c *ClickHouse) WriteSignals(ctx context.Context, rows []SignalCount) error {
	batch, err := c.conn.PrepareBatch(ctx, insertSignals)
	if err != nil {
		return fmt.Errorf("prepare signals batch: %w", err)
	}
	defer batch.Close()
	for _, r := range rows {
		if err := batch.Append(r.Day, r.Site, r.Signal, r.Count); err != nil {
			return fmt.Errorf("append signal: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send signals batch: %w", err)
	}
	return nil
}

// AgreeSalt implements SaltStore: insert candidate if the day has no salt, then return the
// smallest salt stored for the day. Two replicas racing may both insert; both then read the
// same minimum once both rows are visible, and Hasher.Refresh re-reads every few minutes.
func (c *ClickHouse) AgreeSalt(ctx context.Context, day time.Time, candidate Salt) (Salt, error) {
	s, found, err := c.minSalt(ctx, day)
	if err != nil || found {
		return s, err
	}
	err = schema.InsertRow(ctx, c.conn, "INSERT INTO salts (day, salt, created_at)",
		day, hex.EncodeToString(candidate[:]), time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return Salt{}, fmt.Errorf("insert salt: %w", err)
	}
	s, found, err = c.minSalt(ctx, day)
	if err == nil && !found {
		err = fmt.Errorf("salt for %s not readable after insert", day.Format(time.DateOnly))
	}
	return s, err
}

func (c *ClickHouse) minSalt(ctx context.Context, day time.Time) (Salt, bool, error) {
	var n uint64
	var text string
	err := c.conn.QueryRow(ctx, "SELECT count(), min(salt) FROM salts WHERE day = toDate(?)", day.Format(time.DateOnly)).Scan(&n, &text)
	if err != nil {
		return Salt{}, false, fmt.Errorf("read salt: %w", err)
	}
	if n == 0 {
		return Salt{}, false, nil
	}
	var s Salt
	raw, err := hex.DecodeString(text)
	if err != nil || len(raw) != len(s) {
		return Salt{}, false, fmt.Errorf("stored salt for %s is malformed", day.Format(time.DateOnly))
	}
	copy(s[:], raw)
	return s, true, nil
}

// DeleteSaltsBefore implements SaltStore by dropping the day partitions before day.
func (c *ClickHouse) DeleteSaltsBefore(ctx context.Context, day time.Time) error {
	parts, err := schema.Partitions(ctx, c.conn, "salts")
	if err != nil {
		return err
	}
	cutoff := day.Format("20060102")
	for _, p := range parts {
		if p.Value < cutoff { // partition values are YYYYMMDD numbers: same length, so text order works
			if err := schema.DropPartition(ctx, c.conn, "salts", p.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

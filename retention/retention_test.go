package retention

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/consentry/consentry/collector"
	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/internal/chtest"
	"github.com/consentry/consentry/schema"
)

func TestRetentionDropsOldPartitionsOnly(t *testing.T) {
	ctx := context.Background()
	_, conn := chtest.Open(t, true)
	sites, err := consent.ParseSites("t.yaml", []byte(`
sites:
  - {id: shop, origins: ["https://shop.example"], policy_version: v1, retention_days: 30, categories: [{id: necessary, required: true}]}
  - {id: blog, origins: ["https://blog.example"], policy_version: v1, retention_days: 395, categories: [{id: necessary, required: true}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	day := func(daysAgo int) time.Time { return time.Date(2026, 11, 24-daysAgo, 12, 0, 0, 0, time.UTC) }
	ev := func(site string, daysAgo int) collector.Event {
		return collector.Event{Time: day(daysAgo), Site: site, Type: "pageview", Path: "/"}
	}
	store := collector.NewClickHouse(conn)
	if err := store.WriteEvents(ctx, []collector.Event{
		ev("shop", 31), // older than 30 days: dropped
		ev("shop", 30), // exactly 30 days ago: kept
		ev("shop", 1),
		ev("blog", 31), // blog keeps 395 days
		ev("blog", 396),
		ev("gone", 396), // a site removed from the file gets the default 395 days
		ev("gone", 100),
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.WriteSignals(ctx, []collector.SignalCount{
		{Day: time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC), Site: "shop", Signal: "dnt", Count: 1}, // 31 days ago: dropped
		{Day: time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), Site: "shop", Signal: "dnt", Count: 1}, // 30 days ago: kept
		{Day: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Site: "shop", Signal: "gpc", Count: 1},
	}); err != nil {
		t.Fatal(err)
	}
	job, dropped := runRetention(t, conn, sites, now)
	want := []string{"events/('blog',20251024)", "events/('gone',20251024)", "events/('shop',20261024)", "signals/('shop',20261024)"}
	if len(dropped) != len(want) {
		t.Fatalf("dropped %v, want %v", dropped, want)
	}
	for i := range want {
		if dropped[i] != want[i] {
			t.Fatalf("dropped %v, want %v", dropped, want)
		}
	}
	for q, n := range map[string]uint64{
		"SELECT count() FROM events WHERE site = 'shop'":                                            2,
		"SELECT count() FROM events WHERE site = 'blog'":                                            1,
		"SELECT count() FROM events WHERE site = 'gone'":                                            1,
		"SELECT count() FROM signals WHERE site = 'shop'":                                           2,
		"SELECT count() FROM events WHERE ts < toDateTime('2026-10-25 00:00:00') AND site = 'shop'": 0,
	} {
		if got := chtest.Count(t, conn, q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
	// A second run finds nothing more to drop.
	if again, err := job.RunOnce(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second run dropped %v (err %v)", again, err)
	}
}

// runRetention runs one retention pass at now and returns the job and what it dropped, sorted.
func runRetention(t *testing.T, conn driver.Conn, sites *consent.Sites, now time.Time) (*Job, []string) {
	t.Helper()
	job := New(conn, sites, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	dropped, err := job.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dropped)
	return job, dropped
}

func TestRetentionOfConsentRecords(t *testing.T) {
	ctx := context.Background()
	_, conn := chtest.Open(t, true)
	sites, err := consent.ParseSites("t.yaml", []byte(`
sites:
  - {id: shop, origins: ["https://shop.example"], policy_version: v1, retention_days: 30, consent_retention_days: 400, categories: [{id: necessary, required: true}]}
  - {id: blog, origins: ["https://blog.example"], policy_version: v1, categories: [{id: necessary, required: true}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	ago := func(days int) time.Time { return time.Date(2026, 11, 24-days, 12, 0, 0, 0, time.UTC) }
	decision := func(site string, at time.Time) consent.Decision {
		return consent.Decision{ID: consent.NewID(), ConsentID: consent.NewID(), Site: site, PolicyVersion: "v1", Method: consent.MethodAcceptAll,
			Signal: consent.SignalNone, GrantedIDs: []string{"necessary"}, DecidedAt: at, ExpiresAt: at.AddDate(0, 0, 182)}
	}
	store := consent.NewStore(conn)
	if err := store.WriteDecisions(ctx, []consent.Decision{
		decision("shop", ago(401)), // older than shop's 400 days of consent records: dropped
		decision("shop", ago(400)), // kept
		decision("shop", ago(31)),  // kept: analytics retention does not apply to proof
		decision("blog", ago(401)), // blog keeps the default 1095 days
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.Feed(ctx, ago(500)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		insert string
		values []any
	}{
		{"INSERT INTO revocations (revoked_at, digest, site, reason)", []any{time.Date(2025, 9, 15, 0, 0, 0, 0, time.UTC), "aa", "shop", "withdraw"}},  // month ends before now - 396 days: dropped
		{"INSERT INTO revocations (revoked_at, digest, site, reason)", []any{time.Date(2025, 10, 20, 0, 0, 0, 0, time.UTC), "bb", "shop", "withdraw"}}, // a receipt may still live: kept
		{"INSERT INTO erasures (day, site, count)", []any{time.Date(2023, 10, 1, 0, 0, 0, 0, time.UTC), "shop", uint64(1)}},                            // older than the longest consent retention (1095 days): dropped
		{"INSERT INTO erasures (day, site, count)", []any{time.Date(2023, 11, 30, 0, 0, 0, 0, time.UTC), "shop", uint64(1)}},
	} {
		if err := schema.InsertRow(ctx, conn, r.insert, r.values...); err != nil {
			t.Fatal(err)
		}
	}
	_, dropped := runRetention(t, conn, sites, now)
	want := []string{
		// Anonymous counts follow retention_days, a month at a time: shop (30 days) loses
		// October 2025; blog (395 days) keeps it until all of it is 395 days old.
		"consent_daily/('shop',202510)",
		"consents/('shop',20251019)",
		"erasures/202310",
		"revocations/202509",
	}
	if strings.Join(dropped, " ") != strings.Join(want, " ") {
		t.Fatalf("dropped %v, want %v", dropped, want)
	}
	for q, n := range map[string]uint64{
		"SELECT count() FROM consents WHERE site = 'shop'":                        2,
		"SELECT count() FROM consents WHERE site = 'blog'":                        1,
		"SELECT count() FROM revocations":                                         1,
		"SELECT sum(count) FROM erasures":                                         1,
		"SELECT uniqExactMerge(decisions) FROM consent_daily WHERE site = 'shop'": 1, // 31 days ago: October 2026 is kept whole
	} {
		if got := chtest.Count(t, conn, q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
}

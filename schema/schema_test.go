package schema_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/consentry/consentry/collector"
	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/internal/chtest"
	"github.com/consentry/consentry/schema"
)

func TestSplitStatements(t *testing.T) {
	got := schema.SplitStatements("-- comment\nCREATE TABLE a (x UInt8)\nENGINE = Memory;\n\n-- two\nCREATE TABLE b (y String) ENGINE = Memory;\nSELECT 1")
	want := []string{"CREATE TABLE a (x UInt8)\nENGINE = Memory", "CREATE TABLE b (y String) ENGINE = Memory", "SELECT 1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
}

func TestMigrationsAreIdempotentDDL(t *testing.T) {
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 {
		t.Fatalf("want at least 3 migrations, got %d", len(ms))
	}
	for _, m := range ms {
		for _, s := range m.Statements {
			// ClickHouse has no transactions: a statement re-run by a racing migrator must be harmless.
			if !strings.Contains(strings.ToUpper(s), "IF NOT EXISTS") {
				t.Errorf("migration %04d_%s: statement is not idempotent: %.60s", m.Version, m.Name, s)
			}
		}
	}
}

func tables(t *testing.T, conn driver.Conn) []string {
	t.Helper()
	return chtest.Strings(t, conn, "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn, conn := chtest.Open(t, false)
	ms, _ := schema.Migrations()

	// Four processes start at once on an empty database.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := schema.Open(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_, err = schema.Migrate(ctx, c)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	want := []string{"banner_versions", "consent_daily", "consent_daily_mv", "consent_feed", "consents", "erasures", "events", "revocations", "salts", "schema_migrations", "signals", "site_policies"}
	if got := tables(t, conn); !reflect.DeepEqual(got, want) {
		t.Fatalf("tables %v, want %v", got, want)
	}
	if n := chtest.Count(t, conn, "SELECT uniqExact(version) FROM schema_migrations"); n != uint64(len(ms)) {
		t.Fatalf("%d versions recorded, want %d", n, len(ms))
	}
	applied, err := schema.Migrate(ctx, conn)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate applied %v, err %v; want nothing", applied, err)
	}
	// Every statement run again on a migrated database is harmless.
	for _, m := range ms {
		for _, s := range m.Statements {
			if err := conn.Exec(ctx, s); err != nil {
				t.Fatalf("re-running %04d: %v", m.Version, err)
			}
		}
	}
}

func TestMigrateRefusesAChangedMigration(t *testing.T) {
	ctx := context.Background()
	_, conn := chtest.Open(t, true)
	if err := schema.InsertRow(ctx, conn, "INSERT INTO schema_migrations (version, name, checksum, applied_at)",
		uint32(1), "events", "0000000000000000", time.Now()); err != nil {
		t.Fatal(err)
	}
	// The table now holds two checksums for version 1; any(checksum) may pick either, so
	// make the bogus one the only one.
	if err := conn.Exec(ctx, "ALTER TABLE schema_migrations DELETE WHERE version = 1 AND checksum != '0000000000000000'"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for chtest.Count(t, conn, "SELECT count() FROM schema_migrations WHERE version = 1") != 1 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	_, err := schema.Migrate(ctx, conn)
	if err == nil || !strings.Contains(err.Error(), "was changed after it was applied") {
		t.Fatalf("Migrate = %v, want a changed-migration error", err)
	}
}

var queryBlock = regexp.MustCompile("(?s)<!-- query: ([a-z_]+) -->.*?```sql\n(.*?)```")

// exampleQueries reads the example queries analysts are given in SCHEMA.md.
func exampleQueries(t *testing.T) map[string]string {
	t.Helper()
	md, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	qs := map[string]string{}
	for _, m := range queryBlock.FindAllStringSubmatch(string(md), -1) {
		qs[m[1]] = m[2]
	}
	return qs
}

// run returns a query's rows as tab-separated text.
func run(t *testing.T, conn driver.Conn, q string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var out []string
	types := rows.ColumnTypes()
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		cells := make([]string, len(dest))
		for i, d := range dest {
			v := reflect.ValueOf(d).Elem().Interface()
			if tm, ok := v.(time.Time); ok {
				v = tm.Format(time.DateOnly)
			}
			cells[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(cells, "\t"))
	}
	return out
}

func TestSchemaExampleQueriesGiveTheRightNumbers(t *testing.T) {
	ctx := context.Background()
	_, conn := chtest.Open(t, true)
	today := collector.Day(time.Now())
	yesterday := today.AddDate(0, 0, -1)
	old := today.AddDate(0, 0, -40) // outside every query's 30 days
	pv := func(ts time.Time, site, path, ref string, visitor uint64, utm collector.UTM) collector.Event {
		return collector.Event{Time: ts, Site: site, Type: "pageview", Host: site + ".example", Path: path, ReferrerHost: ref, Visitor: visitor, UTM: utm}
	}
	news := collector.UTM{Source: "newsletter", Medium: "email", Campaign: "bf"}
	events := []collector.Event{
		pv(yesterday.Add(time.Hour), "shop", "/", "www.google.com", 1, collector.UTM{}),
		pv(yesterday.Add(2*time.Hour), "shop", "/", "", 1, collector.UTM{}),
		pv(yesterday.Add(3*time.Hour), "shop", "/products", "www.google.com", 2, news),
		pv(today.Add(time.Minute), "shop", "/", "news.ycombinator.com", 1, collector.UTM{}), // same hash value, new day: counts again
		pv(today.Add(2*time.Minute), "shop", "/products", "www.google.com", 3, news),
		pv(today.Add(3*time.Minute), "shop", "/products", "", 4, collector.UTM{}),
		pv(today.Add(4*time.Minute), "blog", "/post", "", 9, collector.UTM{}),
		pv(old, "shop", "/ancient", "old.example", 7, news),
		{Time: today.Add(5 * time.Minute), Site: "shop", Type: "event", Name: "signup", Path: "/", Visitor: 3, PropKeys: []string{"plan"}, PropValues: []string{"pro"}},
		{Time: today.Add(6 * time.Minute), Site: "shop", Type: "event", Name: "signup", Path: "/", Visitor: 4, PropKeys: []string{"seats", "plan"}, PropValues: []string{"2", "pro"}},
		{Time: today.Add(7 * time.Minute), Site: "shop", Type: "event", Name: "signup", Path: "/", Visitor: 1, PropKeys: []string{"plan"}, PropValues: []string{"free"}},
	}
	store := collector.NewClickHouse(conn)
	if err := store.WriteEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := store.WriteSignals(ctx, []collector.SignalCount{
		{Day: yesterday, Site: "shop", Signal: "dnt", Count: 2},
		{Day: today, Site: "shop", Signal: "dnt", Count: 1},
		{Day: today, Site: "shop", Signal: "dnt", Count: 4}, // not yet merged: sum(count) adds them
		{Day: today, Site: "shop", Signal: "gpc", Count: 3},
		{Day: today, Site: "blog", Signal: "bot", Count: 8},
	}); err != nil {
		t.Fatal(err)
	}
	cats := []string{"necessary", "analytics", "marketing"}
	decision := func(at time.Time, method consent.Method, sig consent.Signal, granted ...string) consent.Decision {
		dec := consent.Decision{ID: consent.NewID(), ConsentID: consent.NewID(), Site: "news", PolicyVersion: "v1", Method: method,
			Signal: sig, DecidedAt: at, ExpiresAt: at.AddDate(0, 6, 0), GrantedIDs: granted}
		for _, c := range cats {
			if !slices.Contains(granted, c) {
				dec.DeniedIDs = append(dec.DeniedIDs, c)
			}
		}
		return dec
	}
	retried := decision(today.Add(time.Hour), consent.MethodAcceptAll, consent.SignalNone, cats...)
	// One browser decides twice, under two banners: the texts changed in between.
	first, second := decision(yesterday.Add(time.Hour), consent.MethodAcceptAll, consent.SignalNone, cats...),
		decision(yesterday.Add(2*time.Hour), consent.MethodRejectAll, consent.SignalGPC, "necessary")
	first.ConsentID, first.BannerVersion, first.Lang = "c1", "b1", "en"
	second.ConsentID, second.BannerVersion, second.Lang = "c1", "b2", "fr"
	ledger := consent.NewStore(conn)
	banner := func(version, lang, title string) consent.BannerVersion {
		return consent.BannerVersion{Site: "news", Version: version, Lang: lang, PolicyVersion: "v1", Config: `{"s":"news","t":{"title":"` + title + `"}}`, Script: "…", Integrity: "sha384-" + version}
	}
	for range 2 { // two replicas start
		if err := ledger.RecordBanners(ctx, []consent.BannerVersion{banner("b1", "en", "Your privacy choices"), banner("b2", "fr", "Vos choix")}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, batch := range [][]consent.Decision{
		{
			first,
			second,
			retried,
			decision(today.Add(2*time.Hour), consent.MethodCustom, consent.SignalDNT, "necessary"),
			decision(today.Add(3*time.Hour), consent.MethodCustom, consent.SignalNone, "necessary", "analytics"),
			decision(old, consent.MethodAcceptAll, consent.SignalNone, cats...),
		},
		{retried}, // an insert retried after an ambiguous failure
	} {
		if err := ledger.WriteDecisions(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the statistics feed runs again and again over the same decisions
		if err := ledger.Feed(ctx, old.AddDate(0, 0, -1)); err != nil {
			t.Fatal(err)
		}
	}
	y, d := yesterday.Format(time.DateOnly), today.Format(time.DateOnly)
	want := map[string][]string{
		"opt_in_rate": {
			y + "	analytics	1	2	0.5", y + "	marketing	1	2	0.5", y + "	necessary	2	2	1",
			d + "	analytics	2	3	0.667", d + "	marketing	1	3	0.333", d + "	necessary	3	3	1",
		},
		"signal_share":        {y + "	2	1	0.5", d + "	3	1	0.333"},
		"decisions_by_method": {y + "	accept_all	1", y + "	reject_all	1", d + "	accept_all	1", d + "	custom	2"},
		"daily_pageviews":     {"blog\t" + d + "\t1\t1", "shop\t" + y + "\t3\t2", "shop\t" + d + "\t3\t3"},
		"top_paths":           {"/\t3\t2", "/products\t3\t3"},
		"top_referrers":       {"www.google.com\t3", "news.ycombinator.com\t1"},
		"campaigns":           {"newsletter\temail\tbf\t2"},
		"event_props":         {"pro\t2", "free\t1"},
		"privacy_signals":     {y + "\tdnt\t2", d + "\tdnt\t5", d + "\tgpc\t3"},
		"opt_in_by_banner":    {"b1\ten\tYour privacy choices\t1\t1", "b2\tfr\tVos choix\t1\t0"},
		"what_was_shown": {
			y + "\taccept_all\ten\tv1\tYour privacy choices\tsha384-b1",
			y + "\treject_all\tfr\tv1\tVos choix\tsha384-b2",
		},
	}
	qs := exampleQueries(t)
	if len(qs) != len(want) {
		t.Fatalf("SCHEMA.md has queries %v; the test checks %d", keys(qs), len(want))
	}
	for name, q := range qs {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expected result for SCHEMA.md query %q", name)
			}
			if got := run(t, conn, q); !reflect.DeepEqual(got, w) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
			}
		})
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

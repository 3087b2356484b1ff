package consent_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/internal/chtest"
)

// ambiguousSink writes, then reports failure once: the insert reached ClickHouse but the
// acknowledgement was lost, so the ledger retries the same decisions.
type ambiguousSink struct {
	store *consent.Store
	lost  int
}

func (a *ambiguousSink) WriteDecisions(ctx context.Context, ds []consent.Decision) error {
	if err := a.store.WriteDecisions(ctx, ds); err != nil {
		return err
	}
	if a.lost > 0 {
		a.lost--
		return errors.New("read tcp: connection reset by peer")
	}
	return nil
}

func TestRetriedInsertCountsOnceForAnalysts(t *testing.T) {
	ctx := context.Background()
	_, conn := chtest.Open(t, true)
	shop := testSites(t).Lookup("shop")
	store := consent.NewStore(conn)
	l := consent.NewLedger(consent.LedgerConfig{MaxBatch: 10, MaxWaiting: 10, InsertTimeout: 5 * time.Second},
		&ambiguousSink{store: store, lost: 2}, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer l.Close(ctx)
	accept := decide(t, shop, `{"site":"shop","method":"accept_all"}`, nil, consent.SignalNone, time.Now())
	withdraw := decide(t, shop, `{"site":"shop","method":"withdraw"}`, nil, consent.SignalNone, time.Now())
	for _, d := range []consent.Decision{accept, withdraw} {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := l.Record(rctx, d); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	if n := chtest.Count(t, conn, "SELECT count() FROM consents"); n < 4 {
		t.Fatalf("the retries must have written duplicates for this test to mean anything: %d raw rows", n)
	}
	// Statistics are fed from the duplicated rows, and fed again: still once each.
	for range 2 {
		if err := store.Feed(ctx, accept.DecidedAt.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// The documented ways to read the ledger see each decision once.
	for _, q := range []string{
		"SELECT count() FROM consents FINAL",
		"SELECT uniqExact(decision_id) FROM consents",
		"SELECT uniqExactMerge(decisions) FROM consent_daily WHERE category = 'necessary'",
		"SELECT count() FROM (SELECT digest FROM revocations FINAL)",
	} {
		want := uint64(2)
		if q == "SELECT count() FROM (SELECT digest FROM revocations FINAL)" {
			want = 1
		}
		if n := chtest.Count(t, conn, q); n != want {
			t.Errorf("%s = %d, want %d", q, n, want)
		}
	}
	hist, err := store.History(ctx, "shop", accept.ConsentID)
	if err != nil || len(hist) != 1 || hist[0].ID != accept.ID || !hist[0].DecidedAt.Equal(accept.DecidedAt) {
		t.Fatalf("history %+v %v", hist, err)
	}
}

// A policy version stands for one list of categories: receipts carry grants as bits in
// that order, so the service refuses a sites file that changes it under the same version.
func TestPoliciesRefuseChangedCategories(t *testing.T) {
	ctx := context.Background()
	_, conn := chtest.Open(t, true)
	store := consent.NewStore(conn)
	parse := func(yaml string) *consent.Sites {
		t.Helper()
		ss, err := consent.ParseSites("t.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	const v1 = `
sites:
  - id: shop
    origins: ["https://shop.example"]
    policy_version: v1
    categories: [{id: necessary, required: true}, {id: analytics, technologies: [beacon]}, {id: marketing, technologies: [pixel]}]
  - id: blog
    origins: ["https://blog.example"]
    policy_version: b1
    categories: [{id: necessary, required: true}]
`
	for range 2 { // first start records, a restart with the same file passes
		if err := store.CheckPolicies(ctx, parse(v1), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for name, yaml := range map[string]string{
		"reordered":      strings.Replace(v1, `{id: analytics, technologies: [beacon]}, {id: marketing, technologies: [pixel]}`, `{id: marketing, technologies: [pixel]}, {id: analytics, technologies: [beacon]}`, 1),
		"category added": strings.Replace(v1, `{id: necessary, required: true}]`, `{id: necessary, required: true}, {id: ads}]`, 1),
		"beacons moved":  strings.Replace(v1, `{id: analytics, technologies: [beacon]}, {id: marketing, technologies: [pixel]}`, `{id: analytics}, {id: marketing, technologies: [pixel, beacon]}`, 1),
		"no longer needed": strings.Replace(v1, `policy_version: b1
    categories: [{id: necessary, required: true}]`, `policy_version: b1
    categories: [{id: necessary}]`, 1),
	} {
		err := store.CheckPolicies(ctx, parse(yaml), time.Now())
		if err == nil || !strings.Contains(err.Error(), "policy_version") || !strings.Contains(err.Error(), "new policy_version") {
			t.Errorf("%s: want a refusal naming the policy version, got %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	bumped := strings.Replace(strings.Replace(v1, `{id: necessary, required: true}]`, `{id: necessary, required: true}, {id: ads}]`, 1), "policy_version: b1", "policy_version: b2", 1)
	if err := store.CheckPolicies(ctx, parse(bumped), time.Now()); err != nil {
		t.Fatalf("new categories under a new policy version: %v", err)
	}
	if n := chtest.Count(t, conn, "SELECT count() FROM site_policies"); n != 3 {
		t.Fatalf("%d policies recorded, want shop v1, blog b1 and blog b2", n)
	}
}

// Each banner version is kept once, across restarts, so a decision's banner_version can be
// read back as the texts and script its visitor was shown.
func TestRecordBannersKeepsEachVersionOnce(t *testing.T) {
	ctx := context.Background()
	_, conn := chtest.Open(t, true)
	store := consent.NewStore(conn)
	en := consent.BannerVersion{Site: "shop", Version: "aa01", Lang: "en", PolicyVersion: "v1", Config: `{"t":{"title":"Your privacy choices"}}`, Script: "(()=>{})()\n", Integrity: "sha384-x"}
	fr := en
	fr.Version, fr.Lang, fr.Config = "aa02", "fr", `{"t":{"title":"Vos choix"}}`
	retitled := en
	retitled.Version, retitled.Config = "aa03", `{"t":{"title":"Cookies"}}`
	for i, versions := range [][]consent.BannerVersion{
		{en, fr},
		{en, fr},           // a restart
		{en, fr, retitled}, // the texts changed: a new version beside the old
		nil,                // a sites file with no site
	} {
		if err := store.RecordBanners(ctx, versions, time.Now()); err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
	}
	got := chtest.Strings(t, conn, `SELECT concat(banner_version, ' ', lang, ' ', policy_version, ' ', visitParamExtractString(config, 'title'), ' ', script, integrity)
		FROM banner_versions WHERE site = 'shop' ORDER BY banner_version`)
	want := []string{
		"aa01 en v1 Your privacy choices (()=>{})()\nsha384-x",
		"aa02 fr v1 Vos choix (()=>{})()\nsha384-x",
		"aa03 en v1 Cookies (()=>{})()\nsha384-x",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("banner_versions\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

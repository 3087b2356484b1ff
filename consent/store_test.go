package consent_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
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

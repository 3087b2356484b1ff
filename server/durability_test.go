package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consentry/consentry/internal/chtest"
	"github.com/consentry/consentry/schema"
)

// ClickHouse goes away in the middle of a stream of decisions: every decision that got
// a 200 is in consents exactly once afterwards; every other one got a 503.
func TestDecisionsDurableThroughAnOutage(t *testing.T) {
	ctx := context.Background()
	dsn, direct := chtest.Open(t, true)
	proxy, viaProxy := chtest.Proxied(t, dsn)
	conn, err := schema.Open(ctx, viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cfg := testConfig()
	cfg.ConsentTimeout = time.Second
	cfg.RateLimit = 0 // one test client sends them all
	e := newEnvWith(t, conn, cfg, envOptions{})

	var (
		stop     atomic.Bool
		mu       sync.Mutex
		acked    = map[string]bool{} // consent ids answered 200
		refused  int
		statuses = map[int]int{}
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp := e.do(t, http.MethodPost, "/v1/consent", `{"site":"news","method":"accept_all"}`, visitor(newsOrig, nil))
				var a decisionAnswer
				if resp.StatusCode == 200 {
					if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
						t.Error(err)
					}
				}
				mu.Lock()
				statuses[resp.StatusCode]++
				switch resp.StatusCode {
				case 200:
					acked[a.ConsentID] = true
				case 503:
					refused++
					if resp.Header.Get("Retry-After") == "" {
						t.Error("503 without Retry-After")
					}
				}
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	chtest.WaitFor(t, "decisions before the outage", func() bool { return count() >= 50 })
	proxy.Cut()
	beforeOutage := count()
	chtest.WaitFor(t, "503s during the outage", func() bool { mu.Lock(); defer mu.Unlock(); return refused >= 16 })
	proxy.Restore(t)
	chtest.WaitFor(t, "decisions after the outage", func() bool { return count() >= beforeOutage+50 })
	stop.Store(true)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("answers: %v", statuses)
	for status := range statuses {
		if status != 200 && status != 503 {
			t.Errorf("a decision got %d; only 200 (durable) or 503 (retry) are allowed", status)
		}
	}
	rows, err := direct.Query(ctx, "SELECT consent_id, count() FROM consents FINAL GROUP BY consent_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	found := map[string]uint64{}
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		found[id] = n
	}
	for id := range acked {
		if found[id] != 1 {
			t.Errorf("acknowledged decision %s appears %d times", id, found[id])
		}
	}
	// A 503'd decision may still land if an attempt in flight succeeded; it has no receipt.
	t.Logf("%d acknowledged, %d refused, %d rows (FINAL)", len(acked), refused, len(found))
}

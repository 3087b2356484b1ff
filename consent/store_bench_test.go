package consent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/internal/chtest"
)

// BenchmarkStoreWriteDecisions is the cost of one ledger insert (consents plus its
// materialized view) on the real ClickHouse, by batch size.
func BenchmarkStoreWriteDecisions(b *testing.B) {
	_, conn := chtest.Open(b, true)
	ss, _ := consent.ParseSites("b.yaml", []byte(fourCategories))
	shop := ss.Lookup("shop")
	store := consent.NewStore(conn)
	for _, n := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			batch := make([]consent.Decision, n)
			for b.Loop() {
				for i := range batch {
					batch[i], _ = consent.Decide(shop, consent.DecisionRequest{Site: "shop", Method: consent.MethodAcceptAll}, nil, consent.SignalNone, time.Now())
				}
				if err := store.WriteDecisions(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}

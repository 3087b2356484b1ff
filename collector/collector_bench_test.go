package collector

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/consentry/consentry/consent"
)

// nullQueue accepts everything, so benchmarks measure the collector alone.
type nullQueue struct{}

func (nullQueue) Enqueue(Event) error                         { return nil }
func (nullQueue) CountSignal(time.Time, string, string) error { return nil }

type memSalts struct{}

func (memSalts) AgreeSalt(_ context.Context, _ time.Time, c Salt) (Salt, error) { return c, nil }
func (memSalts) DeleteSaltsBefore(context.Context, time.Time) error             { return nil }

var benchBody = []byte(`{"site":"shop","type":"pageview","url":"https://shop.example/products/42?utm_source=newsletter&utm_medium=social&fbclid=abc123","referrer":"https://www.google.com/search?q=shop"}`)

// BenchmarkParseAndCollect is the per-request work of POST /v1/collect after HTTP parsing.
func BenchmarkParseAndCollect(b *testing.B) {
	sites, err := consent.ParseSites("b.yaml", []byte(`
sites:
  - {id: shop, origins: ["https://shop.example"], policy_version: v1, analytics_mode: exempt, query_params: [utm_source, utm_medium], categories: [{id: necessary, required: true}]}
`))
	if err != nil {
		b.Fatal(err)
	}
	agents, _ := NewAgentParser(100)
	h := NewHasher(memSalts{}, nil)
	if err := h.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	c := New(agents, h, nullQueue{}, nil, NewMetrics(prometheus.NewRegistry()), nil)
	site := sites.Lookup("shop")
	ip := netip.MustParseAddr("198.18.3.4")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		bc, err := ParseBeacon(benchBody, DefaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Collect(ctx, site, Request{Beacon: bc, ClientIP: ip, UserAgent: testUA, HasAcceptLanguage: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBeacon(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBeacon(benchBody, DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
}

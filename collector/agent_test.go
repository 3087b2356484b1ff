package collector

import (
	"context"
	"strings"
	"testing"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/consentry/consentry/consent"
)

func TestAgentParser(t *testing.T) {
	p, err := NewAgentParser(16)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ua                           string
		browser, version, os, device string
		bot                          bool
	}{
		{testUA, "Chrome", "131", "Linux", "desktop", false},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari", "17", "iOS", "mobile", false},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "133", "Windows", "desktop", false},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "", "", "", "", true},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "", "", "", "", true},
		{"curl/8.5.0", "", "", "", "", true},
		{"python-requests/2.32", "", "", "", "", true},
		{"", "", "", "", "", true},
	}
	for _, tc := range tests {
		for range 2 { // second round comes from the cache
			a := p.Parse(tc.ua)
			if a.Bot != tc.bot || a.Browser != tc.browser || a.Version != tc.version || a.OS != tc.os || a.Device != tc.device {
				t.Errorf("Parse(%q) = %+v", tc.ua, a)
			}
		}
	}
	if p.cache.Len() > 16 {
		t.Errorf("cache grew past its bound: %d", p.cache.Len())
	}
}

func TestAgentCacheIsBounded(t *testing.T) {
	p, err := NewAgentParser(8)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		p.Parse(testUA + string(rune('a'+i%26)) + string(rune('a'+i/26)))
	}
	if p.cache.Len() != 8 {
		t.Fatalf("cache holds %d entries, want 8", p.cache.Len())
	}
}

func BenchmarkAgentParseCached(b *testing.B) {
	p, _ := NewAgentParser(100)
	p.Parse(testUA)
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(testUA)
	}
}

func BenchmarkAgentParseUncached(b *testing.B) {
	p, _ := NewAgentParser(1)
	uas := []string{testUA, testUA + " x"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Parse(uas[i%2])
		i++
	}
}

func TestCollectorBoundsUserAgentLength(t *testing.T) {
	p, _ := NewAgentParser(4)
	c := New(p, nil, nullQueue{}, noReceipts{}, NewMetrics(prometheus.NewRegistry()), nil)
	long := testUA + strings.Repeat(" x", 2000)
	// The site is in consent mode and no receipt permits, so Collect stops after classifying the agent.
	if _, err := c.Collect(context.Background(), &consent.Site{ID: "s", AnalyticsMode: consent.ModeConsent}, Request{UserAgent: long, HasAcceptLanguage: true}); err != nil {
		t.Fatal(err)
	}
	for _, k := range p.cache.Keys() {
		if len(k) > MaxUserAgent {
			t.Fatalf("cached a %d-byte user agent, limit %d", len(k), MaxUserAgent)
		}
	}
	if p.cache.Len() != 1 {
		t.Fatalf("cache has %d entries, want 1", p.cache.Len())
	}
}

// Fiber hands out strings that alias request buffers it reuses; the cache must keep a
// copy, or its keys change under it when the next request arrives.
func TestAgentParserCopiesCacheKeys(t *testing.T) {
	p, _ := NewAgentParser(4)
	buf := []byte(testUA)
	view := unsafe.String(&buf[0], len(buf))
	if a := p.Parse(view); a.Browser != "Chrome" {
		t.Fatalf("parsed %+v", a)
	}
	copy(buf, strings.Repeat("z", len(buf))) // the next request overwrites the buffer
	keys := p.cache.Keys()
	if len(keys) != 1 || keys[0] != testUA {
		t.Fatalf("cache key changed with the request buffer: %q", keys)
	}
	if _, ok := p.cache.Get(testUA); !ok {
		t.Fatal("cached agent no longer found under its user agent")
	}
}

// noReceipts permits nothing, as for a visitor without a receipt.
type noReceipts struct{}

func (noReceipts) Permit(*consent.Site, string, string) (consent.Receipt, string) {
	return consent.Receipt{}, consent.ReasonNoReceipt
}

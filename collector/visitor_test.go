package collector

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consentry/consentry/internal/chtest"
	"github.com/consentry/consentry/schema"
)

// testClock is an injectable clock that tests move by hand.
type testClock struct{ t atomic.Pointer[time.Time] }

func newTestClock(t time.Time) *testClock { c := &testClock{}; c.set(t); return c }
func (c *testClock) set(t time.Time)      { c.t.Store(&t) }
func (c *testClock) now() time.Time       { return *c.t.Load() }

func TestSaltRotationAndSharing(t *testing.T) {
	ctx := context.Background()
	dsn, conn := chtest.Open(t, true)
	conn2, err := schema.Open(ctx, dsn) // a second replica has its own connection
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	clock := newTestClock(time.Date(2026, 11, 24, 23, 59, 0, 0, time.UTC))
	h1 := NewHasher(NewClickHouse(conn), clock.now)
	h2 := NewHasher(NewClickHouse(conn2), clock.now)
	if _, err := h1.Visitor("shop", netip.Addr{}, ""); err != ErrNoSalt {
		t.Fatalf("before any refresh: %v, want ErrNoSalt", err)
	}
	for _, h := range []*Hasher{h1, h2} {
		if err := h.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ip, other := netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("203.0.113.8")
	hash := func(h *Hasher, site string, ip netip.Addr) uint64 {
		t.Helper()
		v, err := h.Visitor(site, ip, testUA)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	day1 := hash(h1, "shop", ip)
	if hash(h1, "shop", ip) != day1 {
		t.Fatal("same visitor, same day: hash changed")
	}
	if hash(h2, "shop", ip) != day1 {
		t.Fatal("two replicas on one ClickHouse give the same visitor different hashes")
	}
	if hash(h1, "blog", ip) == day1 || hash(h1, "shop", other) == day1 {
		t.Fatal("hash ignores site or IP")
	}

	// Midnight passes before any refresh: tomorrow's salt is already held, no ClickHouse read.
	clock.set(time.Date(2026, 11, 25, 0, 0, 1, 0, time.UTC))
	day2 := hash(h1, "shop", ip)
	if day2 == day1 {
		t.Fatal("next day: same hash")
	}
	if hash(h2, "shop", ip) != day2 {
		t.Fatal("next day: replicas disagree")
	}
	for _, h := range []*Hasher{h1, h2} {
		if err := h.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := chtest.Count(t, conn, "SELECT count() FROM salts WHERE day = toDate('2026-11-24')"); n != 0 {
		t.Fatalf("yesterday's salt still stored (%d rows)", n)
	}
	if n := chtest.Count(t, conn, "SELECT count() FROM salts WHERE day >= toDate('2026-11-25')"); n != 2 {
		t.Fatalf("want today's and tomorrow's salts stored, got %d rows", n)
	}
	h1.mu.RLock()
	_, kept := h1.salts[Day(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))]
	h1.mu.RUnlock()
	if kept {
		t.Fatal("yesterday's salt still in memory")
	}
	if hash(h1, "shop", ip) != day2 {
		t.Fatal("refresh changed today's hash")
	}
}

func TestSaltAgreementWhenReplicasStartTogether(t *testing.T) {
	ctx := context.Background()
	dsn, conn := chtest.Open(t, true)
	clock := newTestClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	hashers := make([]*Hasher, 3)
	var wg sync.WaitGroup
	for i := range hashers {
		c := conn
		if i > 0 {
			var err error
			if c, err = schema.Open(ctx, dsn); err != nil {
				t.Fatal(err)
			}
			defer c.Close()
		}
		hashers[i] = NewHasher(NewClickHouse(c), clock.now)
		wg.Add(1)
		go func(h *Hasher) { defer wg.Done(); _ = h.Refresh(ctx) }(hashers[i])
	}
	wg.Wait()
	// Racing first starts may each insert a salt; the next refresh converges on the minimum.
	var want uint64
	for i, h := range hashers {
		if err := h.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		v, err := h.Visitor("shop", netip.MustParseAddr("198.51.100.1"), testUA)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			want = v
		} else if v != want {
			t.Fatalf("replica %d hashes differently after refresh", i)
		}
	}
}

package consent

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeRevocations serves revocations like the store; it honours ctx.
type fakeRevocations struct {
	mu    sync.Mutex
	rows  []Revocation
	since []time.Time // what each refresh asked for
	down  bool
}

func (f *fakeRevocations) RevocationsSince(ctx context.Context, since time.Time) ([]Revocation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.since = append(f.since, since)
	if f.down {
		return nil, errors.New("clickhouse: connection refused")
	}
	var out []Revocation
	for _, r := range f.rows {
		if !r.At.Before(since) {
			out = append(out, r)
		}
	}
	return out, nil
}

func TestRevocationSet(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	src := &fakeRevocations{rows: []Revocation{
		{Digest: Digest("withdrawn"), At: now.Add(-time.Hour)},
		{Digest: Digest("erased"), At: now.Add(-2 * time.Hour), Erased: true},
		{Digest: Digest("ancient"), At: now.AddDate(-2, 0, 0)},
	}}
	r := NewRevocations(src, func() time.Time { return now })
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !r.Refreshed().Equal(now) {
		t.Fatalf("refreshed at %v, want %v", r.Refreshed(), now)
	}
	if want := now.AddDate(0, 0, -MaxConsentMaxAge-1); !src.since[0].Equal(want) {
		t.Fatalf("first load reads from %v, want the longest receipt lifetime back (%v)", src.since[0], want)
	}
	receipt := func(id string, issued time.Time) Receipt { return Receipt{Digest: Digest(id), IssuedAt: issued} }
	for _, tc := range []struct {
		name string
		rc   Receipt
		want bool
	}{
		{"issued before the withdrawal", receipt("withdrawn", now.Add(-2*time.Hour)), true},
		{"issued in the same second", receipt("withdrawn", now.Add(-time.Hour)), true},
		{"issued after: a new consent", receipt("withdrawn", now.Add(-time.Hour+time.Second)), false},
		{"never withdrawn", receipt("other", now.Add(-2*time.Hour)), false},
		{"erased", receipt("erased", now.Add(-3*time.Hour)), true},
		{"too old to be loaded", receipt("ancient", now.AddDate(-2, 0, -1)), false},
	} {
		if got := r.Revoked(tc.rc); got != tc.want {
			t.Errorf("%s: revoked %v, want %v", tc.name, got, tc.want)
		}
	}
	if !r.Erased(Digest("erased")) || r.Erased(Digest("withdrawn")) {
		t.Error("erased flag wrong")
	}

	// Later refreshes re-read only the recent past, with an overlap for late inserts.
	now = now.Add(5 * time.Second)
	src.mu.Lock()
	src.rows = append(src.rows, Revocation{Digest: Digest("late"), At: now.Add(-time.Minute)})
	src.mu.Unlock()
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := now.Add(-5*time.Second - revocationOverlap); !src.since[1].Equal(want) {
		t.Fatalf("refresh reads from %v, want %v", src.since[1], want)
	}
	if !r.Revoked(receipt("late", now.Add(-time.Hour))) {
		t.Fatal("a revocation inserted late, stamped before the last refresh, must still be seen")
	}

	// A failing refresh keeps what the set knows.
	src.down = true
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("want the source's error")
	}
	if !r.Revoked(receipt("withdrawn", now.Add(-2*time.Hour))) {
		t.Fatal("the set must survive a failed refresh")
	}
	if !r.Refreshed().Equal(now) {
		t.Fatal("a failed refresh must not move the last-refreshed time")
	}
}

func TestRevocationSetPrunesExpiredLifetimes(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	r := NewRevocations(&fakeRevocations{}, func() time.Time { return now })
	r.Add(Revocation{Digest: Digest("old"), At: now.AddDate(0, 0, -MaxConsentMaxAge-2)})
	r.Add(Revocation{Digest: Digest("recent"), At: now.AddDate(0, 0, -10)})
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 1 {
		t.Fatalf("%d revocations kept; one is older than any receipt can live", r.Len())
	}
}

// fakeFeed records what each feed asked for; it honours ctx like the store.
type fakeFeed struct{ since []time.Time }

func (f *fakeFeed) Feed(ctx context.Context, since time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.since = append(f.since, since)
	return nil
}

func TestFeederWindows(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	src := &fakeFeed{}
	f := NewFeeder(src, 2*time.Minute, func() time.Time { return now })
	for range 2 {
		if err := f.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
		now = now.Add(10 * time.Second)
	}
	want := []time.Time{time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 11, 58, 0, 0, time.UTC)}
	if len(src.since) != 2 || !src.since[0].Equal(want[0]) || !src.since[1].Equal(want[1]) {
		t.Fatalf("feeds read from %v, want %v (start of yesterday, then the last run minus the overlap)", src.since, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Once(ctx); err == nil {
		t.Fatal("a feed on a finished context must fail")
	}
}

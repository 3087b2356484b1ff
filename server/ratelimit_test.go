package server

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	overflows := 0
	r := newRateLimiter(2, 3, func() time.Time { return now }, func() { overflows++ })
	steps := []struct {
		key  uint64
		want bool
	}{
		{1, true}, {1, true}, {1, false}, // limit 2 per second per client
		{2, true}, {3, true},
		{4, true}, {4, true}, {4, true}, // a 4th client in a full table is let through, and counted
	}
	for i, s := range steps {
		if got := r.allow(s.key); got != s.want {
			t.Fatalf("step %d: allow(%d) = %v, want %v", i, s.key, got, s.want)
		}
	}
	if overflows != 3 {
		t.Fatalf("overflows = %d, want 3", overflows)
	}
	now = now.Add(time.Second) // a new window forgets the old counts
	for i, want := range []bool{true, true, false} {
		if got := r.allow(1); got != want {
			t.Fatalf("new window, request %d: allow = %v, want %v", i+1, got, want)
		}
	}
	off := newRateLimiter(0, 1, time.Now, func() {})
	for range 5 {
		if !off.allow(1) {
			t.Fatal("limit 0 must disable limiting")
		}
	}
}

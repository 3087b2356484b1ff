package consent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/consentry/consentry/internal/periodic"
)

// FeedSource copies decisions into the statistics view; Store implements it.
type FeedSource interface {
	Feed(ctx context.Context, since time.Time) error
}

// Feeder keeps consent_daily up to date: every run copies the decisions made since the
// previous run, minus an overlap for inserts that became visible late, into consent_feed.
// Copying a decision twice changes no count, so runs may overlap and every replica may
// run its own.
type Feeder struct {
	src     FeedSource
	now     func() time.Time
	overlap time.Duration

	mu   sync.Mutex
	next time.Time
}

// NewFeeder returns a feeder; overlap must exceed how late an acknowledged decision can
// become visible (the consent timeout plus one insert attempt).
func NewFeeder(src FeedSource, overlap time.Duration, now func() time.Time) *Feeder {
	if now == nil {
		now = time.Now
	}
	return &Feeder{src: src, now: now, overlap: overlap}
}

// Once feeds the decisions made since the last run; the first run of a process starts
// at the beginning of yesterday (UTC), so a restart recovers what a crash left unfed.
func (f *Feeder) Once(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	start := f.now().UTC()
	since := f.next
	if since.IsZero() {
		since = time.Date(start.Year(), start.Month(), start.Day()-1, 0, 0, 0, 0, time.UTC)
	}
	if err := f.src.Feed(ctx, since); err != nil {
		return fmt.Errorf("feed consent statistics: %w", err)
	}
	f.next = start.Add(-f.overlap)
	return nil
}

// Run feeds every interval until ctx ends.
func (f *Feeder) Run(ctx context.Context, interval time.Duration, onErr func(error)) {
	periodic.Every(ctx, interval, f.Once, onErr)
}

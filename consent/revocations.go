package consent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/consentry/consentry/internal/periodic"
)

// RevocationSource reads revocations; Store implements it. It must honour ctx.
type RevocationSource interface {
	RevocationsSince(ctx context.Context, since time.Time) ([]Revocation, error)
}

// revocationOverlap is how far back each refresh re-reads: a revocation becomes visible
// in ClickHouse up to one insert timeout after the time it carries, and replicas'
// clocks differ by a little.
const revocationOverlap = 5 * time.Minute

// Revocations is each replica's in-memory set of revoked consent ids, so the collector
// checks withdrawal without a ClickHouse read per beacon. Loaded at start, refreshed
// every few seconds, and updated at once by this replica's own withdrawals and erasures.
type Revocations struct {
	src RevocationSource
	now func() time.Time

	mu        sync.RWMutex
	set       map[[16]byte]revoked
	next      time.Time // where the next refresh starts reading
	pruned    time.Time
	refreshed time.Time // last successful refresh
}

type revoked struct {
	at     time.Time
	erased bool
}

// NewRevocations returns an empty set; call Refresh before trusting it.
func NewRevocations(src RevocationSource, now func() time.Time) *Revocations {
	if now == nil {
		now = time.Now
	}
	return &Revocations{src: src, now: now, set: map[[16]byte]revoked{}}
}

// Revoked reports whether rc was issued at or before a revocation of its consent id.
// A receipt issued in the same second as a withdrawal counts as revoked: that errs on the
// side of not tracking.
func (r *Revocations) Revoked(rc Receipt) bool {
	r.mu.RLock()
	v, ok := r.set[rc.Digest]
	r.mu.RUnlock()
	return ok && !rc.IssuedAt.After(v.at)
}

// Erased reports whether the consent id was erased: a receipt naming it must not
// carry the id into a new decision.
func (r *Revocations) Erased(digest [16]byte) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.set[digest].erased
}

// Add records a revocation made by this replica.
func (r *Revocations) Add(rv Revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.merge(rv)
}

func (r *Revocations) merge(rv Revocation) {
	cur := r.set[rv.Digest]
	if rv.At.After(cur.at) {
		cur.at = rv.At
	}
	cur.erased = cur.erased || rv.Erased
	r.set[rv.Digest] = cur
}

// Refreshed returns when the set last read ClickHouse successfully.
func (r *Revocations) Refreshed() time.Time {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.refreshed
}

// Len is the number of revoked consent ids held.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.set)
}

// Refresh reads revocations made since the last refresh (all within the longest receipt
// lifetime on the first call).
func (r *Revocations) Refresh(ctx context.Context) error {
	start := r.now()
	r.mu.RLock()
	since := r.next
	r.mu.RUnlock()
	if since.IsZero() {
		since = start.AddDate(0, 0, -MaxConsentMaxAge-1)
	}
	rs, err := r.src.RevocationsSince(ctx, since)
	if err != nil {
		return fmt.Errorf("refresh revocations: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rv := range rs {
		r.merge(rv)
	}
	r.next = start.Add(-revocationOverlap)
	r.refreshed = start
	if start.Sub(r.pruned) > time.Hour {
		// Receipts older than the longest lifetime are expired anyway; their revocations can go.
		horizon := start.AddDate(0, 0, -MaxConsentMaxAge-1)
		for d, v := range r.set {
			if v.at.Before(horizon) {
				delete(r.set, d)
			}
		}
		r.pruned = start
	}
	return nil
}

// Run refreshes every interval until ctx ends, reporting failures to onErr; the set
// keeps its last contents meanwhile.
func (r *Revocations) Run(ctx context.Context, every time.Duration, onErr func(error)) {
	periodic.Every(ctx, every, r.Refresh, onErr)
}

package server

import (
	"sync"
	"time"
)

// rateLimiter allows at most limit requests per client key per one-second window. It
// tracks at most maxClients keys a window; clients beyond that are let through (and the
// window's overflow is counted) rather than growing memory without bound.
type rateLimiter struct {
	limit      int
	maxClients int
	now        func() time.Time

	mu       sync.Mutex
	window   int64
	counts   map[uint64]int
	overflow func()
}

func newRateLimiter(limit, maxClients int, now func() time.Time, overflow func()) *rateLimiter {
	return &rateLimiter{limit: limit, maxClients: maxClients, now: now, counts: map[uint64]int{}, overflow: overflow}
}

// allow reports whether key may make one more request now.
func (r *rateLimiter) allow(key uint64) bool {
	if r.limit <= 0 {
		return true
	}
	w := r.now().Unix()
	r.mu.Lock()
	defer r.mu.Unlock()
	if w != r.window {
		r.window = w
		clear(r.counts)
	}
	n, ok := r.counts[key]
	if !ok && len(r.counts) >= r.maxClients {
		r.overflow()
		return true
	}
	if n >= r.limit {
		return false
	}
	r.counts[key] = n + 1
	return true
}

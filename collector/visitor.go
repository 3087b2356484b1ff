package collector

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/consentry/consentry/internal/periodic"
	"github.com/dchest/siphash"
)

// Salt is a 128-bit SipHash key valid for one UTC day.
type Salt [16]byte

// SaltStore is shared storage for daily salts, so every replica hashes a visitor alike.
type SaltStore interface {
	// AgreeSalt stores candidate for day unless a salt exists, and returns the salt every
	// replica agrees on for that day (the smallest stored one).
	AgreeSalt(ctx context.Context, day time.Time, candidate Salt) (Salt, error)
	// DeleteSaltsBefore deletes every salt of a day before day.
	DeleteSaltsBefore(ctx context.Context, day time.Time) error
}

// ErrNoSalt means today's salt is not known yet; events cannot be hashed.
var ErrNoSalt = errors.New("no salt for today")

// Hasher computes the daily visitor hash: SipHash-2-4 keyed by the day's random salt over
// site, IP and user agent. It holds today's and tomorrow's salts in memory, so crossing
// midnight needs no ClickHouse read on the request path, and forgets older ones.
type Hasher struct {
	store SaltStore
	now   func() time.Time

	mu    sync.RWMutex
	salts map[time.Time]Salt
}

// NewHasher returns a Hasher reading the clock through now (time.Now if nil).
func NewHasher(store SaltStore, now func() time.Time) *Hasher {
	if now == nil {
		now = time.Now
	}
	return &Hasher{store: store, now: now, salts: map[time.Time]Salt{}}
}

// Day truncates t to its UTC day.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Refresh agrees on today's and tomorrow's salts with the store and deletes older ones,
// in memory and in the store. Run it at start and then every few minutes.
func (h *Hasher) Refresh(ctx context.Context) error {
	today := Day(h.now())
	fresh := map[time.Time]Salt{}
	for _, day := range []time.Time{today, today.AddDate(0, 0, 1)} {
		var candidate Salt
		if _, err := rand.Read(candidate[:]); err != nil {
			return fmt.Errorf("salt: %w", err)
		}
		s, err := h.store.AgreeSalt(ctx, day, candidate)
		if err != nil {
			return fmt.Errorf("salt for %s: %w", day.Format(time.DateOnly), err)
		}
		fresh[day] = s
	}
	h.mu.Lock()
	h.salts = fresh
	h.mu.Unlock()
	if err := h.store.DeleteSaltsBefore(ctx, today); err != nil {
		return fmt.Errorf("delete old salts: %w", err)
	}
	return nil
}

// Run refreshes salts every interval until ctx ends; failures are reported to onErr and
// retried at the next tick (tomorrow's salt is already held, so midnight is safe).
func (h *Hasher) Run(ctx context.Context, interval time.Duration, onErr func(error)) {
	periodic.Every(ctx, interval, h.Refresh, onErr)
}

// Visitor returns the day's hash of (site, ip, ua). Salts older than today are never used.
func (h *Hasher) Visitor(site string, ip netip.Addr, ua string) (uint64, error) {
	today := Day(h.now())
	h.mu.RLock()
	s, ok := h.salts[today]
	h.mu.RUnlock()
	if !ok {
		return 0, ErrNoSalt
	}
	k0 := binary.LittleEndian.Uint64(s[:8])
	k1 := binary.LittleEndian.Uint64(s[8:])
	ip16 := ip.As16()
	var arr [512]byte // on the stack for all but very long user agents
	buf := arr[:0]
	buf = append(buf, site...)
	buf = append(buf, 0)
	buf = append(buf, ip16[:]...)
	buf = append(buf, ua...)
	return siphash.Hash(k0, k1, buf), nil
}

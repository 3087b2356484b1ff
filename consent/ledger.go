package consent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Ledger errors; both mean "not durable, retry later" to the visitor.
var (
	ErrLedgerBusy   = errors.New("too many decisions waiting to be written")
	ErrNotDurable   = errors.New("decision could not be made durable in time")
	ErrLedgerClosed = errors.New("ledger is shutting down")
)

// DecisionSink writes decisions durably; Store implements it. It must honour ctx.
type DecisionSink interface {
	WriteDecisions(ctx context.Context, ds []Decision) error
}

// LedgerConfig tunes the group commit.
type LedgerConfig struct {
	MaxBatch int // decisions per insert
	// Committers is how many inserts may be in flight at once. One suits a small
	// ClickHouse: each insert writes a part, and parallel small parts cost more than one
	// larger one (bench/consent.sh measured 2 790 decisions/s with 1, 815 with 4, on 2 cores).
	Committers    int
	MaxWait       time.Duration // how long the first decision of a batch waits for company
	MaxWaiting    int           // decisions waiting for an insert; beyond it Record answers ErrLedgerBusy
	InsertTimeout time.Duration // bound of one insert attempt
}

// DefaultLedgerConfig suits one replica on a small machine.
var DefaultLedgerConfig = LedgerConfig{MaxBatch: 1000, Committers: 1, MaxWait: 2 * time.Millisecond, MaxWaiting: 10000, InsertTimeout: 5 * time.Second}

type waiter struct {
	ctx  context.Context
	d    Decision
	done chan error // buffered: the committer never blocks on a waiter that left
}

// Ledger makes decisions durable by group commit: every request waiting at the same time
// shares one insert, and each learns only after that insert succeeded. An insert that
// fails is retried, with the same decision ids, for as long as any of its requests still
// waits; the table's replacing engine turns a retried success into one row.
type Ledger struct {
	cfg  LedgerConfig
	sink DecisionSink
	log  *slog.Logger
	in   chan *waiter

	mu     sync.RWMutex
	closed bool
	done   chan struct{}

	batchRows  prometheus.Histogram
	commitSecs prometheus.Histogram
	errorsTot  prometheus.Counter
}

// NewLedger starts the committer; Close stops it.
func NewLedger(cfg LedgerConfig, sink DecisionSink, reg prometheus.Registerer, log *slog.Logger) *Ledger {
	l := &Ledger{
		cfg: cfg, sink: sink, log: log,
		in:   make(chan *waiter, cfg.MaxWaiting),
		done: make(chan struct{}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "consentry_decision_batch_rows", Help: "Decisions per ledger insert.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		commitSecs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "consentry_decision_commit_seconds", Help: "Time until a decision batch was durable, retries included.",
		}),
		errorsTot: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consentry_decision_insert_errors_total", Help: "Failed ledger insert attempts.",
		}),
	}
	reg.MustRegister(l.batchRows, l.commitSecs, l.errorsTot)
	var wg sync.WaitGroup
	for range max(cfg.Committers, 1) {
		wg.Go(l.loop)
	}
	go func() { wg.Wait(); close(l.done) }()
	return l
}

// Record returns nil once d is durable. It returns ErrLedgerBusy at once when too many
// decisions wait, and ErrNotDurable when ctx ends first.
func (l *Ledger) Record(ctx context.Context, d Decision) error {
	w := &waiter{ctx: ctx, d: d, done: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrLedgerClosed
	}
	select {
	case l.in <- w:
	default:
		l.mu.RUnlock()
		return ErrLedgerBusy
	}
	l.mu.RUnlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNotDurable, ctx.Err())
	}
}

// Close stops taking decisions and waits, until ctx ends, for the committer to finish
// the ones already taken (their requests may still be waiting).
func (l *Ledger) Close(ctx context.Context) error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.in)
	}
	l.mu.Unlock()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ledger close: %w", ctx.Err())
	}
}

func (l *Ledger) loop() {
	batch := make([]*waiter, 0, l.cfg.MaxBatch)
	for first := range l.in {
		batch = append(batch[:0], first)
		batch = l.gather(batch)
		l.commit(batch)
	}
}

// gather adds waiting decisions to batch: all that are already queued, then, for up to
// MaxWait, those that arrive, until the batch is full.
func (l *Ledger) gather(batch []*waiter) []*waiter {
	var timeout <-chan time.Time
	if l.cfg.MaxWait > 0 {
		t := time.NewTimer(l.cfg.MaxWait)
		defer t.Stop()
		timeout = t.C
	}
	for len(batch) < l.cfg.MaxBatch {
		select {
		case w, ok := <-l.in:
			if !ok {
				return batch
			}
			batch = append(batch, w)
			continue
		default:
		}
		if timeout == nil {
			return batch
		}
		select {
		case w, ok := <-l.in:
			if !ok {
				return batch
			}
			batch = append(batch, w)
		case <-timeout:
			return batch
		}
	}
	return batch
}

// commit writes the batch, retrying with backoff while any of its requests still waits.
// Requests that gave up are left out of the retries, so a decision answered 503 is
// written only if an attempt already in flight succeeds.
func (l *Ledger) commit(batch []*waiter) {
	start := time.Now()
	backoff := 50 * time.Millisecond
	ds := make([]Decision, 0, len(batch))
	for attempt := 1; ; attempt++ {
		live := batch[:0]
		ds = ds[:0]
		var deadline time.Time
		for _, w := range batch {
			if w.ctx.Err() == nil {
				live = append(live, w)
				ds = append(ds, w.d)
				if dl, ok := w.ctx.Deadline(); ok && dl.After(deadline) {
					deadline = dl
				}
			}
		}
		batch = live
		if len(batch) == 0 {
			return
		}
		// No attempt outlives the longest-waiting request: its answer would come too late.
		limit := time.Now().Add(l.cfg.InsertTimeout)
		if !deadline.IsZero() && deadline.Before(limit) {
			limit = deadline
		}
		ctx, cancel := context.WithDeadline(context.Background(), limit)
		err := l.sink.WriteDecisions(ctx, ds)
		cancel()
		if err == nil {
			l.batchRows.Observe(float64(len(ds)))
			l.commitSecs.Observe(time.Since(start).Seconds())
			for _, w := range batch {
				w.done <- nil
			}
			return
		}
		l.errorsTot.Inc()
		l.log.Warn("ledger insert failed; retrying", "decisions", len(ds), "attempt", attempt, "err", err)
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

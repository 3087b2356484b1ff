package consent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeLedgerSink records inserts; like ClickHouse it honours ctx.
type fakeLedgerSink struct {
	mu       sync.Mutex
	batches  [][]Decision
	failures int           // fail this many more attempts
	delay    time.Duration // each insert takes this long
}

func (f *fakeLedgerSink) WriteDecisions(ctx context.Context, ds []Decision) error {
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return errors.New("clickhouse: connection reset")
	}
	f.batches = append(f.batches, append([]Decision(nil), ds...))
	return nil
}

func (f *fakeLedgerSink) snapshot() [][]Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]Decision(nil), f.batches...)
}

func newTestLedger(cfg LedgerConfig, sink DecisionSink) *Ledger {
	return NewLedger(cfg, sink, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestLedgerGroupCommitSharesOneInsert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeLedgerSink{delay: 10 * time.Millisecond}
		l := newTestLedger(LedgerConfig{MaxBatch: 100, MaxWait: 5 * time.Millisecond, MaxWaiting: 1000, InsertTimeout: time.Second}, sink)
		defer l.Close(context.Background())
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				errs <- l.Record(ctx, Decision{ID: string(rune('A' + i))})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		b := sink.snapshot()
		if len(b) != 1 || len(b[0]) != 50 {
			t.Fatalf("50 waiting decisions took %d inserts, want 1", len(b))
		}
	})
}

func TestLedgerAnswersOnlyAfterTheInsert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeLedgerSink{delay: 50 * time.Millisecond}
		l := newTestLedger(LedgerConfig{MaxBatch: 10, MaxWaiting: 10, InsertTimeout: time.Second}, sink)
		defer l.Close(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Record(context.Background(), Decision{ID: "a"}) }()
		time.Sleep(49 * time.Millisecond)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("answered before the insert finished")
		default:
		}
		time.Sleep(time.Millisecond)
		if err := <-done; err != nil || len(sink.snapshot()) != 1 {
			t.Fatalf("after the insert: %v, %d inserts", err, len(sink.snapshot()))
		}
	})
}

func TestLedgerRetriesTheSameDecisions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeLedgerSink{failures: 3}
		l := newTestLedger(LedgerConfig{MaxBatch: 10, MaxWaiting: 10, InsertTimeout: time.Second}, sink)
		defer l.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Record(ctx, Decision{ID: "same"}); err != nil {
			t.Fatal(err)
		}
		if b := sink.snapshot(); len(b) != 1 || b[0][0].ID != "same" {
			t.Fatalf("inserts %v", b)
		}
		if got := testutil.ToFloat64(l.errorsTot); got != 3 {
			t.Fatalf("%v failed attempts counted, want 3", got)
		}
	})
}

func TestLedgerGivesUpAtTheRequestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeLedgerSink{failures: 1 << 30}
		l := newTestLedger(LedgerConfig{MaxBatch: 10, MaxWaiting: 10, InsertTimeout: time.Second}, sink)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := l.Record(ctx, Decision{ID: "x"})
		if !errors.Is(err, ErrNotDurable) || time.Since(start) != 2*time.Second {
			t.Fatalf("want ErrNotDurable at the deadline, got %v after %v", err, time.Since(start))
		}
		// The committer drops a request that left: it stops retrying and can close.
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(sink.snapshot()) != 0 {
			t.Fatal("nothing may be written")
		}
	})
}

func TestLedgerBusyAndClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeLedgerSink{delay: time.Hour}
		l := newTestLedger(LedgerConfig{MaxBatch: 1, MaxWaiting: 2, InsertTimeout: 2 * time.Hour}, sink)
		ctx, cancel := context.WithCancel(context.Background())
		for range 3 { // one in the committer, two waiting
			go func() { _ = l.Record(ctx, Decision{}) }()
			synctest.Wait()
		}
		if err := l.Record(ctx, Decision{}); !errors.Is(err, ErrLedgerBusy) {
			t.Fatalf("beyond MaxWaiting: %v, want ErrLedgerBusy", err)
		}
		cancel()
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := l.Record(context.Background(), Decision{}); !errors.Is(err, ErrLedgerClosed) {
			t.Fatalf("after Close: %v, want ErrLedgerClosed", err)
		}
	})
}

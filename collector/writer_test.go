package collector

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSink records batches. Like ClickHouse it honours ctx: a done ctx fails the call, and
// a "hung" sink blocks until ctx ends.
type fakeSink struct {
	mu       sync.Mutex
	events   []Event
	signals  []SignalCount
	calls    int
	failures int  // fail this many more attempts
	down     bool // fail every attempt
	hung     bool // block until ctx is done
}

func (f *fakeSink) attempt(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	hung := f.hung
	f.mu.Unlock()
	if hung {
		<-ctx.Done()
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down || f.failures > 0 {
		f.failures--
		return errors.New("clickhouse: connection refused")
	}
	return nil
}

func (f *fakeSink) WriteEvents(ctx context.Context, rows []Event) error {
	if err := f.attempt(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, rows...)
	return nil
}

func (f *fakeSink) WriteSignals(ctx context.Context, rows []SignalCount) error {
	if err := f.attempt(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals = append(f.signals, rows...)
	return nil
}

func (f *fakeSink) set(fn func(*fakeSink)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeSink) stored() (events, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events), f.calls
}

func newTestWriter(t *testing.T, cfg WriterConfig, sink Sink) (*Writer, *Metrics) {
	t.Helper()
	m := NewMetrics(prometheus.NewRegistry())
	return NewWriter(cfg, sink, slog.New(slog.NewTextHandler(io.Discard, nil)), m), m
}

func ev(path string) Event {
	return Event{Site: "shop", Type: TypePageview, Path: path, Time: time.Now()}
}

func TestWriterFlushesAtBatchRows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeSink{}
		w, m := newTestWriter(t, WriterConfig{QueueSize: 100, BatchRows: 3, FlushInterval: time.Hour}, sink)
		for _, p := range []string{"/a", "/b", "/c", "/d"} {
			if err := w.Enqueue(ev(p)); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if n, calls := sink.stored(); n != 3 || calls != 1 {
			t.Fatalf("after 4 events with batch 3: %d stored in %d calls, want 3 in 1", n, calls)
		}
		if testutil.CollectAndCount(m.batchRows) != 1 || testutil.CollectAndCount(m.insertLatency) != 1 {
			t.Fatalf("batch rows / insert latency histograms not observed")
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n, _ := sink.stored(); n != 4 {
			t.Fatalf("close left %d stored, want 4", n)
		}
	})
}

func TestWriterFlushesAtIntervalAndSkipsEmptyFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeSink{}
		w, _ := newTestWriter(t, WriterConfig{QueueSize: 100, BatchRows: 1000, FlushInterval: 100 * time.Millisecond}, sink)
		time.Sleep(time.Second) // ten empty ticks
		synctest.Wait()
		if _, calls := sink.stored(); calls != 0 {
			t.Fatalf("empty ticks made %d sink calls, want 0", calls)
		}
		_ = w.Enqueue(ev("/a"))
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		if n, _ := sink.stored(); n != 0 {
			t.Fatal("flushed before the interval")
		}
		time.Sleep(60 * time.Millisecond)
		synctest.Wait()
		if n, calls := sink.stored(); n != 1 || calls != 1 {
			t.Fatalf("after interval: %d stored in %d calls", n, calls)
		}
		_ = w.Close(context.Background())
	})
}

func TestWriterHoldsBatchUntilConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeSink{failures: 3}
		w, m := newTestWriter(t, WriterConfig{QueueSize: 100, BatchRows: 2, FlushInterval: time.Hour, RetryMin: 10 * time.Millisecond}, sink)
		_ = w.Enqueue(ev("/a"))
		_ = w.Enqueue(ev("/b"))
		time.Sleep(time.Second)
		synctest.Wait()
		if n, calls := sink.stored(); n != 2 || calls != 4 {
			t.Fatalf("%d stored after %d calls, want 2 after 4 (3 failures)", n, calls)
		}
		if got := testutil.ToFloat64(m.insertErrors); got != 3 {
			t.Fatalf("insert errors = %v, want 3", got)
		}
		if n := w.held.Load(); n != 0 {
			t.Fatalf("held = %d after confirmation", n)
		}
		_ = w.Close(context.Background())
	})
}

func TestWriterQueueFullAnswersInsteadOfDropping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeSink{down: true}
		w, m := newTestWriter(t, WriterConfig{QueueSize: 5, BatchRows: 2, FlushInterval: time.Hour, RetryMin: 10 * time.Millisecond}, sink)
		accepted := 0
		for i := range 8 {
			err := w.Enqueue(ev("/p"))
			switch {
			case err == nil:
				accepted++
			case errors.Is(err, ErrQueueFull):
			default:
				t.Fatalf("enqueue %d: %v", i, err)
			}
			synctest.Wait()
		}
		if accepted != 5 || testutil.ToFloat64(m.queueFull) != 3 {
			t.Fatalf("accepted %d (want 5), queue-full count %v (want 3)", accepted, testutil.ToFloat64(m.queueFull))
		}
		sink.set(func(f *fakeSink) { f.down = false })
		time.Sleep(30 * time.Second)
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n, _ := sink.stored(); n != accepted {
			t.Fatalf("stored %d of %d accepted", n, accepted)
		}
	})
}

func TestWriterCloseDrainsUnderItsOwnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeSink{}
		w, _ := newTestWriter(t, WriterConfig{QueueSize: 100, BatchRows: 1000, FlushInterval: time.Hour}, sink)
		for range 7 {
			_ = w.Enqueue(ev("/x"))
		}
		_ = w.CountSignal(time.Now(), "shop", SignalDNT)
		_ = w.CountSignal(time.Now(), "shop", SignalDNT)
		_ = w.CountSignal(time.Now(), "shop", SignalGPC)
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n, _ := sink.stored(); n != 7 {
			t.Fatalf("drained %d events, want 7", n)
		}
		got := map[string]uint64{}
		for _, s := range sink.signals {
			got[s.Signal] += s.Count
		}
		if len(sink.signals) != 2 || got["dnt"] != 2 || got["gpc"] != 1 {
			t.Fatalf("signals not aggregated per key: %+v", sink.signals)
		}
		if err := w.Enqueue(ev("/late")); !errors.Is(err, ErrClosed) {
			t.Fatalf("enqueue after close: %v, want ErrClosed", err)
		}
	})
}

func TestWriterCloseReportsLossWhenSinkStaysDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &fakeSink{hung: true}
		w, _ := newTestWriter(t, WriterConfig{QueueSize: 100, BatchRows: 1000, FlushInterval: time.Hour, InsertTimeout: time.Second}, sink)
		for range 4 {
			_ = w.Enqueue(ev("/x"))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err := w.Close(ctx)
		if err == nil || !strings.Contains(err.Error(), "4 events") {
			t.Fatalf("Close = %v, want an error naming 4 events", err)
		}
		if took := time.Since(start); took > 6*time.Second {
			t.Fatalf("Close ignored its deadline: took %v", took)
		}
	})
}

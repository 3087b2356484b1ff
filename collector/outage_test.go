package collector

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/consentry/consentry/internal/chtest"
	"github.com/consentry/consentry/schema"
)

// While ClickHouse is unreachable the writer holds its batch and the queue; once full,
// Enqueue refuses (503 upstream); when ClickHouse is back every accepted event arrives.
func TestClickHouseOutageLosesNothing(t *testing.T) {
	ctx := context.Background()
	dsn, direct := chtest.Open(t, true)
	proxy, viaProxy := chtest.Proxied(t, dsn)
	conn, err := schema.Open(ctx, viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := NewMetrics(prometheus.NewRegistry())
	w := NewWriter(WriterConfig{QueueSize: 40, BatchRows: 10, FlushInterval: 50 * time.Millisecond,
		InsertTimeout: 2 * time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond},
		NewClickHouse(conn), slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	count := func() uint64 { return chtest.Count(t, direct, "SELECT count() FROM events") }

	for range 10 {
		if err := w.Enqueue(ev("/before")); err != nil {
			t.Fatal(err)
		}
	}
	chtest.WaitFor(t, "10 rows before the outage", func() bool { return count() == 10 })

	proxy.Cut()
	accepted := 0
	for range 100 {
		err := w.Enqueue(ev("/during"))
		if errors.Is(err, ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted++
	}
	if accepted != 40 {
		t.Fatalf("accepted %d during the outage, want the queue size 40", accepted)
	}
	chtest.WaitFor(t, "failed insert attempts", func() bool { return testutil.ToFloat64(m.insertErrors) >= 2 })
	if n := count(); n != 10 {
		t.Fatalf("rows changed during the outage: %d", n)
	}

	proxy.Restore(t)
	chtest.WaitFor(t, "every accepted row after the outage", func() bool { return count() == 50 })
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 50 {
		t.Fatalf("%d rows, want 50 (no loss, no duplicates)", n)
	}
}

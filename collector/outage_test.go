package collector

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/consentry/consentry/internal/chtest"
	"github.com/consentry/consentry/schema"
)

// cutProxy forwards TCP to a target and can cut every connection and refuse new ones,
// then come back on the same address: a ClickHouse outage without stopping the server.
type cutProxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	p := &cutProxy{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// While ClickHouse is unreachable the writer holds its batch and the queue; once full,
// Enqueue refuses (503 upstream); when ClickHouse is back every accepted event arrives.
func TestClickHouseOutageLosesNothing(t *testing.T) {
	ctx := context.Background()
	dsn, direct := chtest.Open(t, true)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.addr
	conn, err := schema.Open(ctx, u.String())
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
	waitFor(t, "10 rows before the outage", func() bool { return count() == 10 })

	proxy.cut()
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
	waitFor(t, "failed insert attempts", func() bool { return testutil.ToFloat64(m.insertErrors) >= 2 })
	if n := count(); n != 10 {
		t.Fatalf("rows changed during the outage: %d", n)
	}

	proxy.restore(t)
	waitFor(t, "every accepted row after the outage", func() bool { return count() == 50 })
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 50 {
		t.Fatalf("%d rows, want 50 (no loss, no duplicates)", n)
	}
}

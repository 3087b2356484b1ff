package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one anonymized row of the events table. It holds only copies, never views into
// request buffers.
type Event struct {
	Time           time.Time
	Site           string
	Type           string
	Name           string
	Host           string
	Path           string
	Query          string
	ReferrerHost   string
	UTM            UTM
	Visitor        uint64
	Browser        string
	BrowserVersion string
	OS             string
	Device         string
	PropKeys       []string
	PropValues     []string
}

// Signal names counted in the signals table.
const (
	SignalDNT = "dnt"
	SignalGPC = "gpc"
	SignalBot = "bot"
)

// SignalCount is an anonymous count of one signal for one site on one day.
type SignalCount struct {
	Day    time.Time
	Site   string
	Signal string
	Count  uint64
}

// Sink stores batches; the ClickHouse implementation is in clickhouse.go. Both calls
// must return ctx's error once ctx is done.
type Sink interface {
	WriteEvents(ctx context.Context, rows []Event) error
	WriteSignals(ctx context.Context, rows []SignalCount) error
}

// Errors returned by Enqueue; the HTTP layer answers 503 for both.
var (
	ErrQueueFull = errors.New("queue full")
	ErrClosed    = errors.New("writer closed")
)

// WriterConfig sets the queue size and flush policy.
type WriterConfig struct {
	QueueSize     int           // events held in memory (queued or in an unconfirmed batch) before Enqueue answers ErrQueueFull
	BatchRows     int           // flush when this many events are pending
	FlushInterval time.Duration // flush at least this often when anything is pending
	InsertTimeout time.Duration // one insert attempt
	RetryMin      time.Duration // first backoff after a failed insert
	RetryMax      time.Duration // backoff cap
}

// DefaultWriterConfig is used for zero fields.
var DefaultWriterConfig = WriterConfig{
	QueueSize: 100_000, BatchRows: 10_000, FlushInterval: time.Second,
	InsertTimeout: 10 * time.Second, RetryMin: 100 * time.Millisecond, RetryMax: 10 * time.Second,
}

type signalKey struct {
	day          time.Time
	site, signal string
}

// item is one queued event or signal; pointers keep the channel's buffer small.
type item struct {
	event  *Event
	signal *signalKey
}

// Writer is a bounded queue with one loop that writes batches to a Sink. Enqueue never
// blocks; a batch is dropped from memory only after the sink confirmed it.
type Writer struct {
	cfg     WriterConfig
	sink    Sink
	log     *slog.Logger
	metrics *Metrics

	q      chan item
	held   atomic.Int64 // events accepted and not yet confirmed by the sink
	mu     sync.RWMutex // guards closed against in-flight Enqueue calls
	closed bool
	stop   chan context.Context
	done   chan error

	stopping context.Context // set by the loop goroutine only, when Close was called
}

// signalSlack is room in the channel for signals beside QueueSize events.
const signalSlack = 4096

// NewWriter starts the writer loop. Call Close to drain it.
func NewWriter(cfg WriterConfig, sink Sink, log *slog.Logger, m *Metrics) *Writer {
	def := DefaultWriterConfig
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = def.QueueSize
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = def.BatchRows
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = def.FlushInterval
	}
	if cfg.InsertTimeout <= 0 {
		cfg.InsertTimeout = def.InsertTimeout
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = def.RetryMin
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(def.RetryMax, cfg.RetryMin)
	}
	w := &Writer{
		cfg: cfg, sink: sink, log: log, metrics: m,
		q: make(chan item, cfg.QueueSize+signalSlack), stop: make(chan context.Context), done: make(chan error, 1),
	}
	m.setQueueDepth(func() float64 { return float64(w.held.Load()) })
	go func() { w.done <- w.loop() }()
	return w
}

// Enqueue queues an event without blocking; ErrQueueFull when QueueSize events are
// already held.
func (w *Writer) Enqueue(e Event) error {
	if w.held.Add(1) > int64(w.cfg.QueueSize) {
		w.held.Add(-1)
		w.metrics.queueFull.Inc()
		return ErrQueueFull
	}
	if err := w.push(item{event: &e}); err != nil {
		w.held.Add(-1)
		return err
	}
	return nil
}

// CountSignal adds one to the anonymous count of signal for site on day.
func (w *Writer) CountSignal(day time.Time, site, signal string) error {
	return w.push(item{signal: &signalKey{day: Day(day), site: site, signal: signal}})
}

func (w *Writer) push(it item) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	select {
	case w.q <- it:
		return nil
	default:
		w.metrics.queueFull.Inc()
		return ErrQueueFull
	}
}

// Close stops accepting, drains the queue and writes everything pending under ctx (which
// should be a fresh shutdown context, not an already-cancelled one). It returns an error
// naming how many rows could not be written before ctx ended.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	already := w.closed
	w.closed = true
	w.mu.Unlock()
	if already {
		return ErrClosed
	}
	w.stop <- ctx
	return <-w.done
}

type pending struct {
	events  []Event
	signals map[signalKey]uint64
}

func (p *pending) add(it item) {
	if it.signal != nil {
		p.signals[*it.signal]++
		return
	}
	p.events = append(p.events, *it.event)
}

func (p *pending) empty() bool { return len(p.events) == 0 && len(p.signals) == 0 }

func (w *Writer) loop() error {
	p := &pending{signals: map[signalKey]uint64{}}
	ticker := time.NewTicker(w.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case it := <-w.q:
			p.add(it)
			if len(p.events) >= w.cfg.BatchRows {
				_ = w.flush(context.Background(), p) // fails only once stopping
			}
		case <-ticker.C:
			_ = w.flush(context.Background(), p)
		case ctx := <-w.stop:
			w.stopping = ctx
		}
		if w.stopping != nil {
			return w.drain(w.stopping, p)
		}
	}
}

// drain moves everything still queued into pending batches and writes them under ctx.
func (w *Writer) drain(ctx context.Context, p *pending) error {
	for {
		select {
		case it := <-w.q:
			p.add(it)
			if len(p.events) >= w.cfg.BatchRows {
				if err := w.flush(ctx, p); err != nil {
					return w.lost(p, len(w.q), err)
				}
			}
			continue
		default:
		}
		break
	}
	if err := w.flush(ctx, p); err != nil {
		return w.lost(p, 0, err)
	}
	return nil
}

func (w *Writer) lost(p *pending, queued int, err error) error {
	n := len(p.events) + queued
	w.log.Error("shutdown: rows not written", "events", n, "signal_rows", len(p.signals), "err", err)
	return fmt.Errorf("writer: %d events and %d signal rows not written: %w", n, len(p.signals), err)
}

// flush writes pending rows, retrying with backoff while stopCtx lives. During normal
// operation stopCtx never ends, so it retries until ClickHouse is back; meanwhile the
// queue fills and Enqueue answers ErrQueueFull, never a silent drop.
func (w *Writer) flush(stopCtx context.Context, p *pending) error {
	if p.empty() {
		return nil
	}
	backoff := w.cfg.RetryMin
	for {
		err := w.writeOnce(stopCtx, p)
		if err == nil {
			return nil
		}
		w.metrics.insertErrors.Inc()
		if stopCtx.Err() != nil {
			return err
		}
		w.log.Warn("insert failed; retrying", "err", err, "backoff", backoff, "events", len(p.events))
		select {
		case <-time.After(backoff):
		case <-stopCtx.Done():
			return stopCtx.Err()
		case ctx := <-w.stop:
			// Shutdown while ClickHouse is failing: keep retrying, now bounded by ctx;
			// the loop drains the queue once this flush returns.
			w.stopping, stopCtx = ctx, ctx
		}
		backoff = min(backoff*2, w.cfg.RetryMax)
	}
}

// writeOnce writes events, then signals; each part is cleared only once confirmed.
func (w *Writer) writeOnce(parent context.Context, p *pending) error {
	if len(p.events) > 0 {
		ctx, cancel := context.WithTimeout(parent, w.cfg.InsertTimeout)
		start := time.Now()
		err := w.sink.WriteEvents(ctx, p.events)
		cancel()
		if err != nil {
			return fmt.Errorf("write %d events: %w", len(p.events), err)
		}
		w.metrics.observeBatch("events", len(p.events), time.Since(start))
		w.held.Add(-int64(len(p.events)))
		p.events = p.events[:0]
	}
	if len(p.signals) > 0 {
		rows := make([]SignalCount, 0, len(p.signals))
		for k, n := range p.signals {
			rows = append(rows, SignalCount{Day: k.day, Site: k.site, Signal: k.signal, Count: n})
		}
		ctx, cancel := context.WithTimeout(parent, w.cfg.InsertTimeout)
		start := time.Now()
		err := w.sink.WriteSignals(ctx, rows)
		cancel()
		if err != nil {
			return fmt.Errorf("write %d signal rows: %w", len(rows), err)
		}
		w.metrics.observeBatch("signals", len(rows), time.Since(start))
		clear(p.signals)
	}
	return nil
}

package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the collector's Prometheus series.
type Metrics struct {
	reg           prometheus.Registerer
	accepted      *prometheus.CounterVec
	notStored     *prometheus.CounterVec
	queueFull     prometheus.Counter
	batchRows     *prometheus.HistogramVec
	insertLatency *prometheus.HistogramVec
	insertErrors  prometheus.Counter
}

// NewMetrics registers the collector's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "consentry_events_accepted_total", Help: "Events accepted into the write queue, by site.",
		}, []string{"site"}),
		notStored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "consentry_events_not_stored_total", Help: "Valid beacons answered 204 but deliberately not stored, by reason (dnt, gpc, bot, no_receipt).",
		}, []string{"reason"}),
		queueFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consentry_queue_full_total", Help: "Enqueue attempts refused because the write queue was full (answered 503).",
		}),
		batchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "consentry_batch_rows", Help: "Rows per successful ClickHouse insert, by table.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"table"}),
		insertLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "consentry_insert_seconds", Help: "Latency of successful ClickHouse inserts, by table.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"table"}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consentry_insert_errors_total", Help: "Failed ClickHouse insert attempts (each is retried).",
		}),
	}
	reg.MustRegister(m.accepted, m.notStored, m.queueFull, m.batchRows, m.insertLatency, m.insertErrors)
	return m
}

func (m *Metrics) setQueueDepth(f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "consentry_queue_depth", Help: "Items waiting in the write queue.",
	}, f))
}

func (m *Metrics) observeBatch(table string, rows int, took time.Duration) {
	m.batchRows.WithLabelValues(table).Observe(float64(rows))
	m.insertLatency.WithLabelValues(table).Observe(took.Seconds())
}

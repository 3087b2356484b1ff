package collector

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/consentry/consentry/consent"
)

// Request is a parsed beacon with the request facts anonymization needs. The Beacon's
// strings are queued and so must be owned by the caller; UserAgent may be a view into a
// reused request buffer, because nothing keeps it beyond Collect (the agent cache copies).
type Request struct {
	Beacon            Beacon
	ClientIP          netip.Addr
	UserAgent         string
	HasAcceptLanguage bool
	DNT               bool // DNT: 1
	GPC               bool // Sec-GPC: 1
}

// Reasons a valid beacon is not stored; they label consentry_events_not_stored_total,
// along with the consent reasons (consent.ReasonNoReceipt, ReasonInvalid, …).
const (
	ReasonDNT    = "dnt"
	ReasonGPC    = "gpc"
	ReasonBot    = "bot"
	ReasonBadURL = "bad_url"
)

// Permitter checks a consent receipt; consent.Service implements it.
type Permitter interface {
	Permit(site *consent.Site, token, technology string) (consent.Receipt, string)
}

// MaxUserAgent bounds the bytes of a user agent that are parsed, cached and hashed, so
// the parse cache's memory is bounded too (ua-cache entries of at most this size).
const MaxUserAgent = 512

// Outcome says whether an event was queued for storage and, if not, why.
type Outcome struct {
	Stored bool
	Reason string
}

// Queue takes anonymized rows; Writer implements it.
type Queue interface {
	Enqueue(Event) error
	CountSignal(day time.Time, site, signal string) error
}

// Collector turns beacons into anonymized events, honouring DNT, GPC and consent.
type Collector struct {
	agents  *AgentParser
	hasher  *Hasher
	queue   Queue
	permits Permitter
	metrics *Metrics
	now     func() time.Time
}

// New returns a Collector; now is the clock (time.Now if nil).
func New(agents *AgentParser, hasher *Hasher, queue Queue, permits Permitter, m *Metrics, now func() time.Time) *Collector {
	if now == nil {
		now = time.Now
	}
	return &Collector{agents: agents, hasher: hasher, queue: queue, permits: permits, metrics: m, now: now}
}

// Collect decides whether r may be stored for site and, if so, queues its anonymized
// event. Not storing is a normal Outcome; an error means the event could not be queued.
func (c *Collector) Collect(ctx context.Context, site *consent.Site, r Request) (Outcome, error) {
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	now := c.now().UTC()
	permit := ""
	var rc consent.Receipt
	if site.AnalyticsMode != consent.ModeExempt {
		rc, permit = c.permits.Permit(site, r.Beacon.Receipt, "beacon")
	}
	// Privacy rule 1: DNT or GPC means only an anonymous per-site daily count of the
	// signal, unless the visitor's valid receipt records an explicit choice that
	// overrode the signal (honor_signals: allow_explicit).
	if (r.DNT || r.GPC) && !(permit == "" && rc.Override) {
		reason := ReasonGPC
		if r.DNT {
			reason = ReasonDNT
			if err := c.queue.CountSignal(now, site.ID, SignalDNT); err != nil {
				return Outcome{}, err
			}
		}
		if r.GPC {
			if err := c.queue.CountSignal(now, site.ID, SignalGPC); err != nil {
				return Outcome{}, err
			}
		}
		return c.notStored(reason), nil
	}
	if len(r.UserAgent) > MaxUserAgent {
		r.UserAgent = r.UserAgent[:MaxUserAgent] // enough to classify and hash; the cache copies it
	}
	agent := c.agents.Parse(r.UserAgent)
	if agent.Bot || !r.HasAcceptLanguage {
		if err := c.queue.CountSignal(now, site.ID, SignalBot); err != nil {
			return Outcome{}, err
		}
		return c.notStored(ReasonBot), nil
	}
	if permit != "" {
		return c.notStored(permit), nil
	}
	e, ok := c.anonymize(site, r, agent, now)
	if !ok {
		return c.notStored(ReasonBadURL), nil
	}
	v, err := c.hasher.Visitor(site.ID, r.ClientIP, r.UserAgent)
	if err != nil {
		return Outcome{}, fmt.Errorf("visitor hash: %w", err)
	}
	e.Visitor = v
	if err := c.queue.Enqueue(e); err != nil {
		return Outcome{}, err
	}
	c.metrics.accepted.WithLabelValues(site.ID).Inc()
	return Outcome{Stored: true}, nil
}

func (c *Collector) notStored(reason string) Outcome {
	c.metrics.notStored.WithLabelValues(reason).Inc()
	return Outcome{Reason: reason}
}

// anonymize keeps only what the privacy rules allow of r.
func (c *Collector) anonymize(site *consent.Site, r Request, a Agent, now time.Time) (Event, bool) {
	secrets := []string{r.UserAgent, r.ClientIP.String()}
	u, ok := ScrubURL(r.Beacon.URL, site.AllowsQueryParam, secrets...)
	if !ok {
		return Event{}, false
	}
	e := Event{
		Time:           now,
		Site:           site.ID,
		Type:           r.Beacon.Type,
		Name:           ScrubText(r.Beacon.Name, secrets...),
		Host:           u.Host,
		Path:           u.Path,
		Query:          u.Query,
		UTM:            u.UTM,
		ReferrerHost:   ReferrerHost(r.Beacon.Referrer, func(h string) bool { return h == u.Host || site.IsOwnHost(h) }),
		Browser:        a.Browser,
		BrowserVersion: a.Version,
		OS:             a.OS,
		Device:         a.Device,
	}
	if n := len(r.Beacon.Props); n > 0 {
		e.PropKeys, e.PropValues = make([]string, 0, n), make([]string, 0, n)
		for _, k := range slices.Sorted(maps.Keys(r.Beacon.Props)) {
			e.PropKeys = append(e.PropKeys, ScrubText(k, secrets...))
			e.PropValues = append(e.PropValues, ScrubText(r.Beacon.Props[k], secrets...))
		}
	}
	return e, true
}

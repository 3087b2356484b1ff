package consent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a receipt does not permit storing an event; they label the collector's
// consentry_events_not_stored_total.
const (
	ReasonNoReceipt = "no_receipt"
	ReasonInvalid   = "invalid"
	ReasonExpired   = "expired"
	ReasonOutdated  = "outdated"
	ReasonDenied    = "denied"
	ReasonWithdrawn = "withdrawn"
)

// Errors of the visitor and admin routes.
var (
	ErrSubjectGone = errors.New("this consent id was erased")
	ErrMalformedID = errors.New("not a consent id (22 base64url characters)")
)

// Service is the consent ledger as the HTTP layer and the collector use it.
type Service struct {
	Sites       *Sites
	Receipts    *Receipts
	Ledger      *Ledger
	Revocations *Revocations
	Store       *Store
	Feeder      *Feeder
	Now         func() time.Time
	// ErasurePoll bounds how long an erasure waits for ClickHouse's background delete
	// before answering that it is still running.
	ErasurePoll time.Duration
}

// Issued is a durable decision and its signed receipt.
type Issued struct {
	Token    string
	Decision Decision
}

// Decide records a visitor's decision durably and returns its receipt. A previous
// receipt keeps the consent id only if it verifies for this site and was not erased.
func (s *Service) Decide(ctx context.Context, site *Site, req DecisionRequest, sig Signal) (Issued, error) {
	var prev *Receipt
	if req.Receipt != "" {
		if rc, err := s.Receipts.Verify(site, req.Receipt); err == nil && !s.Revocations.Erased(rc.Digest) {
			prev = &rc
		}
	}
	d, err := Decide(site, req, prev, sig, s.Now())
	if err != nil {
		return Issued{}, err
	}
	token, err := s.Receipts.Sign(site, &d)
	if err != nil {
		return Issued{}, err
	}
	if err := s.Ledger.Record(ctx, d); err != nil {
		return Issued{}, err
	}
	if d.Method == MethodWithdraw {
		s.Revocations.Add(Revocation{Digest: Digest(d.ConsentID), At: d.DecidedAt})
	}
	return Issued{Token: token, Decision: d}, nil
}

// Permit says whether token allows storing an event of the given technology (beacon,
// pixel, link) for site: the receipt must verify, be unexpired, name the current
// policy version, not be revoked, and grant the technology's category. It returns the
// verified receipt (if any) and "" or the reason it does not permit.
func (s *Service) Permit(site *Site, token, technology string) (Receipt, string) {
	if token == "" {
		return Receipt{}, ReasonNoReceipt
	}
	rc, err := s.Receipts.Check(site, token, s.Now())
	switch {
	case errors.Is(err, ErrReceiptExpired):
		return rc, ReasonExpired
	case errors.Is(err, ErrReceiptOutdated):
		return rc, ReasonOutdated
	case err != nil:
		return Receipt{}, ReasonInvalid
	case s.Revocations.Revoked(rc):
		return rc, ReasonWithdrawn
	}
	bit, ok := site.CategoryBit(site.CategoryFor(technology))
	if !ok || rc.Granted&bit == 0 {
		return rc, ReasonDenied
	}
	return rc, ""
}

// Status is what a visitor learns about their own consent from GET /v1/consent/me.
type Status struct {
	ConsentID       string     `json:"consent_id"`
	Site            string     `json:"site"`
	PolicyVersion   string     `json:"policy_version"`
	CurrentPolicy   string     `json:"current_policy_version"`
	Granted         []string   `json:"granted"`
	IssuedAt        time.Time  `json:"issued_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	Expired         bool       `json:"expired"`
	Outdated        bool       `json:"outdated"`
	Withdrawn       bool       `json:"withdrawn"`
	ReconsentNeeded bool       `json:"reconsent_needed"`
	History         []Decision `json:"history"`
	// Banners are the banners the history's decisions were made on, by banner_version:
	// what the visitor was shown, as the ledger recorded it.
	Banners map[string]ShownBanner `json:"banners"`
}

// Subject verifies a visitor's own receipt, expired or not, and returns its site.
func (s *Service) Subject(token string) (*Site, Receipt, error) {
	rc, err := s.Receipts.VerifyAnySite(token)
	if err != nil {
		return nil, Receipt{}, err
	}
	site := s.Sites.Lookup(rc.Site)
	if site == nil {
		return nil, Receipt{}, fmt.Errorf("%w: site %q is not configured", ErrReceiptInvalid, rc.Site)
	}
	if s.Revocations.Erased(rc.Digest) {
		return nil, Receipt{}, ErrSubjectGone
	}
	return site, rc, nil
}

// Me returns the state and history of the consent id of a receipt that Subject verified.
func (s *Service) Me(ctx context.Context, site *Site, rc Receipt) (Status, error) {
	hist, err := s.Store.History(ctx, site.ID, rc.ConsentID)
	if err != nil {
		return Status{}, err
	}
	shown, err := s.Store.Shown(ctx, site.ID, hist)
	if err != nil {
		return Status{}, err
	}
	now := s.Now()
	st := Status{
		ConsentID: rc.ConsentID, Site: site.ID, PolicyVersion: rc.PolicyVersion, CurrentPolicy: site.PolicyVersion,
		Granted: site.CategoryIDs(rc.Granted), IssuedAt: rc.IssuedAt.UTC(), ExpiresAt: rc.ExpiresAt.UTC(),
		Expired: rc.Expired(now), Outdated: rc.Outdated(site),
		Withdrawn: s.Revocations.Revoked(rc), History: hist, Banners: shown,
	}
	st.ReconsentNeeded = st.Expired || st.Outdated || st.Withdrawn
	return st, nil
}

// Erasure says what became of an erasure request.
type Erasure struct {
	ConsentID  string    `json:"consent_id"`
	Complete   bool      `json:"complete"`
	CompleteBy time.Time `json:"complete_by"`
}

// erasureBound is the promise made to a visitor whose erasure is still running:
// ClickHouse applies deletes as background mutations, which take seconds here.
const erasureBound = 10 * time.Minute

// Erase deletes every decision of a consent id (site "" for any site), revokes its
// receipts and keeps only an anonymous count. It waits up to ErasurePoll for
// ClickHouse's background delete and says whether it finished or when it will have.
func (s *Service) Erase(ctx context.Context, site, consentID string) (Erasure, error) {
	now := s.Now().UTC()
	if err := s.Store.Erase(ctx, site, consentID, now); err != nil {
		return Erasure{}, err
	}
	s.Revocations.Add(Revocation{Digest: Digest(consentID), At: now, Erased: true})
	e := Erasure{ConsentID: consentID, CompleteBy: now.Add(erasureBound)}
	deadline := time.Now().Add(s.ErasurePoll)
	for {
		n, err := s.Store.Remaining(ctx, consentID)
		if err != nil {
			return Erasure{}, err
		}
		if n == 0 {
			e.Complete, e.CompleteBy = true, s.Now().UTC()
			return e, nil
		}
		if !time.Now().Before(deadline) {
			return e, nil
		}
		select {
		case <-ctx.Done():
			return e, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ServiceConfig configures a Service.
type ServiceConfig struct {
	Issuer            string // receipts' iss
	ReceiptCache      int    // verified receipts kept in memory
	Ledger            LedgerConfig
	RevocationRefresh time.Duration // how often other replicas' revocations are read
	ErasurePoll       time.Duration
	StatsInterval     time.Duration    // how often consent_daily is fed from consents
	StatsOverlap      time.Duration    // how far back each feed re-reads (see NewFeeder)
	Now               func() time.Time // clock; time.Now if nil
	Banners           []BannerVersion  // the banners served, recorded at start (banner.Banners.Versions)
}

// Start checks and records the sites' policy versions and banners, loads the revocation
// set, starts the ledger's committer and, until ctx ends, the revocation refresh. Close
// the Ledger on shutdown.
func Start(ctx context.Context, conn driver.Conn, sites *Sites, keys *KeySet, cfg ServiceConfig, reg prometheus.Registerer, log *slog.Logger) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	store := NewStore(conn)
	if err := store.CheckPolicies(ctx, sites, cfg.Now()); err != nil {
		return nil, err
	}
	if err := store.RecordBanners(ctx, cfg.Banners, cfg.Now()); err != nil {
		return nil, err
	}
	receipts, err := NewReceipts(keys, cfg.Issuer, cfg.ReceiptCache)
	if err != nil {
		return nil, err
	}
	revs := NewRevocations(store, cfg.Now)
	if err := revs.Refresh(ctx); err != nil {
		return nil, err
	}
	go revs.Run(ctx, cfg.RevocationRefresh, func(err error) { log.Error("revocation refresh failed", "err", err) })
	feeder := NewFeeder(store, cfg.StatsOverlap, cfg.Now)
	if err := feeder.Once(ctx); err != nil {
		return nil, err
	}
	go feeder.Run(ctx, cfg.StatsInterval, func(err error) { log.Error("consent statistics feed failed", "err", err) })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "consentry_revoked_consent_ids", Help: "Consent ids in this replica's revocation set.",
	}, func() float64 { return float64(revs.Len()) }), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "consentry_revocations_refreshed_timestamp_seconds",
		Help: "When this replica last read other replicas' withdrawals; alert if it lags --revocation-refresh by much.",
	}, func() float64 { return float64(revs.Refreshed().Unix()) }))
	return &Service{
		Sites: sites, Receipts: receipts, Ledger: NewLedger(cfg.Ledger, store, reg, log), Revocations: revs,
		Store: store, Feeder: feeder, Now: cfg.Now, ErasurePoll: cfg.ErasurePoll,
	}, nil
}

// Stats returns daily decision statistics of a site (see Store.Stats), feeding the
// latest decisions first so the answer is current.
func (s *Service) Stats(ctx context.Context, site string, from, to time.Time) ([]DayStats, error) {
	if err := s.Feeder.Once(ctx); err != nil {
		return nil, err
	}
	return s.Store.Stats(ctx, site, from, to)
}

// Export returns every decision of a consent id, on any site, oldest first.
func (s *Service) Export(ctx context.Context, consentID string) ([]Decision, error) {
	if !validID(consentID) {
		return nil, ErrMalformedID
	}
	return s.Store.History(ctx, "", consentID)
}

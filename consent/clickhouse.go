package consent

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/consentry/consentry/schema"
)

// Store keeps the ledger, revocations and erasure counts in ClickHouse.
type Store struct {
	conn driver.Conn
}

// NewStore wraps a connection whose database has been migrated.
func NewStore(conn driver.Conn) *Store { return &Store{conn: conn} }

// Explicit column lists: ClickHouse 18.16 needs them in PrepareBatch inserts.
const (
	insertConsents = `INSERT INTO consents (decision_id, consent_id, site, policy_version, granted, denied,
		method, signal, override, banner_version, lang, decided_at, decided_ms, expires_at)`
	insertRevocations = `INSERT INTO revocations (revoked_at, digest, site, reason)`
	insertErasures    = `INSERT INTO erasures (day, site, count)`
	// consentColumns is what history and export read back, in scan order.
	consentColumns = `decision_id, consent_id, site, policy_version, granted, denied, toString(method),
		toString(signal), override, banner_version, lang, decided_ms, expires_at`
)

// Revocation reasons, as stored.
const (
	RevokeWithdraw = "withdraw"
	RevokeErase    = "erase"
)

// WriteDecisions inserts decisions as one batch and, for withdrawals, their revocations.
// Retrying after an ambiguous failure is safe: both tables replace rows with equal keys.
func (s *Store) WriteDecisions(ctx context.Context, ds []Decision) error {
	batch, err := s.conn.PrepareBatch(ctx, insertConsents)
	if err != nil {
		return fmt.Errorf("prepare consents batch: %w", err)
	}
	defer batch.Close()
	var revoked []Decision
	for i := range ds {
		d := &ds[i]
		override := uint8(0)
		if d.Override {
			override = 1
		}
		if err := batch.Append(d.ID, d.ConsentID, d.Site, d.PolicyVersion, nonNil(d.GrantedIDs), nonNil(d.DeniedIDs),
			string(d.Method), string(d.Signal), override, d.BannerVersion, d.Lang, d.DecidedAt, uint64(d.DecidedAt.UnixMilli()), d.ExpiresAt); err != nil {
			return fmt.Errorf("append consent: %w", err)
		}
		if d.Method == MethodWithdraw {
			revoked = append(revoked, *d)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send consents batch: %w", err)
	}
	if len(revoked) == 0 {
		return nil
	}
	rb, err := s.conn.PrepareBatch(ctx, insertRevocations)
	if err != nil {
		return fmt.Errorf("prepare revocations batch: %w", err)
	}
	defer rb.Close()
	for _, d := range revoked {
		if err := rb.Append(d.DecidedAt, digestHex(d.ConsentID), d.Site, RevokeWithdraw); err != nil {
			return fmt.Errorf("append revocation: %w", err)
		}
	}
	if err := rb.Send(); err != nil {
		return fmt.Errorf("send revocations batch: %w", err)
	}
	return nil
}

// Feed copies the decisions made at or after since from consents into consent_feed,
// whose materialized view keeps consent_daily. Repeating it changes no count.
func (s *Store) Feed(ctx context.Context, since time.Time) error {
	// An integer, formatted here: ClickHouse 18.16 takes no bound values in INSERT ... SELECT.
	q := fmt.Sprintf(`INSERT INTO consent_feed (decision_id, site, granted, denied, method, signal, decided_at)
		SELECT decision_id, site, granted, denied, method, signal, decided_at FROM consents
		WHERE decided_at >= toDateTime(%d)`, since.Unix())
	if err := s.conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("feed consent_daily: %w", err)
	}
	return nil
}

// Revocation is one revoked consent id (by digest) and when.
type Revocation struct {
	Digest [16]byte
	At     time.Time
	Erased bool
}

// RevocationsSince returns the latest revocation per digest among those at or after since.
func (s *Store) RevocationsSince(ctx context.Context, since time.Time) ([]Revocation, error) {
	rows, err := s.conn.Query(ctx, `SELECT digest, max(revoked_at), max(reason = 'erase')
		FROM revocations WHERE revoked_at >= toDateTime(?) GROUP BY digest`, since.Unix())
	if err != nil {
		return nil, fmt.Errorf("read revocations: %w", err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var (
			h      string
			at     time.Time
			erased uint8
		)
		if err := rows.Scan(&h, &at, &erased); err != nil {
			return nil, fmt.Errorf("read revocations: %w", err)
		}
		var r Revocation
		if n, err := hex.Decode(r.Digest[:], []byte(h)); err != nil || n != len(r.Digest) {
			return nil, fmt.Errorf("read revocations: bad digest %q", h)
		}
		r.At, r.Erased = at, erased == 1
		out = append(out, r)
	}
	return out, rows.Err()
}

// History returns every decision of one consent id, oldest first; site "" means any site.
func (s *Store) History(ctx context.Context, site, consentID string) ([]Decision, error) {
	q := `SELECT ` + consentColumns + ` FROM consents FINAL WHERE consent_id = ?`
	args := []any{consentID}
	if site != "" {
		q += ` AND site = ?`
		args = append(args, site)
	}
	rows, err := s.conn.Query(ctx, q+` ORDER BY decided_ms, decision_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer rows.Close()
	out := []Decision{}
	for rows.Next() {
		var (
			d         Decision
			method    string
			signal    string
			override  uint8
			decidedMs uint64
		)
		if err := rows.Scan(&d.ID, &d.ConsentID, &d.Site, &d.PolicyVersion, &d.GrantedIDs, &d.DeniedIDs,
			&method, &signal, &override, &d.BannerVersion, &d.Lang, &decidedMs, &d.ExpiresAt); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		d.Method, d.Signal, d.Override = Method(method), Signal(signal), override == 1
		d.DecidedAt, d.ExpiresAt = time.UnixMilli(int64(decidedMs)).UTC(), d.ExpiresAt.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// Erase revokes every receipt of a consent id, counts the erasure anonymously and
// deletes the id's rows from consents. ClickHouse deletes in a background mutation;
// Remaining tells when it is done. site "" erases the id on every site.
func (s *Store) Erase(ctx context.Context, site, consentID string, now time.Time) error {
	if !validID(consentID) || (site != "" && !idPattern.MatchString(site)) {
		return fmt.Errorf("erase: malformed consent id or site")
	}
	sites := []string{site}
	if site == "" {
		var err error
		if sites, err = s.sitesOf(ctx, consentID); err != nil {
			return err
		}
	}
	for _, st := range sites {
		// Revoke first: if the delete fails midway, the receipts are already dead.
		if err := schema.InsertRow(ctx, s.conn, insertRevocations, now, digestHex(consentID), st, RevokeErase); err != nil {
			return fmt.Errorf("erase: revoke: %w", err)
		}
		if err := schema.InsertRow(ctx, s.conn, insertErasures, now, st, uint64(1)); err != nil {
			return fmt.Errorf("erase: count: %w", err)
		}
	}
	// Both values are checked above to be [A-Za-z0-9_-] only; ALTER takes no bound values on 18.16.
	if err := s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE consents DELETE WHERE consent_id = '%s'", consentID)); err != nil {
		return fmt.Errorf("erase: delete: %w", err)
	}
	return nil
}

func (s *Store) sitesOf(ctx context.Context, consentID string) ([]string, error) {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT site FROM consents WHERE consent_id = ?`, consentID)
	if err != nil {
		return nil, fmt.Errorf("erase: find sites: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var st string
		if err := rows.Scan(&st); err != nil {
			return nil, fmt.Errorf("erase: find sites: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Remaining counts the rows of a consent id not yet deleted.
func (s *Store) Remaining(ctx context.Context, consentID string) (uint64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, `SELECT count() FROM consents WHERE consent_id = ?`, consentID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count remaining rows: %w", err)
	}
	return n, nil
}

// digestHex is a consent id's revocation digest as the revocations table stores it.
func digestHex(consentID string) string {
	d := Digest(consentID)
	return hex.EncodeToString(d[:])
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

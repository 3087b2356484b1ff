package consent

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Receipt is what a verified receipt proves: who (a random consent id), which site,
// which policy version, which categories, how and when.
type Receipt struct {
	ConsentID     string
	DecisionID    string
	Site          string
	PolicyVersion string
	Granted       uint64 // mask in the site's category order
	Method        Method
	Signal        Signal
	Override      bool // an explicit choice overrode the signal (honor_signals: allow_explicit)
	IssuedAt      time.Time
	ExpiresAt     time.Time
	// Digest identifies the consent id in the revocation set without storing the id.
	Digest [16]byte
}

// receiptClaims is the JWT body; short names keep receipts small (they ride in a cookie
// and in every beacon). aud is a single string, as RFC 7519 allows.
type receiptClaims struct {
	Issuer        string `json:"iss"`
	Subject       string `json:"sub"`
	Audience      string `json:"aud"`
	ID            string `json:"jti"`
	IssuedAt      int64  `json:"iat"`
	ExpiresAt     int64  `json:"exp"`
	PolicyVersion string `json:"pv"`
	Granted       uint64 `json:"g"`
	Method        Method `json:"m"`
	Signals       int    `json:"s,omitempty"` // 1 DNT, 2 GPC, 3 both; omitted when none
	Override      int    `json:"o,omitempty"` // 1 if an explicit choice overrode the signal
}

// The jwt.Claims methods; validation itself is Receipts' own (it may accept expiry).
func (c *receiptClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.ExpiresAt, 0)), nil
}
func (c *receiptClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.IssuedAt, 0)), nil
}
func (c *receiptClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (c *receiptClaims) GetIssuer() (string, error)              { return c.Issuer, nil }
func (c *receiptClaims) GetSubject() (string, error)             { return c.Subject, nil }
func (c *receiptClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// signalBits is a receipt's compact form of a signal (receipts ride in every beacon).
var (
	signalBits = map[Signal]int{SignalNone: 0, SignalDNT: 1, SignalGPC: 2, SignalBoth: 3}
	bitSignals = func() map[int]Signal {
		m := make(map[int]Signal, len(signalBits))
		for sig, bits := range signalBits {
			m[bits] = sig
		}
		return m
	}()
)

func boolBit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Receipt errors; a reason label each, used by the collector's metrics and by /v1/consent/me.
var (
	ErrReceiptInvalid  = errors.New("receipt does not verify")
	ErrReceiptExpired  = errors.New("receipt expired")
	ErrReceiptOutdated = errors.New("receipt is for an older policy version")
)

// Receipts signs and verifies receipts with a key set. Verification results are cached
// by token, so a visitor's repeated beacons cost one signature check; expiry, policy
// version and revocation are still checked on every use.
type Receipts struct {
	keys   *KeySet
	issuer string
	parser *jwt.Parser
	cache  *lru.Cache[string, Receipt]
}

// NewReceipts returns a signer and verifier for issuer; cacheSize bounds the cache of
// verified receipts (0 disables it).
func NewReceipts(keys *KeySet, issuer string, cacheSize int) (*Receipts, error) {
	r := &Receipts{
		keys:   keys,
		issuer: issuer,
		// Pinned to EdDSA: alg none, HS256-with-the-public-key and the like never reach a key.
		// Claims are checked by Verify/Check, which may accept an expired receipt.
		parser: jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithoutClaimsValidation()),
	}
	if cacheSize > 0 {
		c, err := lru.New[string, Receipt](cacheSize)
		if err != nil {
			return nil, fmt.Errorf("receipt cache: %w", err)
		}
		r.cache = c
	}
	return r, nil
}

// Sign issues the receipt for a decision.
func (r *Receipts) Sign(site *Site, d *Decision) (string, error) {
	claims := &receiptClaims{
		Issuer:        r.issuer,
		Subject:       d.ConsentID,
		Audience:      site.ID,
		ID:            d.ID,
		IssuedAt:      d.DecidedAt.Unix(),
		ExpiresAt:     d.ExpiresAt.Unix(),
		PolicyVersion: d.PolicyVersion,
		Granted:       d.Granted,
		Method:        d.Method,
		Signals:       signalBits[d.Signal],
		Override:      boolBit(d.Override),
	}
	k := r.keys.Signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = k.ID
	delete(tok.Header, "typ") // optional (RFC 7519 5.1); 20 bytes of every beacon
	s, err := tok.SignedString(k.Private)
	if err != nil {
		return "", fmt.Errorf("sign receipt: %w", err)
	}
	return s, nil
}

// Verify checks a receipt's signature, algorithm, key id, issuer and audience (the
// site), but neither expiry nor policy version: an expired receipt still proves who
// the visitor is for their history, erasure, and to keep their consent id.
func (r *Receipts) Verify(site *Site, token string) (Receipt, error) {
	rc, err := r.VerifyAnySite(token)
	if err != nil {
		return Receipt{}, err
	}
	if rc.Site != site.ID {
		return Receipt{}, fmt.Errorf("%w: audience %q is another site", ErrReceiptInvalid, rc.Site)
	}
	return rc, nil
}

// VerifyAnySite is Verify without the audience check, for callers that learn the site
// from the receipt itself and must then look it up.
func (r *Receipts) VerifyAnySite(token string) (Receipt, error) {
	if r.cache != nil {
		if rc, ok := r.cache.Get(token); ok {
			return rc, nil
		}
	}
	var c receiptClaims
	_, err := r.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := r.keys.ReceiptKey(kid)
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return k.Public(), nil
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("%w: %w", ErrReceiptInvalid, err)
	}
	rc, err := r.fromClaims(&c)
	if err != nil {
		return Receipt{}, err
	}
	if r.cache != nil {
		r.cache.Add(token, rc)
	}
	return rc, nil
}

func (r *Receipts) fromClaims(c *receiptClaims) (Receipt, error) {
	switch {
	case c.Issuer != r.issuer:
		return Receipt{}, fmt.Errorf("%w: issuer %q", ErrReceiptInvalid, c.Issuer)
	case c.Audience == "":
		return Receipt{}, fmt.Errorf("%w: no audience", ErrReceiptInvalid)
	case !validID(c.Subject) || !validID(c.ID):
		return Receipt{}, fmt.Errorf("%w: malformed sub or jti", ErrReceiptInvalid)
	case c.IssuedAt <= 0 || c.ExpiresAt <= c.IssuedAt:
		return Receipt{}, fmt.Errorf("%w: iat and exp are required", ErrReceiptInvalid)
	}
	sig, ok := bitSignals[c.Signals]
	if !ok {
		return Receipt{}, fmt.Errorf("%w: signal bits %d", ErrReceiptInvalid, c.Signals)
	}
	return Receipt{
		ConsentID:     c.Subject,
		DecisionID:    c.ID,
		Site:          c.Audience,
		PolicyVersion: c.PolicyVersion,
		Granted:       c.Granted,
		Method:        c.Method,
		Signal:        sig,
		Override:      c.Override == 1,
		IssuedAt:      time.Unix(c.IssuedAt, 0).UTC(),
		ExpiresAt:     time.Unix(c.ExpiresAt, 0).UTC(),
		Digest:        Digest(c.Subject),
	}, nil
}

// Check verifies a receipt for use now: it must verify, be unexpired and name the
// site's current policy version. Revocation is the caller's check (see Revocations).
func (r *Receipts) Check(site *Site, token string, now time.Time) (Receipt, error) {
	rc, err := r.Verify(site, token)
	if err != nil {
		return Receipt{}, err
	}
	if rc.Expired(now) {
		return rc, ErrReceiptExpired
	}
	if rc.Outdated(site) {
		return rc, ErrReceiptOutdated
	}
	return rc, nil
}

// Expired reports whether the receipt has expired at now.
func (rc Receipt) Expired(now time.Time) bool { return !now.Before(rc.ExpiresAt) }

// Outdated reports whether the receipt names another policy version than the site's.
func (rc Receipt) Outdated(site *Site) bool { return rc.PolicyVersion != site.PolicyVersion }

// Digest is the revocation-set key of a consent id: a one-way hash, so erasing a
// subject leaves no copy of their id while their old receipts stay revoked.
func Digest(consentID string) [16]byte {
	sum := sha256.Sum256([]byte(consentID))
	var d [16]byte
	copy(d[:], sum[:16])
	return d
}

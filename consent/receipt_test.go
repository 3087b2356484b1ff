package consent_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/consent/consenttest"
)

const issuer = "https://consent.example.com"

// fourCategories is the size the receipt budget is stated for.
const fourCategories = `
sites:
  - id: shop
    origins: ["https://shop.example"]
    policy_version: "2026-11-01"
    categories:
      - {id: necessary, required: true}
      - {id: preferences, technologies: [storage]}
      - {id: analytics, technologies: [beacon]}
      - {id: marketing, technologies: [pixel]}
  - id: blog
    origins: ["https://blog.example"]
    policy_version: "b1"
    honor_signals: allow_explicit
    categories:
      - {id: necessary, required: true}
      - {id: analytics, technologies: [beacon]}
`

func testSites(t *testing.T) *consent.Sites {
	t.Helper()
	ss, err := consent.ParseSites("test.yaml", []byte(fourCategories))
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func newKeys(t *testing.T) *consent.KeySet {
	t.Helper()
	ks, err := consent.GenerateKeySet()
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func decide(t *testing.T, site *consent.Site, body string, prev *consent.Receipt, sig consent.Signal, now time.Time) consent.Decision {
	t.Helper()
	req, err := consent.ParseDecision([]byte(body), consent.DefaultDecisionLimits)
	if err != nil {
		t.Fatal(err)
	}
	d, err := consent.Decide(site, req, prev, sig, now)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestReceiptRoundTripAndSize(t *testing.T) {
	shop := testSites(t).Lookup("shop")
	keys := newKeys(t)
	r, err := consent.NewReceipts(keys, issuer, 10)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	d := decide(t, shop, `{"site":"shop","method":"custom","choices":{"analytics":true,"marketing":false}}`, nil, consent.SignalGPC, now)
	tok, err := r.Sign(shop, &d)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > 400 {
		t.Errorf("receipt is %d bytes, budget 400: %s", len(tok), tok)
	}
	t.Logf("receipt for 4 categories: %d bytes", len(tok))
	for _, cached := range []string{"first", "cached"} {
		rc, err := r.Check(shop, tok, now.Add(time.Hour))
		if err != nil {
			t.Fatalf("%s: %v", cached, err)
		}
		if rc.ConsentID != d.ConsentID || rc.DecisionID != d.ID || rc.Site != "shop" || rc.PolicyVersion != "2026-11-01" ||
			rc.Method != consent.MethodCustom || rc.Signal != consent.SignalGPC || !rc.IssuedAt.Equal(now) || !rc.ExpiresAt.Equal(now.AddDate(0, 0, 182)) {
			t.Fatalf("%s: receipt %+v from decision %+v", cached, rc, d)
		}
		if got := shop.CategoryIDs(rc.Granted); strings.Join(got, ",") != "necessary" {
			t.Fatalf("strict GPC must leave only necessary granted, got %v", got)
		}
	}
	// The budget holds for the longest forms: accept all with both signals on (strict
	// site), and an explicit choice that overrode both (allow_explicit site).
	blog := testSites(t).Lookup("blog")
	for _, c := range []struct {
		site *consent.Site
		body string
	}{
		{shop, `{"site":"shop","method":"accept_all"}`},
		{shop, `{"site":"shop","method":"reject_all"}`},
		{blog, `{"site":"blog","method":"custom","choices":{"analytics":true}}`},
	} {
		d := decide(t, c.site, c.body, nil, consent.SignalBoth, now)
		long, _ := r.Sign(c.site, &d)
		rc, err := r.Verify(c.site, long)
		if len(long) > 400 || err != nil || rc.Signal != consent.SignalBoth || rc.Override != d.Override {
			t.Errorf("%s: %d bytes (budget 400), %+v, %v", c.body, len(long), rc, err)
		}
	}
	var hdr map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	_ = json.Unmarshal(raw, &hdr)
	if hdr["alg"] != "EdDSA" || hdr["kid"] != keys.Signer().ID {
		t.Fatalf("header %v", hdr)
	}
}

func TestReceiptTamperingIsRefused(t *testing.T) {
	ss := testSites(t)
	shop, blog := ss.Lookup("shop"), ss.Lookup("blog")
	keys := newKeys(t)
	r, _ := consent.NewReceipts(keys, issuer, 10)
	now := time.Now()
	d := decide(t, shop, `{"site":"shop","method":"reject_all"}`, nil, consent.SignalNone, now)
	valid := consenttest.Sign(t, keys, issuer, shop, d)
	if _, err := r.Check(shop, valid, now); err != nil {
		t.Fatalf("the untampered receipt must pass: %v", err)
	}
	for name, tok := range consenttest.Tampered(t, valid, keys) {
		if _, err := r.Check(shop, tok, now); !errors.Is(err, consent.ErrReceiptInvalid) {
			t.Errorf("%s: want ErrReceiptInvalid, got %v", name, err)
		}
	}
	if _, err := r.Check(blog, valid, now); !errors.Is(err, consent.ErrReceiptInvalid) {
		t.Errorf("other site's audience: want ErrReceiptInvalid, got %v", err)
	}
	if _, err := r.Check(shop, consenttest.Sign(t, keys, "https://evil.example", shop, d), now); !errors.Is(err, consent.ErrReceiptInvalid) {
		t.Errorf("other issuer: want ErrReceiptInvalid, got %v", err)
	}
	if _, err := r.Check(shop, valid, d.ExpiresAt); !errors.Is(err, consent.ErrReceiptExpired) {
		t.Errorf("expired: want ErrReceiptExpired, got %v", err)
	}
	old := d
	old.PolicyVersion = "2026-01-01"
	if _, err := r.Check(shop, consenttest.Sign(t, keys, issuer, shop, old), now); !errors.Is(err, consent.ErrReceiptOutdated) {
		t.Errorf("outdated: want ErrReceiptOutdated, got %v", err)
	}
	// An expired receipt still verifies: it proves who the visitor is for their own records.
	if _, err := r.Verify(shop, valid); err != nil {
		t.Errorf("Verify ignores expiry: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	shop := testSites(t).Lookup("shop")
	keys := newKeys(t)
	before, _ := consent.NewReceipts(keys, issuer, 0)
	d := decide(t, shop, `{"site":"shop","method":"accept_all"}`, nil, consent.SignalNone, time.Now())
	oldTok, _ := before.Sign(shop, &d)

	data, err := consent.MarshalKeySet(keys)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := consent.ParseKeySet(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := rotated.Rotate(); err != nil {
		t.Fatal(err)
	}
	after, _ := consent.NewReceipts(rotated, issuer, 0)
	if _, err := after.Check(shop, oldTok, time.Now()); err != nil {
		t.Fatalf("a receipt of the old key must still verify: %v", err)
	}
	newTok, _ := after.Sign(shop, &d)
	if kid := headerKid(t, newTok); kid != rotated.Signer().ID || kid == keys.Signer().ID {
		t.Fatalf("new receipts must use the new key, kid %q", kid)
	}
	if _, err := before.Check(shop, newTok, time.Now()); !errors.Is(err, consent.ErrReceiptInvalid) {
		t.Fatalf("a replica without the new key refuses its receipts, got %v", err)
	}
	rotated.Receipt = rotated.Receipt[1:] // the operator removes the old key
	pruned, _ := consent.NewReceipts(rotated, issuer, 0)
	if _, err := pruned.Check(shop, oldTok, time.Now()); !errors.Is(err, consent.ErrReceiptInvalid) {
		t.Fatalf("a removed key must stop verifying, got %v", err)
	}
}

func headerKid(t *testing.T, tok string) string {
	t.Helper()
	var hdr struct{ Kid string }
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.Kid
}

// A site's own backend needs nothing but the JWKS and a JOSE library.
func TestJWKSVerifiesReceiptsWithoutPrivateKeys(t *testing.T) {
	shop := testSites(t).Lookup("shop")
	keys := newKeys(t)
	_ = keys.Rotate()
	jwks, err := keys.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(jwks), `"d"`) || strings.Contains(string(jwks), keys.Admin.ID) {
		t.Fatalf("JWKS leaks a private or admin key: %s", jwks)
	}
	var set struct {
		Keys []struct{ Kty, Crv, Kid, Alg, X string }
	}
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS %s: %v", jwks, err)
	}
	d := decide(t, shop, `{"site":"shop","method":"accept_all"}`, nil, consent.SignalNone, time.Now())
	tok := consenttest.Sign(t, keys, issuer, shop, d)
	parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid == tk.Header["kid"] && k.Kty == "OKP" && k.Crv == "Ed25519" && k.Alg == "EdDSA" {
				x, err := base64.RawURLEncoding.DecodeString(k.X)
				return ed25519.PublicKey(x), err
			}
		}
		return nil, errors.New("kid not in JWKS")
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience("shop"), jwt.WithIssuer(issuer))
	if err != nil || !parsed.Valid {
		t.Fatalf("third-party verification failed: %v", err)
	}
}

func TestKeyFileValidation(t *testing.T) {
	for name, data := range map[string]string{
		"empty":      `{}`,
		"unknown":    `{"receipt":[],"admin":{},"extra":1}`,
		"bad seed":   `{"receipt":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"","d":"short"}],"admin":{"kty":"OKP","crv":"Ed25519","kid":"b","x":"","d":"short"}}`,
		"wrong type": `{"receipt":[{"kty":"RSA","kid":"a"}],"admin":{"kty":"oct","kid":"b"}}`,
	} {
		if _, err := consent.ParseKeySet([]byte(data)); err == nil {
			t.Errorf("%s: key file accepted", name)
		}
	}
	ks := newKeys(t)
	data, _ := consent.MarshalKeySet(ks)
	mixed := strings.Replace(string(data), `"x": "`, `"x": "A`, 1)
	if _, err := consent.ParseKeySet([]byte(mixed)); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("a public key not matching its private key must be refused: %v", err)
	}
}

func FuzzVerifyReceipt(f *testing.F) {
	ss, _ := consent.ParseSites("f.yaml", []byte(fourCategories))
	shop := ss.Lookup("shop")
	keys, _ := consent.GenerateKeySet()
	r, _ := consent.NewReceipts(keys, issuer, 0)
	d, _ := consent.Decide(shop, consent.DecisionRequest{Site: "shop", Method: consent.MethodAcceptAll}, nil, consent.SignalNone, time.Now())
	valid, _ := r.Sign(shop, &d)
	f.Add(valid)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		rc, err := r.Verify(shop, tok)
		if err == nil && tok != valid {
			// Base64 has equivalent spellings of the same bytes only in the padding bits.
			if rc.DecisionID != d.ID {
				t.Fatalf("forged receipt accepted: %q", tok)
			}
		}
		if err != nil && !errors.Is(err, consent.ErrReceiptInvalid) {
			t.Fatalf("error of the wrong kind: %v", err)
		}
	})
}

// BenchmarkReceiptCheck is the collector's per-beacon cost of a receipt: a full Ed25519
// verification, or the cache hit every later beacon of the same visitor gets.
func BenchmarkReceiptCheck(b *testing.B) {
	ss, _ := consent.ParseSites("b.yaml", []byte(fourCategories))
	shop := ss.Lookup("shop")
	keys, _ := consent.GenerateKeySet()
	d, _ := consent.Decide(shop, consent.DecisionRequest{Site: "shop", Method: consent.MethodAcceptAll}, nil, consent.SignalNone, time.Now())
	for _, cache := range []int{0, 1000} {
		b.Run(fmt.Sprintf("cache=%d", cache), func(b *testing.B) {
			r, _ := consent.NewReceipts(keys, issuer, cache)
			tok, _ := r.Sign(shop, &d)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Check(shop, tok, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("sign", func(b *testing.B) {
		r, _ := consent.NewReceipts(keys, issuer, 0)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Sign(shop, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Package consenttest forges receipts for tests: every way a receipt can be tampered
// with, so the collector and the visitor routes can be shown to refuse each.
package consenttest

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/consentry/consentry/consent"
)

var b64 = base64.RawURLEncoding

// Tampered derives, from a valid receipt signed by keys, receipts that must all be
// refused, by what was done to them.
func Tampered(t testing.TB, valid string, keys *consent.KeySet) map[string]string {
	t.Helper()
	parts := strings.Split(valid, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", valid)
	}
	var header, claims map[string]any
	decode(t, parts[0], &header)
	decode(t, parts[1], &claims)
	out := map[string]string{}

	// A granted mask widened to every category, signature left as it was.
	changed := clone(claims)
	changed["g"] = float64(1<<20 - 1)
	out["changed claim"] = parts[0] + "." + encode(t, changed) + "." + parts[2]

	none := clone(header)
	none["alg"] = "none"
	out["alg none"] = encode(t, none) + "." + parts[1] + "."

	// The classic confusion: HMAC keyed with the published public key.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims))
	hs.Header["kid"] = header["kid"]
	pub := keys.Signer().Public()
	out["HS256 with the public key"] = sign(t, hs, []byte(pub))
	out["HS256 with the public key as base64url"] = sign(t, hs, []byte(b64.EncodeToString(pub)))

	_, other, _ := ed25519.GenerateKey(nil)
	foreign := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(claims))
	foreign.Header["kid"] = "not-in-the-set"
	out["key not in the set"] = sign(t, foreign, other)
	impostor := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(claims))
	impostor.Header["kid"] = header["kid"]
	out["other key under a known kid"] = sign(t, impostor, other)

	out["signature cut"] = parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4]
	out["not a JWT"] = "receipt"
	return out
}

// Sign signs a receipt for d with keys, whatever d says (expired, another policy…).
func Sign(t testing.TB, keys *consent.KeySet, issuer string, site *consent.Site, d consent.Decision) string {
	t.Helper()
	r, err := consent.NewReceipts(keys, issuer, 0)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := r.Sign(site, &d)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func sign(t testing.TB, tok *jwt.Token, key any) string {
	t.Helper()
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decode(t testing.TB, seg string, v any) {
	t.Helper()
	raw, err := b64.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

func encode(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(raw)
}

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/consent/consenttest"
)

// The README's examples, run against a JWKS served like /.well-known/jwks.json.
func TestReadmeExamplesVerifyReceipts(t *testing.T) {
	sites, err := consent.ParseSites("t.yaml", []byte(`
sites:
  - id: shop
    origins: ["https://shop.example"]
    policy_version: "v1"
    categories: [{id: necessary, required: true}, {id: analytics, technologies: [beacon]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	shop := sites.Lookup("shop")
	keys, _ := consent.GenerateKeySet()
	_ = keys.Rotate()
	jwks, _ := keys.JWKS()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(jwks) }))
	defer srv.Close()
	const issuer = "https://consent.example.com"
	d, _ := consent.Decide(shop, consent.DecisionRequest{Site: "shop", Method: consent.MethodAcceptAll}, nil, consent.SignalNone, time.Now())
	good := consenttest.Sign(t, keys, issuer, shop, d)
	expired := d
	expired.DecidedAt, expired.ExpiresAt = time.Now().AddDate(0, 0, -30), time.Now().AddDate(0, 0, -1)
	refused := consenttest.Tampered(t, good, keys)
	refused["expired"] = consenttest.Sign(t, keys, issuer, shop, expired)

	k, err := fetchKeys(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	r, err := verify(k, issuer, "shop", good)
	if err != nil || r.Subject != d.ConsentID || r.Granted != 3 || r.PolicyVersion != "v1" {
		t.Fatalf("Go example: %+v %v", r, err)
	}
	if _, err := verify(k, issuer, "blog", good); err == nil {
		t.Error("Go example accepts another site's receipt")
	}
	for name, tok := range refused {
		if _, err := verify(k, issuer, "shop", tok); err == nil {
			t.Errorf("Go example accepts a receipt that is %s", name)
		}
	}

	if _, err := os.Stat("node/node_modules/jose"); err != nil {
		if os.Getenv("CONSENTRY_TEST_NODE") == "1" {
			t.Fatal("jose is not installed: npm --prefix examples/verify-receipt/node install")
		}
		t.Skip("Node example needs `npm --prefix examples/verify-receipt/node install` (CI does it)")
	}
	out, err := exec.Command("node", "node/verify.mjs", srv.URL, issuer, "shop", good).Output()
	var claims struct {
		Sub string
		G   uint64
	}
	if err != nil || json.Unmarshal(out, &claims) != nil || claims.Sub != d.ConsentID || claims.G != 3 {
		t.Fatalf("Node example: %s %v", out, err)
	}
	for _, name := range []string{"alg none", "HS256 with the public key", "other key under a known kid", "changed claim", "expired"} {
		if out, err := exec.Command("node", "node/verify.mjs", srv.URL, issuer, "shop", refused[name]).CombinedOutput(); err == nil || !strings.Contains(string(out), "refused") {
			t.Errorf("Node example accepts a receipt that is %s: %s", name, out)
		}
	}
}

// Command verify-receipt shows how a site's own backend checks a Consentry receipt with
// nothing but the public JWKS and a JOSE library:
//
//	go run ./examples/verify-receipt -jwks https://consent.example.com/.well-known/jwks.json \
//	  -issuer https://consent.example.com -site shop -receipt "$RECEIPT"
package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Receipt is the part of a receipt's claims a site usually needs.
type Receipt struct {
	jwt.RegisteredClaims
	PolicyVersion string `json:"pv"` // compare with the policy version you publish
	Granted       uint64 `json:"g"`  // bit i: the i-th category of the site, in sites.yaml order
	Method        string `json:"m"`
}

// fetchKeys reads the Ed25519 keys of a JWKS, by key id.
func fetchKeys(url string) (map[string]ed25519.PublicKey, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kid, Kty, Crv, X string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, err
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if x, err := base64.RawURLEncoding.DecodeString(k.X); err == nil && k.Kty == "OKP" && k.Crv == "Ed25519" {
			keys[k.Kid] = ed25519.PublicKey(x)
		}
	}
	return keys, nil
}

// verify checks signature (EdDSA only), issuer, audience (your site id) and expiry.
func verify(keys map[string]ed25519.PublicKey, issuer, site, receipt string) (*Receipt, error) {
	var r Receipt
	_, err := jwt.ParseWithClaims(receipt, &r, func(t *jwt.Token) (any, error) {
		if k, ok := keys[fmt.Sprint(t.Header["kid"])]; ok {
			return k, nil
		}
		return nil, errors.New("unknown key id")
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(issuer), jwt.WithAudience(site), jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func main() {
	jwks := flag.String("jwks", "", "URL of /.well-known/jwks.json")
	issuer := flag.String("issuer", "consentry", "the service's --issuer")
	site := flag.String("site", "", "your site id")
	receipt := flag.String("receipt", "", "the receipt (the visitor's consent cookie)")
	flag.Parse()
	keys, err := fetchKeys(*jwks)
	if err == nil {
		var r *Receipt
		if r, err = verify(keys, *issuer, *site, *receipt); err == nil {
			json.NewEncoder(os.Stdout).Encode(r)
			return
		}
	}
	fmt.Fprintln(os.Stderr, "receipt refused:", err)
	os.Exit(1)
}

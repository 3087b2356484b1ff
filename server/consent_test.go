package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/consent/consenttest"
	"github.com/consentry/consentry/internal/chtest"
)

var b64 = base64.RawURLEncoding

const (
	newsOrig  = "https://news.example"
	forumOrig = "https://forum.example"
)

// visitor is what a browser on a site sends with every request.
func visitor(origin string, extra hdr) hdr { return browser(hdr{"Origin": origin}.merge(extra)) }

func (h hdr) merge(extra hdr) hdr {
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// decide posts a decision and decodes a 200 answer.
func (e *env) decide(t *testing.T, origin, body string, extra hdr) decisionAnswer {
	t.Helper()
	resp := e.do(t, http.MethodPost, "/v1/consent", body, visitor(origin, extra))
	wantStatus(t, resp, 200)
	var a decisionAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	if a.Receipt == "" || len(a.ConsentID) != 22 {
		t.Fatalf("answer without receipt or consent id: %+v", a)
	}
	return a
}

// beacon sends a pageview with a receipt and returns why it was not stored ("" if it was).
func (e *env) beacon(t *testing.T, site, origin, receipt string, extra hdr) string {
	t.Helper()
	body := fmt.Sprintf(`{"site":%q,"type":"pageview","url":%q,"receipt":%q}`, site, origin+"/article", receipt)
	resp := e.post(t, body, visitor(origin, extra))
	wantStatus(t, resp, 204)
	return resp.Header.Get("X-Consentry-Not-Stored")
}

// me calls GET /v1/consent/me with a receipt.
func (e *env) me(t *testing.T, receipt string, extra hdr) (*http.Response, consent.Status) {
	t.Helper()
	resp := e.do(t, http.MethodGet, "/v1/consent/me", "", hdr{"Authorization": "Bearer " + receipt}.merge(extra))
	var st consent.Status
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
	}
	return resp, st
}

func TestDecisionIsDurableBeforeItsReceipt(t *testing.T) {
	e := newEnv(t, testConfig())
	before := time.Now().UTC().Truncate(time.Second)
	a := e.decide(t, newsOrig, `{"site":"news","method":"custom","choices":{"analytics":true,"marketing":false},"lang":"fr","banner_version":"b42"}`, nil)
	// No drain, no wait: the 200 is only sent once the row is in ClickHouse.
	var (
		decisionID, consentID, site, pv, method, signal, lang, banner string
		granted, denied                                               []string
		decidedAt, expiresAt                                          time.Time
	)
	err := e.conn.QueryRow(context.Background(), `SELECT decision_id, consent_id, site, policy_version, toString(method), toString(signal),
		lang, banner_version, granted, denied, decided_at, expires_at FROM consents FINAL`).Scan(
		&decisionID, &consentID, &site, &pv, &method, &signal, &lang, &banner, &granted, &denied, &decidedAt, &expiresAt)
	if err != nil {
		t.Fatal(err)
	}
	if consentID != a.ConsentID || site != "news" || pv != "v1" || method != "custom" || signal != "none" || lang != "fr" || banner != "b42" ||
		strings.Join(granted, ",") != "necessary,analytics" || strings.Join(denied, ",") != "preferences,marketing" {
		t.Fatalf("row %s %s %s %s %s %s %s %v %v", consentID, site, pv, method, signal, lang, banner, granted, denied)
	}
	if decidedAt.Before(before) || decidedAt.After(time.Now()) || !expiresAt.Equal(decidedAt.AddDate(0, 0, 30)) || !a.ExpiresAt.Equal(expiresAt) {
		t.Fatalf("decided_at %v must be the server's clock; expires_at %v (answer %v) must be 30 days later", decidedAt, expiresAt, a.ExpiresAt)
	}
	if strings.Join(a.Granted, ",") != "necessary,analytics" {
		t.Fatalf("answer grants %v", a.Granted)
	}
	rc, err := e.consent.Receipts.Check(e.consentSite(t, "news"), a.Receipt, time.Now())
	if err != nil || rc.DecisionID != decisionID || rc.ConsentID != consentID {
		t.Fatalf("receipt %+v does not name the row (%v)", rc, err)
	}

	// The same browser decides again with its receipt: same consent id, new decision.
	b := e.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"reject_all","receipt":%q}`, a.Receipt), nil)
	if b.ConsentID != a.ConsentID {
		t.Fatal("a verified previous receipt must keep the consent id")
	}
	// A forged previous receipt does not: its claimed id is not the browser's proof.
	forged := consenttest.Tampered(t, a.Receipt, testKeys)["changed claim"]
	c := e.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"reject_all","receipt":%q}`, forged), nil)
	if c.ConsentID == a.ConsentID {
		t.Fatal("a receipt that does not verify must not carry its consent id over")
	}
	if n := chtest.Count(t, e.conn, "SELECT count() FROM consents FINAL WHERE consent_id = ?", a.ConsentID); n != 2 {
		t.Fatalf("want 2 decisions of the consent id, got %d", n)
	}
}

func (e *env) consentSite(t *testing.T, id string) *consent.Site {
	t.Helper()
	s := e.consent.Sites.Lookup(id)
	if s == nil {
		t.Fatalf("no site %q", id)
	}
	return s
}

func TestDecisionRejectionsStoreNothing(t *testing.T) {
	e := newEnv(t, testConfig())
	base := e.listen(t) // a real socket: fasthttp itself answers 413
	good := `{"site":"news","method":"accept_all"}`
	cases := []struct {
		name   string
		body   string
		h      hdr
		status int
		reason string
	}{
		{"unknown category", `{"site":"news","method":"custom","choices":{"tracking":true}}`, nil, 400, "invalid"},
		{"missing method", `{"site":"news"}`, nil, 400, "invalid"},
		{"contradiction", `{"site":"news","method":"reject_all","choices":{"analytics":true}}`, nil, 400, "invalid"},
		{"lang not a tag", `{"site":"news","method":"accept_all","lang":"<script>"}`, nil, 400, "invalid"},
		{"unknown field", `{"site":"news","method":"accept_all","ts":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid"},
		{"foreign origin", good, hdr{"Origin": "https://evil.example"}, 403, "origin_not_allowed"},
		{"no origin", good, hdr{"Origin": ""}, 403, "origin_not_allowed"},
		{"other site's origin", good, hdr{"Origin": shopOrig}, 403, "origin_not_allowed"},
		{"unknown site", `{"site":"nope","method":"accept_all"}`, nil, 404, "unknown_site"},
		{"content type", good, hdr{"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_content_type"},
		{"too large", `{"site":"news","method":"accept_all","banner_version":"` + strings.Repeat("v", 5000) + `"}`, nil, 413, "too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := visitor(newsOrig, nil)
			for k, v := range tc.h {
				if v == "" {
					delete(h, k)
				} else {
					h[k] = v
				}
			}
			resp := sendHTTP(t, base, http.MethodPost, "/v1/consent", tc.body, h)
			wantStatus(t, resp, tc.status)
			var body struct{ Error, Message string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if body.Error != tc.reason || body.Message == "" {
				t.Fatalf("answer %+v, want reason %q with a message", body, tc.reason)
			}
			if n := chtest.Count(t, e.conn, "SELECT count() FROM consents"); n != 0 {
				t.Fatalf("a refused decision stored %d rows", n)
			}
		})
	}
	e.decide(t, newsOrig, good, nil)
	if n := chtest.Count(t, e.conn, "SELECT count() FROM consents"); n != 1 {
		t.Fatalf("the good decision after the bad ones: %d rows", n)
	}
}

func TestDecisionSignals(t *testing.T) {
	e := newEnv(t, testConfig())
	strict := e.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, hdr{"DNT": "1"})
	if strings.Join(strict.Granted, ",") != "necessary" || strict.Signal != "dnt" || strict.Override {
		t.Fatalf("strict site with DNT: %+v", strict)
	}
	both := e.decide(t, newsOrig, `{"site":"news","method":"custom","choices":{"analytics":true}}`, hdr{"DNT": "1", "Sec-GPC": "1"})
	if strings.Join(both.Granted, ",") != "necessary" || both.Signal != "dnt_gpc" {
		t.Fatalf("strict site, explicit choice under DNT and GPC: %+v", both)
	}
	explicit := e.decide(t, forumOrig, `{"site":"forum","method":"custom","choices":{"analytics":true}}`, hdr{"Sec-GPC": "1"})
	if strings.Join(explicit.Granted, ",") != "necessary,analytics" || explicit.Signal != "gpc" || !explicit.Override {
		t.Fatalf("allow_explicit site, customized choice under GPC: %+v", explicit)
	}
	// A signal the page saw in the browser (navigator.globalPrivacyControl without the
	// header, as some extensions do) restricts like the header.
	fromPage := e.decide(t, newsOrig, `{"site":"news","method":"accept_all","gpc":true}`, nil)
	if strings.Join(fromPage.Granted, ",") != "necessary" || fromPage.Signal != "gpc" {
		t.Fatalf("GPC seen by the page: %+v", fromPage)
	}
	rc, err := e.consent.Receipts.Check(e.consentSite(t, "forum"), explicit.Receipt, time.Now())
	if err != nil || !rc.Override || rc.Signal != consent.SignalGPC {
		t.Fatalf("the receipt must say the choice overrode GPC: %+v %v", rc, err)
	}
	for id, want := range map[string]string{strict.ConsentID: "dnt 0", both.ConsentID: "dnt_gpc 0", explicit.ConsentID: "gpc 1", fromPage.ConsentID: "gpc 0"} {
		var sig string
		var ovr uint8
		if err := e.conn.QueryRow(context.Background(), "SELECT toString(signal), override FROM consents FINAL WHERE consent_id = ?", id).Scan(&sig, &ovr); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%s %d", sig, ovr); got != want {
			t.Errorf("row says %q, want %q", got, want)
		}
	}
}

// Every combination of grant × receipt state × privacy signal, through /v1/collect.
func TestEnforcementMatrix(t *testing.T) {
	e := newEnv(t, testConfig())
	news := e.consentSite(t, "news")
	granting := e.decide(t, newsOrig, `{"site":"news","method":"custom","choices":{"analytics":true}}`, nil)
	denying := e.decide(t, newsOrig, `{"site":"news","method":"custom","choices":{"analytics":false,"marketing":true}}`, nil)
	signed := func(granted bool, change func(*consent.Decision)) string {
		d := consent.Decision{ID: consent.NewID(), ConsentID: consent.NewID(), Site: "news", PolicyVersion: "v1", Method: consent.MethodCustom,
			Signal: consent.SignalNone, DecidedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(time.Hour)}
		d.Granted = news.RequiredMask()
		if granted {
			bit, _ := news.CategoryBit("analytics")
			d.Granted |= bit
		} else {
			bit, _ := news.CategoryBit("marketing")
			d.Granted |= bit
		}
		change(&d)
		return consenttest.Sign(t, testKeys, "consentry-test", news, d)
	}
	expired := func(d *consent.Decision) {
		d.DecidedAt, d.ExpiresAt = time.Now().AddDate(0, 0, -40), time.Now().AddDate(0, 0, -10)
	}
	outdated := func(d *consent.Decision) { d.PolicyVersion = "v0" }
	receipts := map[string]map[bool]string{ // state → granted? → receipt
		"valid":    {true: granting.Receipt, false: denying.Receipt},
		"invalid":  {true: consenttest.Tampered(t, granting.Receipt, testKeys)["other key under a known kid"], false: consenttest.Tampered(t, denying.Receipt, testKeys)["alg none"]},
		"expired":  {true: signed(true, expired), false: signed(false, expired)},
		"outdated": {true: signed(true, outdated), false: signed(false, outdated)},
		"none":     {true: "", false: ""},
	}
	// Withdrawn: decide, then withdraw with that receipt; the first receipt is revoked.
	withdrawn := map[bool]string{}
	for _, g := range []bool{true, false} {
		choices := `{"analytics":true}`
		if !g {
			choices = `{"marketing":true}`
		}
		first := e.decide(t, newsOrig, `{"site":"news","method":"custom","choices":`+choices+`}`, nil)
		if r := e.beacon(t, "news", newsOrig, first.Receipt, nil); g && r != "" {
			t.Fatalf("before withdrawal the receipt must store: %q", r)
		}
		w := e.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"withdraw","receipt":%q}`, first.Receipt), nil)
		if w.ConsentID != first.ConsentID || strings.Join(w.Granted, ",") != "necessary" {
			t.Fatalf("withdrawal answer %+v", w)
		}
		withdrawn[g] = first.Receipt
	}
	receipts["withdrawn"] = withdrawn
	stored := 1 // the granted receipt's beacon before its withdrawal
	for state, byGrant := range receipts {
		for _, granted := range []bool{true, false} {
			for _, sig := range []string{"none", "dnt", "gpc"} {
				h := hdr{}
				want := map[string]string{"valid": "", "invalid": "invalid", "expired": "expired", "outdated": "outdated", "withdrawn": "withdrawn", "none": "no_receipt"}[state]
				if want == "" && !granted {
					want = "denied"
				}
				switch sig {
				case "dnt":
					h["DNT"], want = "1", "dnt"
				case "gpc":
					h["Sec-GPC"], want = "1", "gpc"
				}
				got := e.beacon(t, "news", newsOrig, byGrant[granted], h)
				if got != want {
					t.Errorf("receipt %s, category granted %v, signal %s: reason %q, want %q", state, granted, sig, got, want)
				}
				if got == "" {
					stored++
				}
			}
		}
	}
	// allow_explicit: a customized choice that overrode GPC stores despite GPC; without
	// the override, GPC still wins.
	explicit := e.decide(t, forumOrig, `{"site":"forum","method":"custom","choices":{"analytics":true}}`, hdr{"Sec-GPC": "1"})
	if r := e.beacon(t, "forum", forumOrig, explicit.Receipt, hdr{"Sec-GPC": "1"}); r != "" {
		t.Errorf("override receipt under GPC: %q", r)
	}
	plain := e.decide(t, forumOrig, `{"site":"forum","method":"accept_all"}`, nil)
	if r := e.beacon(t, "forum", forumOrig, plain.Receipt, hdr{"Sec-GPC": "1"}); r != "gpc" {
		t.Errorf("receipt without override under GPC: %q", r)
	}
	e.drain(t)
	if n := chtest.Count(t, e.conn, "SELECT count() FROM events"); n != uint64(stored+1) {
		t.Fatalf("%d events stored, want %d", n, stored+1)
	}
	body := e.metrics(t)
	for _, reason := range []string{"no_receipt", "invalid", "expired", "outdated", "denied", "withdrawn", "dnt", "gpc"} {
		if !strings.Contains(body, fmt.Sprintf(`consentry_events_not_stored_total{reason=%q}`, reason)) {
			t.Errorf("/metrics does not count reason %q", reason)
		}
	}
}

func (e *env) metrics(t *testing.T) string {
	t.Helper()
	resp := e.do(t, http.MethodGet, "/metrics", "", nil)
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Tampered receipts are refused by the collector and by the visitor's own routes.
func TestTamperedReceiptsRefusedEverywhere(t *testing.T) {
	e := newEnv(t, testConfig())
	a := e.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil)
	for name, tok := range consenttest.Tampered(t, a.Receipt, testKeys) {
		if r := e.beacon(t, "news", newsOrig, tok, nil); r != "invalid" {
			t.Errorf("%s: collector reason %q, want invalid", name, r)
		}
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			resp := e.do(t, method, "/v1/consent/me", "", hdr{"Authorization": "Bearer " + tok})
			if resp.StatusCode != 401 {
				t.Errorf("%s: %s /v1/consent/me answered %d, want 401", name, method, resp.StatusCode)
			}
		}
	}
	// Another site's receipt: the collector refuses it for this site, and a page of
	// this site may not read that visitor's records.
	other := e.decide(t, forumOrig, `{"site":"forum","method":"accept_all"}`, nil)
	if r := e.beacon(t, "news", newsOrig, other.Receipt, nil); r != "invalid" {
		t.Errorf("other site's audience: collector reason %q", r)
	}
	if resp, _ := e.me(t, other.Receipt, hdr{"Origin": newsOrig}); resp.StatusCode != 403 {
		t.Errorf("other site's receipt from this site's page: %d, want 403", resp.StatusCode)
	}
	// Expired and outdated receipts verify as proof of identity, but need re-consent.
	news := e.consentSite(t, "news")
	d := consent.Decision{ID: consent.NewID(), ConsentID: a.ConsentID, Site: "news", PolicyVersion: "v0", Method: consent.MethodAcceptAll,
		Signal: consent.SignalNone, Granted: news.AllMask(), DecidedAt: time.Now().AddDate(0, 0, -40), ExpiresAt: time.Now().AddDate(0, 0, -10)}
	old := consenttest.Sign(t, testKeys, "consentry-test", news, d)
	if r := e.beacon(t, "news", newsOrig, old, nil); r != "expired" {
		t.Errorf("expired: collector reason %q", r)
	}
	resp, st := e.me(t, old, nil)
	wantStatus(t, resp, 200)
	if !st.Expired || !st.Outdated || !st.ReconsentNeeded || len(st.History) != 1 {
		t.Errorf("status of an expired, outdated receipt: %+v", st)
	}
}

func TestKeyRotationThroughTheService(t *testing.T) {
	_, conn := chtest.Open(t, true)
	keys, err := consent.GenerateKeySet()
	if err != nil {
		t.Fatal(err)
	}
	before := newEnvWith(t, conn, testConfig(), envOptions{keys: keys})
	old := before.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil)

	data, _ := consent.MarshalKeySet(keys)
	rotated, _ := consent.ParseKeySet(data)
	if err := rotated.Rotate(); err != nil {
		t.Fatal(err)
	}
	after := newEnvWith(t, conn, testConfig(), envOptions{keys: rotated})
	if r := after.beacon(t, "news", newsOrig, old.Receipt, nil); r != "" {
		t.Fatalf("a receipt of the old key must still store after rotation: %q", r)
	}
	fresh := after.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil)
	var hdrJSON struct{ Kid string }
	raw, _ := b64.DecodeString(strings.Split(fresh.Receipt, ".")[0])
	_ = json.Unmarshal(raw, &hdrJSON)
	if hdrJSON.Kid != rotated.Signer().ID {
		t.Fatalf("new receipts must be signed by the new key: kid %q", hdrJSON.Kid)
	}
	resp := after.do(t, http.MethodGet, "/.well-known/jwks.json", "", nil)
	wantStatus(t, resp, 200)
	var set struct{ Keys []struct{ Kid string } }
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS after rotation: %+v %v", set, err)
	}
}

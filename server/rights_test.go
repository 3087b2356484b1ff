package server

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/consentry/consentry/banner"
	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/internal/chtest"
)

// A withdrawal on one replica stops an old receipt on another within its refresh delay.
func TestWithdrawalSeenBySecondReplica(t *testing.T) {
	_, conn := chtest.Open(t, true)
	const refresh = 200 * time.Millisecond
	a := newEnvWith(t, conn, testConfig(), envOptions{refresh: refresh})
	b := newEnvWith(t, conn, testConfig(), envOptions{refresh: refresh})
	first := a.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil)
	if r := b.beacon(t, "news", newsOrig, first.Receipt, nil); r != "" {
		t.Fatalf("replica b must accept the receipt before the withdrawal: %q", r)
	}
	a.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"withdraw","receipt":%q}`, first.Receipt), nil)
	if r := a.beacon(t, "news", newsOrig, first.Receipt, nil); r != "withdrawn" {
		t.Fatalf("the replica that took the withdrawal must refuse at once: %q", r)
	}
	withdrawnAt := time.Now()
	// b learns it only from ClickHouse, by its periodic refresh.
	chtest.WaitFor(t, "replica b refusing the withdrawn receipt", func() bool {
		return b.beacon(t, "news", newsOrig, first.Receipt, nil) == "withdrawn"
	})
	t.Logf("replica b refused the replayed receipt %v after the withdrawal (refresh every %v)", time.Since(withdrawnAt).Round(time.Millisecond), refresh)
	// A third replica started later loads the withdrawal at start.
	c := newEnvWith(t, conn, testConfig(), envOptions{})
	if r := c.beacon(t, "news", newsOrig, first.Receipt, nil); r != "withdrawn" {
		t.Fatalf("a replica started after the withdrawal: %q", r)
	}
}

// Re-consent after a withdrawal: the browser's new receipt, issued later, stores again.
func TestConsentAgainAfterWithdrawal(t *testing.T) {
	_, conn := chtest.Open(t, true)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := newEnvWith(t, conn, testConfig(), envOptions{now: clock})
	first := e.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil)
	advance(time.Minute)
	w := e.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"withdraw","receipt":%q}`, first.Receipt), nil)
	advance(time.Minute)
	again := e.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"accept_all","receipt":%q}`, w.Receipt), nil)
	if again.ConsentID != first.ConsentID {
		t.Fatal("the consent id survives a withdrawal")
	}
	if r := e.beacon(t, "news", newsOrig, again.Receipt, nil); r != "" {
		t.Fatalf("a receipt issued after the withdrawal must store: %q", r)
	}
	if r := e.beacon(t, "news", newsOrig, first.Receipt, nil); r != "withdrawn" {
		t.Fatalf("the receipt from before the withdrawal: %q", r)
	}
	resp, st := e.me(t, again.Receipt, nil)
	wantStatus(t, resp, 200)
	if len(st.History) != 3 || st.History[1].Method != consent.MethodWithdraw || st.ReconsentNeeded {
		t.Fatalf("history after re-consent: %+v", st)
	}
}

// A policy version bump makes every older receipt outdated: the collector refuses it and
// /v1/consent/me asks for re-consent.
func TestPolicyVersionBumpNeedsReconsent(t *testing.T) {
	_, conn := chtest.Open(t, true)
	v1 := newEnvWith(t, conn, testConfig(), envOptions{})
	a := v1.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil)
	v2 := newEnvWith(t, conn, testConfig(), envOptions{sites: strings.Replace(testSites, `policy_version: "v1"`, `policy_version: "v2"`, 1)})
	if r := v2.beacon(t, "news", newsOrig, a.Receipt, nil); r != "outdated" {
		t.Fatalf("collector after the bump: %q, want outdated", r)
	}
	resp, st := v2.me(t, a.Receipt, hdr{"Origin": newsOrig})
	wantStatus(t, resp, 200)
	if !st.Outdated || !st.ReconsentNeeded || st.PolicyVersion != "v1" || st.CurrentPolicy != "v2" || st.Expired {
		t.Fatalf("status after the bump: %+v", st)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != newsOrig {
		t.Fatal("the site's page must be allowed to read its visitor's status")
	}
	b := v2.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"accept_all","receipt":%q}`, a.Receipt), nil)
	if b.ConsentID != a.ConsentID {
		t.Fatal("re-consent keeps the consent id of the outdated receipt")
	}
	if r := v2.beacon(t, "news", newsOrig, b.Receipt, nil); r != "" {
		t.Fatalf("the re-consented receipt: %q", r)
	}
}

func TestVisitorExportAndErasure(t *testing.T) {
	e := newEnv(t, testConfig())
	a := e.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil)
	b := e.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"custom","choices":{"analytics":true},"receipt":%q}`, a.Receipt), nil)
	bystander := e.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil)

	resp, st := e.me(t, b.Receipt, nil)
	wantStatus(t, resp, 200)
	if st.ConsentID != a.ConsentID || len(st.History) != 2 || st.History[0].Method != consent.MethodAcceptAll ||
		strings.Join(st.History[1].GrantedIDs, ",") != "necessary,analytics" || st.ReconsentNeeded {
		t.Fatalf("own history: %+v", st)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("personal answers must not be cached")
	}

	resp = e.do(t, http.MethodDelete, "/v1/consent/me", "", hdr{"Authorization": "Bearer " + b.Receipt})
	wantStatus(t, resp, 200)
	var er consent.Erasure
	if err := json.NewDecoder(resp.Body).Decode(&er); err != nil || !er.Complete || er.ConsentID != a.ConsentID {
		t.Fatalf("erasure answer %+v %v", er, err)
	}
	if n := chtest.Count(t, e.conn, "SELECT count() FROM consents WHERE consent_id = ?", a.ConsentID); n != 0 {
		t.Fatalf("%d rows of the erased consent id remain", n)
	}
	if n := chtest.Count(t, e.conn, "SELECT count() FROM consents WHERE consent_id = ?", bystander.ConsentID); n != 1 {
		t.Fatal("erasure must touch only its own consent id")
	}
	if n := chtest.Count(t, e.conn, "SELECT sum(count) FROM erasures WHERE site = 'news'"); n != 1 {
		t.Fatalf("erasure count %d, want 1", n)
	}
	if n := chtest.Count(t, e.conn, "SELECT count() FROM revocations WHERE position(digest, ?) > 0", a.ConsentID); n != 0 {
		t.Fatal("revocations must not keep the erased consent id in clear")
	}
	resp, _ = e.me(t, b.Receipt, nil)
	wantStatus(t, resp, 410)
	if r := e.beacon(t, "news", newsOrig, b.Receipt, nil); r != "withdrawn" {
		t.Fatalf("an erased subject's receipt must store nothing: %q", r)
	}
	c := e.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"accept_all","receipt":%q}`, b.Receipt), nil)
	if c.ConsentID == a.ConsentID {
		t.Fatal("an erased consent id must not come back through its old receipt")
	}
}

// adminToken mints a token the way `consentry token` does.
func adminToken(t *testing.T, role consent.Role) string {
	t.Helper()
	tok, err := consent.NewAdminTokens(testKeys, "consentry-test", nil).Mint(role, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAdminAuthRefusesForgedTokens(t *testing.T) {
	e := newEnv(t, testConfig())
	receipt := e.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil).Receipt
	claims := jwt.MapClaims{"iss": "consentry-test", "aud": consent.AdminAudience, "sub": "operator", "role": "admin",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	signed := func(method jwt.SigningMethod, kid string, key any, change func(jwt.MapClaims)) string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		if change != nil {
			change(c)
		}
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	admin := testKeys.Admin
	noneTok := signed(jwt.SigningMethodNone, admin.ID, jwt.UnsafeAllowNoneSignatureType, nil)
	forged := map[string]string{
		"alg none":                        noneTok,
		"HS256 with the admin public key": signed(jwt.SigningMethodHS256, admin.ID, []byte(admin.Public()), nil),
		"unknown kid":                     signed(jwt.SigningMethodEdDSA, "nope", admin.Private, nil),
		"receipt key":                     signed(jwt.SigningMethodEdDSA, testKeys.Signer().ID, testKeys.Signer().Private, nil),
		"wrong audience":                  signed(jwt.SigningMethodEdDSA, admin.ID, admin.Private, func(c jwt.MapClaims) { c["aud"] = "news" }),
		"wrong issuer":                    signed(jwt.SigningMethodEdDSA, admin.ID, admin.Private, func(c jwt.MapClaims) { c["iss"] = "someone" }),
		"expired":                         signed(jwt.SigningMethodEdDSA, admin.ID, admin.Private, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"no expiry":                       signed(jwt.SigningMethodEdDSA, admin.ID, admin.Private, func(c jwt.MapClaims) { delete(c, "exp") }),
		"unknown role":                    signed(jwt.SigningMethodEdDSA, admin.ID, admin.Private, func(c jwt.MapClaims) { c["role"] = "root" }),
		"a receipt":                       receipt,
		"garbage":                         "x.y.z",
	}
	for name, tok := range forged {
		resp := e.do(t, http.MethodGet, "/admin/v1/sites", "", hdr{"Authorization": "Bearer " + tok})
		if resp.StatusCode != 401 {
			t.Errorf("%s: %d, want 401", name, resp.StatusCode)
		}
	}
	resp := e.do(t, http.MethodGet, "/admin/v1/sites", "", nil)
	wantStatus(t, resp, 401)
	// The untampered form of the same claims passes: the cases above fail for their flaw.
	resp = e.do(t, http.MethodGet, "/admin/v1/sites", "", hdr{"Authorization": "Bearer " + signed(jwt.SigningMethodEdDSA, admin.ID, admin.Private, nil)})
	wantStatus(t, resp, 200)
	var body struct{ Sites []consent.Site }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Sites) != 4 || body.Sites[2].ID != "news" || len(body.Sites[2].Categories) != 4 {
		t.Fatalf("sites: %+v %v", body, err)
	}
}

func TestAdminRolesExportAndErase(t *testing.T) {
	e := newEnv(t, testConfig())
	a := e.decide(t, newsOrig, `{"site":"news","method":"accept_all","lang":"de"}`, nil)
	analyst, admin := adminToken(t, consent.RoleAnalyst), adminToken(t, consent.RoleAdmin)
	path := "/admin/v1/subjects/" + a.ConsentID

	resp := e.do(t, http.MethodGet, path, "", hdr{"Authorization": "Bearer " + analyst})
	wantStatus(t, resp, 200)
	var export struct {
		ConsentID string             `json:"consent_id"`
		Decisions []consent.Decision `json:"decisions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&export); err != nil || export.ConsentID != a.ConsentID || len(export.Decisions) != 1 || export.Decisions[0].Lang != "de" {
		t.Fatalf("export %+v %v", export, err)
	}
	wantStatus(t, e.do(t, http.MethodGet, "/admin/v1/subjects/not-an-id", "", hdr{"Authorization": "Bearer " + analyst}), 400)
	wantStatus(t, e.do(t, http.MethodGet, "/admin/v1/subjects/"+consent.NewID(), "", hdr{"Authorization": "Bearer " + analyst}), 404)

	resp = e.do(t, http.MethodDelete, path, "", hdr{"Authorization": "Bearer " + analyst})
	wantStatus(t, resp, 403)
	if n := chtest.Count(t, e.conn, "SELECT count() FROM consents WHERE consent_id = ?", a.ConsentID); n != 1 {
		t.Fatal("an analyst's erasure attempt must change nothing")
	}
	resp = e.do(t, http.MethodDelete, path, "", hdr{"Authorization": "Bearer " + admin})
	wantStatus(t, resp, 200)
	if n := chtest.Count(t, e.conn, "SELECT count() FROM consents WHERE consent_id = ?", a.ConsentID); n != 0 {
		t.Fatal("admin erasure left rows")
	}
	wantStatus(t, e.do(t, http.MethodGet, path, "", hdr{"Authorization": "Bearer " + analyst}), 404)
	if r := e.beacon(t, "news", newsOrig, a.Receipt, nil); r != "withdrawn" {
		t.Fatalf("receipt of an erased subject: %q", r)
	}
}

// A visitor's own record says what each decision was made on: the banner's texts,
// categories and vendors in the language shown, and the SRI hash of its script, without
// its styles. A decision that named no recorded banner has none beside it.
func TestVisitorRecordHoldsTheBannersShown(t *testing.T) {
	e := newEnv(t, testConfig())
	en, err := e.banners.Bundle("news", "en")
	if err != nil || en == nil {
		t.Fatalf("news in English: %v", err)
	}
	de, err := e.banners.Bundle("news", "de")
	if err != nil || de == nil {
		t.Fatalf("news in German: %v", err)
	}
	a := e.decide(t, newsOrig, `{"site":"news","method":"reject_all","lang":"en","banner_version":"`+en.Version+`"}`, nil)
	b := e.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"accept_all","lang":"de","banner_version":%q,"receipt":%q}`, de.Version, a.Receipt), nil)
	c := e.decide(t, newsOrig, fmt.Sprintf(`{"site":"news","method":"withdraw","lang":"de","banner_version":"0123456789abcdef","receipt":%q}`, b.Receipt), nil)
	resp, st := e.me(t, c.Receipt, nil)
	wantStatus(t, resp, 200)
	if len(st.History) != 3 || len(st.Banners) != 2 {
		t.Fatalf("history %d decisions, banners %v; want 3 and the two recorded", len(st.History), slices.Sorted(maps.Keys(st.Banners)))
	}
	for _, want := range []*banner.Bundle{en, de} {
		got, ok := st.Banners[want.Version]
		var config struct {
			Texts map[string]string `json:"t"`
			Cats  []struct {
				Name string `json:"n"`
			} `json:"c"`
		}
		if !ok || json.Unmarshal(got.Config, &config) != nil {
			t.Fatalf("%s: %+v", want.Lang, got)
		}
		title := map[string]string{"en": "Your privacy choices", "de": "Ihre Datenschutz-Einstellungen"}[want.Lang]
		if got.Lang != want.Lang || got.PolicyVersion != "v1" || got.Integrity != want.Integrity || config.Texts["title"] != title || len(config.Cats) == 0 {
			t.Errorf("%s: %+v, texts %v", want.Lang, got, config.Texts)
		}
		if strings.Contains(string(got.Config), `"css"`) {
			t.Errorf("%s: the record carries the banner's styles", want.Lang)
		}
	}
}

// An auditor follows a decision to the banner its visitor was shown: its texts, and the
// script byte for byte as the service served it, with the SRI hash that proves it.
func TestAdminBannerOfADecision(t *testing.T) {
	e := newEnv(t, testConfig())
	de, err := e.banners.Bundle("news", "de")
	if err != nil || de == nil {
		t.Fatalf("news in German: %v", err)
	}
	a := e.decide(t, newsOrig, `{"site":"news","method":"reject_all","lang":"de","banner_version":"`+de.Version+`"}`, nil)
	analyst := hdr{"Authorization": "Bearer " + adminToken(t, consent.RoleAnalyst)}
	resp := e.do(t, http.MethodGet, "/admin/v1/subjects/"+a.ConsentID, "", analyst)
	wantStatus(t, resp, 200)
	var export struct{ Decisions []consent.Decision }
	if err := json.NewDecoder(resp.Body).Decode(&export); err != nil || len(export.Decisions) != 1 {
		t.Fatalf("export %+v %v", export, err)
	}
	resp = e.do(t, http.MethodGet, "/admin/v1/banners/news/"+export.Decisions[0].BannerVersion, "", analyst)
	wantStatus(t, resp, 200)
	var shown struct {
		Site, Lang, Script, Integrity string
		Version                       string `json:"banner_version"`
		Policy                        string `json:"policy_version"`
		Config                        struct {
			Texts map[string]string `json:"t"`
			Cats  []struct {
				ID   string `json:"i"`
				Name string `json:"n"`
			} `json:"c"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&shown); err != nil {
		t.Fatal(err)
	}
	served := e.do(t, http.MethodGet, "/s/news/banner.js?lang=de&v="+de.Version, "", nil)
	wantStatus(t, served, 200)
	script, _ := io.ReadAll(served.Body)
	sum := sha512.Sum384([]byte(shown.Script))
	switch {
	case shown.Site != "news" || shown.Version != de.Version || shown.Lang != "de" || shown.Policy != export.Decisions[0].PolicyVersion:
		t.Errorf("banner %s/%s in %s under %s", shown.Site, shown.Version, shown.Lang, shown.Policy)
	case len(shown.Config.Cats) != 4 || shown.Config.Cats[3].ID != "marketing":
		t.Errorf("categories %+v", shown.Config.Cats)
	case shown.Script != string(script):
		t.Errorf("the recorded script (%d bytes) is not the one served (%d bytes)", len(shown.Script), len(script))
	case shown.Integrity != "sha384-"+base64.StdEncoding.EncodeToString(sum[:]) || shown.Integrity != de.Integrity:
		t.Errorf("integrity %s, the script hashes to another", shown.Integrity)
	}
	if want := shippedTexts(t, "de")["title"]; shown.Config.Texts["title"] != want {
		t.Errorf("title %q, want the German %q", shown.Config.Texts["title"], want)
	}
	for path, status := range map[string]int{
		"/admin/v1/banners/news/0123456789abcdef":  404,
		"/admin/v1/banners/gone/" + de.Version:     404, // a site no longer configured is looked up too
		"/admin/v1/banners/news/not%20a%20version": 400,
		"/admin/v1/banners/News/" + de.Version:     400,
	} {
		wantStatus(t, e.do(t, http.MethodGet, path, "", analyst), status)
	}
	wantStatus(t, e.do(t, http.MethodGet, "/admin/v1/banners/news/"+de.Version, "", nil), 401)
}

func TestAdminConsentStats(t *testing.T) {
	e := newEnv(t, testConfig())
	erased := e.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil)
	e.decide(t, newsOrig, `{"site":"news","method":"accept_all"}`, nil)
	e.decide(t, newsOrig, `{"site":"news","method":"reject_all"}`, hdr{"Sec-GPC": "1"})
	e.decide(t, newsOrig, `{"site":"news","method":"custom","choices":{"analytics":true}}`, nil)
	e.decide(t, forumOrig, `{"site":"forum","method":"accept_all"}`, nil)
	analyst := hdr{"Authorization": "Bearer " + adminToken(t, consent.RoleAnalyst)}
	today := time.Now().UTC().Format(time.DateOnly)
	check := func(when, query string) {
		t.Helper()
		resp := e.do(t, http.MethodGet, "/admin/v1/stats/consents?"+query, "", analyst)
		wantStatus(t, resp, 200)
		var body struct {
			Site string
			Days []consent.DayStats
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Days) != 1 {
			t.Fatalf("%s: stats %+v %v", when, body, err)
		}
		d := body.Days[0]
		an := d.Categories["analytics"]
		if d.Day != today || d.Decisions != 4 || d.ByMethod["accept_all"] != 2 || d.ByMethod["reject_all"] != 1 || d.ByMethod["custom"] != 1 || d.MethodRate["accept_all"] != 0.5 ||
			d.BySignal["gpc"] != 1 || an == nil || an.Granted != 3 || an.Denied != 1 || an.Rate != 0.75 || d.Categories["marketing"].Granted != 2 {
			t.Fatalf("%s: day stats %+v, analytics %+v", when, d, an)
		}
	}
	check("explicit range", "site=news&from="+today+"&to="+today)
	for _, q := range []string{"site=nope", "site=news&from=yesterday", "site=news&from=2026-02-01&to=2026-01-01", "site=news&from=2020-01-01&to=2026-01-01"} {
		wantStatus(t, e.do(t, http.MethodGet, "/admin/v1/stats/consents?"+q, "", analyst), 400)
	}
	// Erasure removes the person, not the anonymous count.
	wantStatus(t, e.do(t, http.MethodDelete, "/admin/v1/subjects/"+erased.ConsentID, "", hdr{"Authorization": "Bearer " + adminToken(t, consent.RoleAdmin)}), 200)
	check("after an erasure, default range", "site=news")
}

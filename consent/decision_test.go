package consent_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/internal/fields"
)

func TestParseDecision(t *testing.T) {
	lim := consent.DecisionLimits{MaxBannerVersion: 8, MaxReceipt: 16}
	tests := []struct {
		name   string
		body   string
		fields []string // named in the error; nil means valid
	}{
		{"accept all", `{"site":"shop","method":"accept_all"}`, nil},
		{"custom", `{"site":"shop","method":"custom","choices":{"analytics":true},"lang":"zh-CN","banner_version":"b7"}`, nil},
		{"sendBeacon body with receipt", `{"site":"shop","method":"withdraw","receipt":"a.b.c"}`, nil},
		{"malformed", `{"site":`, []string{"body"}},
		{"unknown field", `{"site":"shop","method":"accept_all","ip":"1.2.3.4"}`, []string{"body"}},
		{"choice not a boolean", `{"site":"shop","method":"custom","choices":{"analytics":"yes"}}`, []string{"body"}},
		{"everything missing", `{}`, []string{"site", "method"}},
		{"unknown method", `{"site":"shop","method":"maybe"}`, []string{"method"}},
		{"custom without choices", `{"site":"shop","method":"custom"}`, []string{"choices"}},
		{"bad category id", `{"site":"shop","method":"custom","choices":{"Bad Id":true}}`, []string{"choices"}},
		{"bad lang", `{"site":"shop","method":"accept_all","lang":"en_US!"}`, []string{"lang"}},
		{"lang too long", `{"site":"shop","method":"accept_all","lang":"` + strings.Repeat("a", 36) + `"}`, []string{"lang"}},
		{"banner version is free text", `{"site":"shop","method":"accept_all","banner_version":"jane@x.io"}`, []string{"banner_version"}},
		{"banner version too long", `{"site":"shop","method":"accept_all","banner_version":"123456789"}`, []string{"banner_version"}},
		{"receipt too long", `{"site":"shop","method":"accept_all","receipt":"` + strings.Repeat("r", 17) + `"}`, []string{"receipt"}},
		{"site too long", `{"site":"` + strings.Repeat("s", 64) + `","method":"accept_all"}`, []string{"site"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := consent.ParseDecision([]byte(tc.body), lim)
			wantFields(t, err, tc.fields)
		})
	}
}

func wantFields(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	var fe fields.Errors
	if !errors.As(err, &fe) {
		t.Fatalf("want fields.Errors naming %v, got %v", want, err)
	}
	for _, f := range want {
		if !fe.Has(f) {
			t.Errorf("error does not name %q: %v", f, fe)
		}
	}
}

func TestDecide(t *testing.T) {
	ss := testSites(t)
	shop, blog := ss.Lookup("shop"), ss.Lookup("blog")
	now := time.Date(2026, 11, 24, 12, 0, 0, 500, time.UTC)
	tests := []struct {
		name     string
		site     *consent.Site
		body     string
		sig      consent.Signal
		granted  string // comma-separated, in site order
		override bool
		fields   []string // a 400 naming these
	}{
		{"accept all", shop, `{"site":"shop","method":"accept_all"}`, consent.SignalNone, "necessary,preferences,analytics,marketing", false, nil},
		{"reject all", shop, `{"site":"shop","method":"reject_all"}`, consent.SignalNone, "necessary", false, nil},
		{"custom", shop, `{"site":"shop","method":"custom","choices":{"analytics":true,"marketing":false}}`, consent.SignalNone, "necessary,analytics", false, nil},
		{"required stays granted", shop, `{"site":"shop","method":"custom","choices":{"necessary":false}}`, consent.SignalNone, "necessary", false, nil},
		{"withdraw", shop, `{"site":"shop","method":"withdraw"}`, consent.SignalNone, "necessary", false, nil},
		{"unknown category", shop, `{"site":"shop","method":"custom","choices":{"tracking":true}}`, consent.SignalNone, "", false, []string{"choices.tracking"}},
		{"accept all refusing one", shop, `{"site":"shop","method":"accept_all","choices":{"marketing":false}}`, consent.SignalNone, "", false, []string{"choices"}},
		{"reject all granting one", shop, `{"site":"shop","method":"reject_all","choices":{"analytics":true}}`, consent.SignalNone, "", false, []string{"choices"}},
		{"withdraw granting one", shop, `{"site":"shop","method":"withdraw","choices":{"analytics":true}}`, consent.SignalNone, "", false, []string{"choices"}},
		{"strict DNT denies accept all", shop, `{"site":"shop","method":"accept_all"}`, consent.SignalDNT, "necessary", false, nil},
		{"strict GPC denies custom", shop, `{"site":"shop","method":"custom","choices":{"analytics":true}}`, consent.SignalGPC, "necessary", false, nil},
		{"allow_explicit: custom overrides GPC", blog, `{"site":"blog","method":"custom","choices":{"analytics":true}}`, consent.SignalGPC, "necessary,analytics", true, nil},
		{"allow_explicit: accept all does not", blog, `{"site":"blog","method":"accept_all"}`, consent.SignalBoth, "necessary", false, nil},
		{"allow_explicit: custom refusing needs no override", blog, `{"site":"blog","method":"custom","choices":{"analytics":false}}`, consent.SignalDNT, "necessary", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := consent.ParseDecision([]byte(tc.body), consent.DefaultDecisionLimits)
			if err != nil {
				t.Fatal(err)
			}
			d, err := consent.Decide(tc.site, req, nil, tc.sig, now)
			if tc.fields != nil {
				wantFields(t, err, tc.fields)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(d.GrantedIDs, ","); got != tc.granted {
				t.Errorf("granted %q, want %q", got, tc.granted)
			}
			if d.Granted|d.Denied != tc.site.AllMask() || d.Granted&d.Denied != 0 || len(d.GrantedIDs)+len(d.DeniedIDs) != len(tc.site.Categories) {
				t.Errorf("granted and denied must partition the categories: %+v", d)
			}
			if d.Override != tc.override || d.Signal != tc.sig || d.Method != req.Method {
				t.Errorf("override %v signal %q method %q", d.Override, d.Signal, d.Method)
			}
			if !d.DecidedAt.Equal(now.Truncate(time.Millisecond)) || !d.ExpiresAt.Equal(now.Truncate(time.Second).AddDate(0, 0, 182)) || d.PolicyVersion != tc.site.PolicyVersion {
				t.Errorf("dates or policy wrong: %+v", d)
			}
			if len(d.ID) != 22 || len(d.ConsentID) != 22 || d.ID == d.ConsentID {
				t.Errorf("ids must be 128 random bits each: %q %q", d.ID, d.ConsentID)
			}
		})
	}
}

func TestConsentIDCarriesOverOnlyFromOwnSite(t *testing.T) {
	ss := testSites(t)
	shop, blog := ss.Lookup("shop"), ss.Lookup("blog")
	first := decide(t, shop, `{"site":"shop","method":"accept_all"}`, nil, consent.SignalNone, time.Now())
	prev := &consent.Receipt{ConsentID: first.ConsentID, Site: "shop"}
	again := decide(t, shop, `{"site":"shop","method":"reject_all"}`, prev, consent.SignalNone, time.Now())
	if again.ConsentID != first.ConsentID || again.ID == first.ID {
		t.Fatalf("same browser, same site: consent id kept, decision id new: %+v %+v", first, again)
	}
	other := decide(t, blog, `{"site":"blog","method":"accept_all"}`, prev, consent.SignalNone, time.Now())
	if other.ConsentID == first.ConsentID {
		t.Fatal("a receipt of another site must not carry its consent id over")
	}
}

func FuzzParseDecision(f *testing.F) {
	f.Add([]byte(`{"site":"shop","method":"custom","choices":{"analytics":true,"marketing":false},"lang":"en","banner_version":"1"}`))
	f.Add([]byte(`{"site":"shop","method":"withdraw","receipt":"a.b.c"}`))
	f.Add([]byte(`{"choices":{"":true}}`))
	ss, _ := consent.ParseSites("f.yaml", []byte(fourCategories))
	shop := ss.Lookup("shop")
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := consent.ParseDecision(body, consent.DefaultDecisionLimits)
		if err != nil {
			var fe fields.Errors
			if !errors.As(err, &fe) || len(fe) == 0 {
				t.Fatalf("error is not a non-empty fields.Errors: %v", err)
			}
			return
		}
		if req.Site == "" || len(req.Lang) > 35 || len(req.Receipt) > consent.DefaultDecisionLimits.MaxReceipt || len(req.Choices) >= consent.MaxCategories {
			t.Fatalf("accepted request breaks a limit: %+v", req)
		}
		d, err := consent.Decide(shop, req, nil, consent.SignalNone, time.Now())
		if err != nil {
			return
		}
		if d.Granted&shop.RequiredMask() != shop.RequiredMask() || d.Granted&^shop.AllMask() != 0 {
			t.Fatalf("decision grants %b: required must be in, nothing outside the site", d.Granted)
		}
		if (req.Method == consent.MethodRejectAll || req.Method == consent.MethodWithdraw) && d.Granted != shop.RequiredMask() {
			t.Fatalf("%s granted %v", req.Method, d.GrantedIDs)
		}
	})
}

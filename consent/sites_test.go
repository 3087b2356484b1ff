package consent

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestExampleSitesFileLoads(t *testing.T) {
	ss, err := LoadSites("../sites.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(ss.All()) != 2 {
		t.Fatalf("want 2 sites, got %d", len(ss.All()))
	}
	shop := ss.Lookup("shop")
	if shop == nil || shop.AnalyticsMode != ModeExempt || shop.RetentionDays != 395 {
		t.Fatalf("shop parsed wrong: %+v", shop)
	}
	if !shop.AllowsOrigin("http://localhost:8081") || shop.AllowsOrigin("http://localhost:8082") {
		t.Error("origin check wrong")
	}
	if !shop.IsOwnHost("shop.example") || !shop.AllowsQueryParam("utm_source") || shop.AllowsQueryParam("secret") {
		t.Error("host or query param check wrong")
	}
	if !ss.AnyAllowsOrigin("http://localhost:8082") || ss.AnyAllowsOrigin("https://evil.example") {
		t.Error("AnyAllowsOrigin wrong")
	}
}

func TestSiteDefaults(t *testing.T) {
	ss, err := ParseSites("s.yaml", []byte(`
sites:
  - id: a
    origins: ["https://a.example"]
    policy_version: v1
    categories: [{id: necessary, required: true}]
`))
	if err != nil {
		t.Fatal(err)
	}
	a := ss.Lookup("a")
	if a.AnalyticsMode != ModeConsent || a.RetentionDays != DefaultRetentionDays || a.Banner.DefaultLang != "en" || a.Banner.CookieName != "consentry" {
		t.Fatalf("defaults not applied: %+v", a)
	}
}

func TestSitesValidationReportsEveryError(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every substring must appear in the one error
	}{
		{"empty file", ``, []string{"f.yaml: sites: at least one site is required"}},
		{"unknown field", "sites:\n  - id: a\n    colour: red\n", []string{"f.yaml", "colour"}},
		{"many problems in one site", `
sites:
  - id: Bad Id
    origins: ["ftp://x", "https://ok.example/", "https://a.example/path"]
    analytics_mode: sometimes
    retention_days: 99999
    consent_max_age: 400
    honor_signals: never
    query_params: ["bad param"]
    categories:
      - {id: necessary, technologies: [telepathy]}
      - {id: necessary}
`, []string{
			`f.yaml: site "Bad Id": id: must match`,
			`origins[0]: "ftp://x": scheme must be http or https`,
			`origins[1]: "https://ok.example/": no trailing slash`,
			`origins[2]: "https://a.example/path": must be scheme://host[:port] only`,
			`policy_version: is required`,
			`analytics_mode: must be "consent" or "exempt"`,
			`retention_days: must be between 1 and 3650`,
			`consent_max_age: must be between 1 and 395 days`,
			`honor_signals: must be "strict" or "allow_explicit", not "never"`,
			`query_params[0]: must match`,
			`categories[0].technologies[0]: unknown technology "telepathy"`,
			`categories[1].id: duplicate category "necessary"`,
		}},
		{"banner and vendors", `
sites:
  - id: a
    origins: ["https://a.example"]
    policy_version: v1
    banner:
      policy_url: javascript:alert(1)
      default_lang: "en us"
      languages: [fr, "x!"]
      cookie_name: "bad name"
      cookie_domain: "Example.COM/"
      layout: cloud
      google_consent_mode: {ad_storage: [marketing], ad_magic: [necessary]}
      microsoft_consent_mode: {ad_storage: [marketing], ad_personalization: [necessary]}
    categories:
      - id: necessary
        required: true
        cookies: ["ok", "pre_*", "semi;colon"]
      - id: analytics
        storage: ["theme", "cart:*", "", "*", "tab\there"]
        vendors:
          - {name: "", purpose: "x", policy_url: "ftp://v.example"}
          - {name: Matomo, policy_url: "https://matomo.org/privacy", cookies: ["_pk_*", "*"]}
          - {name: Plausible, policy_url: "https://plausible.io/privacy", purpose: {en: Stats, "fr FR": Statistiques}}
`, []string{
			`banner.policy_url: "javascript:alert(1)": must be an absolute http or https URL`,
			`banner.default_lang: must be a language tag`,
			`banner.languages[1]: must be a language tag`,
			`banner.languages: must include default_lang "en us"`,
			`banner.cookie_name: must be a cookie name`,
			`banner.cookie_domain: must be a lower-case domain`,
			`banner.layout: must be one of box, bar, corner`,
			`banner.google_consent_mode.ad_magic: unknown consent type`,
			`banner.google_consent_mode.ad_storage: unknown category "marketing"`,
			`banner.microsoft_consent_mode.ad_personalization: unknown consent type (known: ad_storage)`,
			`banner.microsoft_consent_mode.ad_storage: unknown category "marketing"`,
			`categories[0].cookies[2]: "semi;colon" is not a cookie name`,
			`categories[1].storage[2]: "" is not a storage key`,
			`categories[1].storage[3]: "*" is not a storage key`,
			`categories[1].storage[4]: "tab\there" is not a storage key`,
			`categories[1].vendors[0].name: is required`,
			`categories[1].vendors[0].policy_url: "ftp://v.example"`,
			`categories[1].vendors[1].cookies[1]: "*" is not a cookie name`,
			`categories[1].vendors[2].purpose.fr FR: must be keyed by language tags`,
		}},
		{"vendor purpose neither text nor map", "sites:\n  - id: a\n    categories:\n      - {id: c, vendors: [{name: U, purpose: [not, text]}]}\n", []string{"f.yaml: line 4: a text, or a map of language tags to texts"}},
		{"proof shorter than its receipt", `
sites:
  - {id: a, origins: ["https://a.example"], policy_version: v1, consent_max_age: 200, consent_retention_days: 100, categories: [{id: c}]}
`, []string{`site "a": consent_retention_days: must be at least consent_max_age (200)`}},
		{"duplicate sites and missing fields", `
sites:
  - {id: a, origins: ["https://a.example"], policy_version: v1, categories: [{id: c}]}
  - {id: a, origins: ["https://b.example"], policy_version: v1, categories: [{id: c}]}
  - {id: b}
`, []string{`site "a": id: duplicate site id`, `site "b": origins: at least one origin is required`, `site "b": categories: at least one category is required`, `site "b": policy_version`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSites("f.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLocalizedTextInJSONAsInTheSitesFile(t *testing.T) {
	for _, tc := range []struct {
		in   Localized
		want string
	}{
		{Localized{"": "Stats"}, `"Stats"`},
		{Localized{"en": "Stats", "fr": "Statistiques"}, `{"en":"Stats","fr":"Statistiques"}`},
	} {
		got, err := json.Marshal(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("%v: %s %v, want %s", tc.in, got, err, tc.want)
		}
	}
	if got := (Localized{"en": "Stats", "": "plain"}).In("de", "fr"); got != "plain" {
		t.Errorf("fallback to the plain text: %q", got)
	}
}

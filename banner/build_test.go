package banner

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/andybalholm/brotli"

	"github.com/consentry/consentry/banner/internal/minify"
	"github.com/consentry/consentry/consent"
)

func exampleBanners(t testing.TB) *Banners {
	t.Helper()
	sites, err := consent.LoadSites("../sites.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bs, err := New(sites)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func TestShippedLanguagesHaveEveryKey(t *testing.T) {
	texts, err := shippedTexts()
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(maps.Keys(texts["en"]))
	for _, lang := range Shipped {
		got := slices.Sorted(maps.Keys(texts[lang]))
		if !slices.Equal(got, want) {
			t.Errorf("%s: keys %v, want %v", lang, got, want)
		}
		for k, v := range texts[lang] {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %s is blank", lang, k)
			}
			if lang != "en" && v == texts["en"][k] && !slices.Contains([]string{"cookies", "cat.marketing.name"}, k) {
				t.Errorf("%s: %s is the English text, not a translation", lang, k)
			}
		}
	}
}

// configOf extracts the inlined site config from a built script.
func configOf(t *testing.T, b *Bundle) config {
	t.Helper()
	s := string(b.Raw)
	i := strings.Index(s, `({"s":`)
	j := strings.LastIndex(s, "})")
	if i < 0 || j < i {
		t.Fatalf("no inlined config in %.200s", s)
	}
	var c config
	if err := json.Unmarshal([]byte(s[i+1:j+1]), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBundleInlinesTheSiteAndIsCompressedOnce(t *testing.T) {
	bs := exampleBanners(t)
	b, err := bs.Bundle("shop", "fr")
	if err != nil || b == nil {
		t.Fatalf("bundle: %v %v", b, err)
	}
	if again, _ := bs.Bundle("shop", "fr"); again != b {
		t.Error("a bundle must be built once and reused")
	}
	c := configOf(t, b)
	if c.Site != "shop" || c.Lang != "fr" || c.Policy != "2026-11-24" || !c.Exempt || c.Beacon != "analytics" || c.Cookie != "consentry" || c.Version != b.Version {
		t.Errorf("config: %+v", c)
	}
	if c.Texts["title"] != "Les cookies de la boutique" || c.Texts["reject"] != "Tout refuser" {
		t.Errorf("French texts with the site's override: %v", c.Texts)
	}
	if len(c.Cats) != 4 || c.Cats[2].Name != "Mesure d'audience" || len(c.Cats[3].Vendors) != 2 || !slices.Equal(c.Cats[3].Cookies, []string{"_demo_ads"}) ||
		!slices.Equal(c.Cats[1].Storage, []string{"shop_recent:*"}) || c.Cats[3].Storage == nil {
		t.Errorf("categories: %+v", c.Cats)
	}
	if c.Cats[2].Vendors[0].Purpose != "Statistiques de visite auto-hébergées" || c.Cats[3].Vendors[0].Purpose != "Ad conversion measurement" {
		t.Errorf("vendor purposes in French where given, else the plain text: %+v", c.Cats[2:])
	}
	if de, _ := bs.Bundle("shop", "de"); configOf(t, de).Cats[2].Vendors[0].Purpose != "Self-hosted visit statistics" {
		t.Error("a purpose without German falls back to the site default language")
	}
	if len(c.GCM) != 7 || !slices.Equal(c.GCM["ad_user_data"], []string{"marketing"}) {
		t.Errorf("consent mode map: %v", c.GCM)
	}
	if strings.Contains(string(b.Raw), configIdent) || strings.Contains(string(b.Raw), "\n  ") {
		t.Error("the configIdent must be replaced and the code minified")
	}
	for name, packed := range map[string][]byte{"gzip": b.Gzip, "br": b.Brotli} {
		var r io.Reader
		if name == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(packed))
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		} else {
			r = brotli.NewReader(bytes.NewReader(packed))
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, b.Raw) {
			t.Errorf("%s does not unpack to the script: %v", name, err)
		}
	}
	sum := sha512.Sum384(b.Raw)
	if b.Integrity != "sha384-"+base64.StdEncoding.EncodeToString(sum[:]) {
		t.Error("integrity is not the SRI hash of the script")
	}
	if b.ETag("") == b.ETag("br") || !strings.HasPrefix(b.ETag("gzip"), `"`+b.Version) {
		t.Error("each content coding needs its own strong ETag")
	}
	// The same inputs give the same version on another replica; another language differs.
	if other, _ := exampleBanners(t).Bundle("shop", "fr"); other.Version != b.Version || !bytes.Equal(other.Raw, b.Raw) {
		t.Error("a rebuild of the same config must be byte-identical")
	}
	if en, _ := bs.Bundle("shop", "en"); en.Version == b.Version {
		t.Error("each language has its own version")
	}
	// The build for a request that carried GPC says so; it keeps the banner's version.
	gpc, _ := bs.Variant("shop", "fr", SignalOf(false, true))
	if c := configOf(t, gpc); c.Signal != 2 || gpc.Version != b.Version || gpc.ETag("br") == b.ETag("br") || bytes.Equal(gpc.Raw, b.Raw) {
		t.Errorf("GPC variant: signal %d, version %s, etag %s", c.Signal, gpc.Version, gpc.ETag("br"))
	}
	if configOf(t, b).Signal != 0 || strings.Contains(string(b.Raw), `"z":`) {
		t.Error("the plain build carries no signal")
	}
	t.Logf("shop/fr: %d bytes, gzip %d, brotli %d", len(b.Raw), len(b.Gzip), len(b.Brotli))
}

func TestChooseLanguage(t *testing.T) {
	bs := exampleBanners(t)
	tests := []struct {
		lang, accept, want string
	}{
		{"", "", "en"},
		{"", "fr-CA,fr;q=0.9,en;q=0.5", "fr"},
		{"", "de-AT", "de"},
		{"", "zh-Hans-CN,zh;q=0.9", "zh-CN"},
		{"", "ja-JP", "ja"},
		{"", "fi-FI,fi;q=0.9", "en"},
		{"", "pt", "pt-BR"}, // Portuguese, unqualified, is Brazil's
		{"", "pt-PT,pt;q=0.9", "pt-PT"},
		{"", "pt-AO", "pt-PT"}, // Angola writes as Portugal does
		{"", "no", "nb"},       // Norwegian, unqualified, gets Bokmål
		{"", "nn-NO,nn;q=0.9", "nb"},
		{"", "da-DK,da;q=0.9,en;q=0.8", "da"},
		{"", "el-GR", "el"},
		{"", "ro-MD", "ro"},
		{"", "cs-CZ", "cs"},
		{"", "hu-HU", "hu"},
		{"es", "fr", "es"},     // the page's own language wins over the browser's
		{"es-MX", "", "es"},    // a regional variant gets its language
		{"klingon!", "", "en"}, // an unparsable tag gets the default
		{"fi", "fr", "en"},     // asked explicitly for an unoffered one: the default
	}
	for _, tc := range tests {
		b, ok, err := bs.Choose("shop", tc.lang, tc.accept, 0)
		if err != nil || !ok || b.Lang != tc.want {
			t.Errorf("lang %q, Accept-Language %q: got %v %v %v, want %s", tc.lang, tc.accept, b, ok, err, tc.want)
		}
	}
	if b, ok, _ := bs.Choose("nosuch", "", "", 0); ok || b != nil {
		t.Error("unknown site must not be found")
	}
	blog, _, _ := bs.Choose("blog", "", "", 0)
	if got := bs.Languages("blog"); len(got) != len(Shipped) || got[0] != "en" || blog.Lang != "en" {
		t.Errorf("blog offers every shipped language, default first: %v", got)
	}
}

// customSite is testdata/club.yaml: a site whose default language is not shipped.
var customSite = func() string {
	data, err := os.ReadFile("testdata/club.yaml")
	if err != nil {
		panic(err)
	}
	return string(data)
}()

// customBanners builds the banners of customSite.
func customBanners(t *testing.T) *Banners {
	t.Helper()
	sites, err := consent.ParseSites("s.yaml", []byte(customSite))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := New(sites)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// A language without a translation of some text falls back to the site's default
// language, never to a blank.
func TestMissingTranslationFallsBackToTheSiteDefault(t *testing.T) {
	bs := customBanners(t)
	fr, _ := bs.Bundle("club", "fr")
	c := configOf(t, fr)
	if c.Cats[1].Name != "Statistiques" || c.Cats[1].Description != "Laskee käynnit." || c.Texts["accept"] != "Tout accepter" {
		t.Errorf("fr: %+v %v", c.Cats, c.Texts["accept"])
	}
	for k, v := range c.Texts {
		if v == "" {
			t.Errorf("fr: %s is blank", k)
		}
	}
	if b, _, _ := bs.Choose("club", "", "de", 0); b.Lang != "fi" {
		t.Errorf("an unoffered language gets the site default, got %s", b.Lang)
	}
}

// A build says when the site offers another variant of its language, for which a page's
// region decides (pt-PT and pt-BR), and not otherwise: there, an en-US page keeps en.
func TestBuildsSayWhenAKinLanguageIsOffered(t *testing.T) {
	shop := exampleBanners(t) // every shipped language: pt-BR and pt-PT
	club := customBanners(t)  // fi, en, fr, ar
	for _, tc := range []struct {
		bs   *Banners
		site string
		lang string
		kin  bool
	}{
		{shop, "shop", "pt-BR", true},
		{shop, "shop", "pt-PT", true},
		{shop, "shop", "en", false},
		{shop, "shop", "zh-CN", false},
		{club, "club", "en", false},
		{club, "club", "fi", false},
	} {
		b, err := tc.bs.Bundle(tc.site, tc.lang)
		if err != nil || b == nil {
			t.Fatalf("%s/%s: %v", tc.site, tc.lang, err)
		}
		if got := configOf(t, b).Kin; got != tc.kin {
			t.Errorf("%s/%s: kin %v, want %v", tc.site, tc.lang, got, tc.kin)
		}
	}
	for _, tc := range []struct {
		langs []string
		lang  string
		kin   bool
	}{
		{[]string{"en", "pt-BR"}, "pt-BR", false},
		{[]string{"en", "pt-br", "pt-PT"}, "pt-BR", true},
		{[]string{"zh-CN", "zh-TW"}, "zh-CN", true},
		{[]string{"en", "en-GB"}, "en", true},
		{[]string{"en", "de"}, "en", false},
	} {
		if got := kin(tc.langs, tc.lang); got != tc.kin {
			t.Errorf("kin(%v, %s) = %v, want %v", tc.langs, tc.lang, got, tc.kin)
		}
	}
}

// A layout's styles travel only to the sites that have it: the bar's are in a bar site's
// script, after banner.css, and the corner's in a corner site's; a box site has neither.
func TestLayoutStylesOnlyForTheirSites(t *testing.T) {
	box, _ := customBanners(t).Bundle("club", "en")
	if c := configOf(t, box); c.Layout != "" || strings.Contains(c.CSS, ".cst-bar") || strings.Contains(c.CSS, ".cst-corner") {
		t.Errorf("a box site's styles carry a layout's: layout %q", c.Layout)
	}
	for _, layout := range []string{"bar", "corner"} {
		sites, err := consent.ParseSites("s.yaml", []byte(strings.Replace(customSite, "    banner:\n", "    banner:\n      layout: "+layout+"\n", 1)))
		if err != nil {
			t.Fatal(err)
		}
		bs, err := New(sites)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := bs.Bundle("club", "en")
		c := configOf(t, b)
		if c.Layout != layout || c.CSS != bs.css+bs.layouts[layout] || !strings.Contains(bs.layouts[layout], ".cst-"+layout) {
			t.Errorf("a %s site's styles: layout %q, %d bytes of CSS", layout, c.Layout, len(c.CSS))
		}
		for other, css := range bs.layouts {
			if other != layout && strings.Contains(c.CSS, css) {
				t.Errorf("a %s site's styles carry the %s's", layout, other)
			}
		}
	}
}

// A site whose default language is not shipped, configured before a text key was added
// (laterKeys), still starts: the banner shows that text in English, and Warnings names
// it for the operator. Its own text, once given, is shown instead; a key that is not a
// later one is still required.
func TestLaterKeysFallBackToEnglishWithAWarning(t *testing.T) {
	en, err := shippedTexts()
	if err != nil {
		t.Fatal(err)
	}
	bs := customBanners(t) // club: Finnish by default, written before storage and erase_confirm
	fi, _ := bs.Bundle("club", "fi")
	c := configOf(t, fi)
	if c.Texts["storage"] != en["en"]["storage"] || c.Texts["erase_confirm"] != en["en"]["erase_confirm"] || c.Texts["title"] != "Sinun valintasi" {
		t.Errorf("the later keys in English, the rest in Finnish: %q, %q, %q", c.Texts["storage"], c.Texts["erase_confirm"], c.Texts["title"])
	}
	want := []string{`site "club": banner.texts.fi.erase_confirm: missing, shown in English (en)`, `site "club": banner.texts.fi.storage: missing, shown in English (en)`}
	if got := bs.Warnings(); !slices.Equal(got, want) {
		t.Errorf("warnings: %q, want %q", got, want)
	}
	given := strings.Replace(customSite, "cookies: Evästeet,", "cookies: Evästeet, storage: Selaimen tallennustila, erase_confirm: Vahvista painamalla uudelleen.,", 1)
	sites, err := consent.ParseSites("s.yaml", []byte(given))
	if err != nil {
		t.Fatal(err)
	}
	if bs, err = New(sites); err != nil {
		t.Fatal(err)
	}
	if fi, _ := bs.Bundle("club", "fi"); configOf(t, fi).Texts["storage"] != "Selaimen tallennustila" || len(bs.Warnings()) != 0 {
		t.Errorf("the site's own texts: %q, warnings %q", configOf(t, fi).Texts["storage"], bs.Warnings())
	}
	sites, err = consent.ParseSites("s.yaml", []byte(strings.Replace(customSite, "title: Sinun valintasi, ", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(sites); err == nil || !strings.Contains(err.Error(), `banner.texts.fi.title: missing: "fi" has no shipped text for it`) {
		t.Errorf("a missing title: %v", err)
	}
}

// A language written right to left says so, so that the banner sets its own dir (not the
// page's, which may differ).
func TestRightToLeftLanguages(t *testing.T) {
	for lang, rtl := range map[string]bool{"ar": true, "he": true, "fa": true, "ur": true, "yi": true, "az-Arab": true,
		"en": false, "zh-CN": false, "ja": false, "de": false, "az": false, "nl": false} {
		if got := rightToLeft(lang); got != rtl {
			t.Errorf("rightToLeft(%q) = %v", lang, got)
		}
	}
	bs := customBanners(t)
	for lang, rtl := range map[string]bool{"ar": true, "fi": false} {
		b, err := bs.Bundle("club", lang)
		if err != nil || b == nil {
			t.Fatalf("%s: %v", lang, err)
		}
		if c := configOf(t, b); c.RTL != rtl || lang == "ar" && c.Texts["title"] != "اختيارك" {
			t.Errorf("%s: rtl %v, title %q", lang, c.RTL, c.Texts["title"])
		}
	}
}

func TestBannerTextsValidatedWithEveryError(t *testing.T) {
	sites, err := consent.ParseSites("s.yaml", []byte(`
sites:
  - id: a
    origins: ["https://a.example"]
    policy_version: v1
    banner:
      languages: [en, fi, fr]
      texts:
        en: {titel: Hello, accept: "  "}
        de: {title: Hallo}
    categories:
      - {id: necessary, required: true}
      - {id: social}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(sites)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{
		`site "a": banner.languages: "fi" is not shipped`,
		`site "a": banner.texts.en.titel: unknown text key`,
		`site "a": banner.texts.en.accept: must be 1 to 1000 bytes, not blank`,
		`site "a": banner.texts.de: language is not offered`,
		`site "a": banner.texts.en.cat.social.name: missing`,
		`site "a": banner.texts.en.cat.social.description: missing`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// Languages come from the page (lang) and the browser (Accept-Language): untrusted
// input. Any of it must give one of the site's offered languages, never an error.
func FuzzChooseLanguage(f *testing.F) {
	bs := exampleBanners(f)
	for _, seed := range [][2]string{{"", ""}, {"fr", ""}, {"", "de-AT,de;q=0.9,*;q=0.1"}, {"zh-Hant-TW", "ja"}, {"x-klingon", "q=;;,"}, {"en-US-u-ca-buddhist", "en-GB;q=2"}} {
		f.Add(seed[0], seed[1])
	}
	offered := bs.Languages("shop")
	f.Fuzz(func(t *testing.T, lang, accept string) {
		b, ok, err := bs.Choose("shop", lang, accept, 0)
		if err != nil || !ok || b == nil || !slices.Contains(offered, b.Lang) {
			t.Fatalf("lang %q, Accept-Language %q: %v %v %v", lang, accept, b, ok, err)
		}
	})
}

// dist/ is what esbuild makes of src/ now: nobody edits it by hand or forgets to
// regenerate it.
func TestDistIsMinifiedFromSources(t *testing.T) {
	files, err := minify.Dist(".")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not esbuild's output of src/ (%v): run go generate ./banner", name, err)
		}
	}
	if len(files) != 4 {
		t.Errorf("dist files checked: %v", len(files))
	}
}

// Concurrent first requests build each bundle once and all get that one.
func TestBundlesBuiltOnceUnderConcurrency(t *testing.T) {
	bs := exampleBanners(t)
	got := make([]*Bundle, 32)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _, err := bs.Choose("shop", "", "de-DE,de;q=0.9", SignalOf(i%2 == 0, false))
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		}()
	}
	wg.Wait()
	for i, b := range got {
		if b != got[i%2] {
			t.Fatalf("request %d got another build of the same bundle", i)
		}
	}
	if got[0] == got[1] || got[0].Signal != 1 || got[1].Signal != 0 {
		t.Error("DNT and no signal are two bundles")
	}
}

// BenchmarkChoose is the per-request cost of picking a built banner (the hot path of
// GET /s/SITE/banner.js); BenchmarkBuild is what the first request of a site, language
// and signal pays once.
func BenchmarkChoose(b *testing.B) {
	bs := exampleBanners(b)
	if _, _, err := bs.Choose("shop", "", "fr-FR,fr;q=0.9,en;q=0.8", 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := bs.Choose("shop", "", "fr-FR,fr;q=0.9,en;q=0.8", 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	bs := exampleBanners(b)
	site := bs.sites["shop"]
	for b.Loop() {
		if _, err := bs.build(site, "fr", 0); err != nil {
			b.Fatal(err)
		}
	}
}

// The ledger keeps what Versions returns: it must be what each language's visitors get.
func TestVersionsAreTheBannersServed(t *testing.T) {
	bs := exampleBanners(t)
	versions, err := bs.Versions()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range versions {
		b, err := bs.Bundle(v.Site, v.Lang)
		if err != nil || b == nil {
			t.Fatalf("%s/%s: not offered (%v)", v.Site, v.Lang, err)
		}
		c := configOf(t, b)
		switch {
		case v.Version != b.Version || v.Script != string(b.Raw) || v.Integrity != b.Integrity:
			t.Errorf("%s/%s: version %s, script of %d bytes, %s; served %s, %d bytes, %s", v.Site, v.Lang, v.Version, len(v.Script), v.Integrity, b.Version, len(b.Raw), b.Integrity)
		case !strings.Contains(v.Script, v.Config):
			t.Errorf("%s/%s: the config recorded is not the one in the script", v.Site, v.Lang)
		case v.PolicyVersion != c.Policy:
			t.Errorf("%s/%s: policy version %q, the script has %q", v.Site, v.Lang, v.PolicyVersion, c.Policy)
		case seen[v.Site+" "+v.Version]:
			t.Errorf("%s: version %s twice", v.Site, v.Version)
		}
		seen[v.Site+" "+v.Version] = true
	}
	want := 0
	for site := range bs.sites {
		want += len(bs.Languages(site))
	}
	if len(versions) != want || want < 2*len(Shipped) {
		t.Errorf("%d versions, want one per site and language: %d", len(versions), want)
	}
}

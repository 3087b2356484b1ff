// Package banner builds and serves the consent banner: one script per site and language
// with the site's categories, vendors and texts inlined, compressed once per build, with a
// strong ETag and an SRI hash. The script and styles are minified from src/ into dist/ by
// esbuild at `go generate` (a test checks dist is current), so the service carries no
// minifier.
package banner

//go:generate go run ./internal/minify/gen

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"golang.org/x/text/language"

	"github.com/consentry/consentry/consent"
)

//go:embed dist/banner.min.js dist/*.min.css
var dist embed.FS

//go:embed i18n/*.json
var translations embed.FS

// Shipped are the languages whose texts come with Consentry; the first is the fallback
// of last resort for keys a site's default language lacks.
var Shipped = []string{"en", "zh-CN", "ja", "fr", "es", "de", "it", "nl", "pl", "pt-BR", "pt-PT", "sv", "cs", "da", "el", "hu", "nb", "ro"}

// configIdent is the free identifier banner.js receives its config through; each build
// writes one site's config, as JSON, in its place.
const configIdent = "__CONSENTRY__"

// maxText bounds one banner text from the sites file.
const maxText = 1000

// Signal is the privacy signal the server saw on the request for the script: bit 1 DNT,
// bit 2 GPC. A browser that sends the header without the matching navigator property
// gets a build that knows it, so it is not asked either.
type Signal uint8

// SignalOf gives the Signal of a request's DNT and Sec-GPC headers.
func SignalOf(dnt, gpc bool) Signal {
	var s Signal
	if dnt {
		s |= 1
	}
	if gpc {
		s |= 2
	}
	return s
}

// Bundle is one built banner: a site in one language, for one signal.
type Bundle struct {
	Site    string
	Lang    string
	Signal  Signal
	Version string // hash of the content but the signal; the versioned URL's v and the decisions' banner_version
	Raw     []byte // minified JavaScript
	Gzip    []byte
	Brotli  []byte
	// Integrity is the SRI hash of Raw, for <script integrity>.
	Integrity string
	etags     map[string]string // by content coding, made once with the bundle
}

// ETag is the bundle's strong entity tag for a content coding ("", "gzip" or "br"):
// each coding is its own representation.
func (b *Bundle) ETag(coding string) string { return b.etags[coding] }

// makeETags names each of the bundle's representations once, not per request.
func (b *Bundle) makeETags() {
	tag := b.Version
	if b.Signal != 0 {
		tag += fmt.Sprintf("-s%d", b.Signal)
	}
	b.etags = map[string]string{"": `"` + tag + `"`, "gzip": `"` + tag + `-gzip"`, "br": `"` + tag + `-br"`}
}

// Banners holds every site's banner. Bundles are built on first request, once each.
type Banners struct {
	code string // minified banner.js, configIdent still in it
	css  string // minified banner.css
	// layouts are the minified styles of each layout but the default (bar.css for layout:
	// bar), for the sites that have it.
	layouts map[string]string
	texts   map[string]map[string]string
	keys    []string // text keys other than category names and descriptions
	sites   map[string]*siteBanners
	// warnings are what New accepted but an operator should mend.
	warnings []string
}

type siteBanners struct {
	site    *consent.Site
	langs   []string // offered, the default first
	matcher language.Matcher
	builds  map[variant]*lazyBundle
}

type variant struct {
	lang   string
	signal Signal
}

type lazyBundle struct {
	once sync.Once
	b    *Bundle
	err  error
}

// New loads the minified script, styles and shipped texts, and checks every site's
// banner texts and languages against them, reporting every problem at once.
func New(sites *consent.Sites) (*Banners, error) {
	texts, err := shippedTexts()
	if err != nil {
		return nil, err
	}
	code, css, layouts, err := minified()
	if err != nil {
		return nil, err
	}
	bs := &Banners{code: code, css: css, layouts: layouts, texts: texts, sites: map[string]*siteBanners{}}
	for _, k := range slices.Sorted(maps.Keys(texts[Shipped[0]])) {
		if !strings.HasPrefix(k, "cat.") {
			bs.keys = append(bs.keys, k)
		}
	}
	var errs []error
	for _, s := range sites.All() {
		sb, err := bs.plan(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		bs.sites[s.ID] = sb
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return bs, nil
}

func shippedTexts() (map[string]map[string]string, error) {
	texts := map[string]map[string]string{}
	for _, lang := range Shipped {
		data, err := translations.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			return nil, fmt.Errorf("banner texts %s: %w", lang, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("banner texts %s: %w", lang, err)
		}
		texts[lang] = m
	}
	return texts, nil
}

// minified reads the generated script and styles.
func minified() (code, css string, layouts map[string]string, err error) {
	read := func(name string) (string, error) {
		data, err := dist.ReadFile("dist/" + name)
		return strings.TrimSpace(string(data)), err
	}
	if code, err = read("banner.min.js"); err != nil {
		return "", "", nil, err
	}
	if strings.Count(code, configIdent) != 1 {
		return "", "", nil, fmt.Errorf("banner.min.js: %s must appear exactly once (go generate ./banner)", configIdent)
	}
	if css, err = read("banner.min.css"); err != nil {
		return "", "", nil, err
	}
	layouts = map[string]string{}
	for _, l := range consent.Layouts[1:] {
		if layouts[l], err = read(l + ".min.css"); err != nil {
			return "", "", nil, err
		}
	}
	return code, css, layouts, nil
}

// plan checks a site's languages and texts and prepares its (unbuilt) bundles.
func (bs *Banners) plan(s *consent.Site) (*siteBanners, error) {
	b := s.Banner
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("site %q: banner.%s: %s", s.ID, field, fmt.Sprintf(format, args...)))
	}
	langs := []string{b.DefaultLang}
	offered := b.Languages
	if len(offered) == 0 {
		offered = Shipped
	}
	for _, l := range offered {
		if l != b.DefaultLang {
			langs = append(langs, l)
		}
	}
	for _, l := range langs {
		if bs.texts[l] == nil && b.Texts[l] == nil {
			fail("languages", "%q is not shipped (%s) and has no texts in the sites file", l, strings.Join(Shipped, ", "))
		}
	}
	known := map[string]bool{}
	for _, k := range bs.keys {
		known[k] = true
	}
	for _, c := range s.Categories {
		known["cat."+c.ID+".name"], known["cat."+c.ID+".description"] = true, true
	}
	for _, l := range slices.Sorted(maps.Keys(b.Texts)) {
		if !slices.Contains(langs, l) {
			fail("texts."+l, "language is not offered (languages: %s)", strings.Join(langs, ", "))
		}
		for _, k := range slices.Sorted(maps.Keys(b.Texts[l])) {
			v := b.Texts[l][k]
			switch {
			case !known[k]:
				fail("texts."+l+"."+k, "unknown text key (keys: %s, cat.<category>.name, cat.<category>.description)", strings.Join(bs.keys, ", "))
			case strings.TrimSpace(v) == "" || len(v) > maxText:
				fail("texts."+l+"."+k, "must be 1 to %d bytes, not blank", maxText)
			}
		}
	}
	// Every text must resolve in the default language: that is where others fall back.
	// A key added since (laterKeys) falls back to English instead, with a warning.
	for _, k := range slices.Sorted(maps.Keys(known)) {
		if s.Banner.Texts[b.DefaultLang][k] != "" || bs.texts[b.DefaultLang][k] != "" {
			continue
		}
		if slices.Contains(laterKeys, k) {
			bs.warnings = append(bs.warnings, fmt.Sprintf("site %q: banner.texts.%s.%s: missing, shown in English (%s)", s.ID, b.DefaultLang, k, Shipped[0]))
			continue
		}
		fail("texts."+b.DefaultLang+"."+k, "missing: %q has no shipped text for it", b.DefaultLang)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	tags := make([]language.Tag, len(langs))
	builds := map[variant]*lazyBundle{}
	for i, l := range langs {
		tags[i] = language.Make(l)
		for sig := range Signal(4) {
			builds[variant{l, sig}] = &lazyBundle{}
		}
	}
	return &siteBanners{site: s, langs: langs, matcher: language.NewMatcher(tags), builds: builds}, nil
}

// laterKeys are the text keys added after sites were first configured with their own
// default language: where that language is not shipped and a sites file written before
// lacks one, the banner shows it in English (the first shipped language) rather than the
// service refusing to start after an upgrade, and Warnings names it.
var laterKeys = []string{"storage", "erase_confirm"}

// Warnings names what New accepted but an operator should mend: texts shown in English.
func (bs *Banners) Warnings() []string { return bs.warnings }

// text resolves a key for a language: the site's own text, the shipped translation, then
// the same in the site's default language (then in English, for laterKeys); "" only if
// none has it.
func (bs *Banners) text(s *consent.Site, lang, key string) string {
	langs := []string{lang, s.Banner.DefaultLang}
	if slices.Contains(laterKeys, key) {
		langs = append(langs, Shipped[0])
	}
	for _, l := range langs {
		if v := s.Banner.Texts[l][key]; v != "" {
			return v
		}
		if v := bs.texts[l][key]; v != "" {
			return v
		}
	}
	return ""
}

// Languages returns the languages a site's banner is offered in, the default first;
// nil for an unknown site.
func (bs *Banners) Languages(site string) []string {
	if sb := bs.sites[site]; sb != nil {
		return sb.langs
	}
	return nil
}

// Choose picks a site's bundle for a signal: the language asked for (the lang query
// parameter), else the best match of Accept-Language, else the site's default. ok is
// false for an unknown site.
func (bs *Banners) Choose(site, lang, acceptLanguage string, sig Signal) (b *Bundle, ok bool, err error) {
	sb := bs.sites[site]
	if sb == nil {
		return nil, false, nil
	}
	var want []language.Tag
	if lang != "" {
		if t, err := language.Parse(lang); err == nil {
			want = []language.Tag{t}
		}
	} else {
		want, _, _ = language.ParseAcceptLanguage(acceptLanguage)
	}
	chosen := sb.langs[0]
	if len(want) > 0 {
		if _, i, conf := sb.matcher.Match(want...); conf != language.No {
			chosen = sb.langs[i]
		}
	}
	b, err = bs.Variant(site, chosen, sig)
	return b, true, err
}

// Bundle returns the site's banner in one of its offered languages, for no signal (the
// one versioned URLs and SRI hashes name); nil if the site or language is not offered.
func (bs *Banners) Bundle(site, lang string) (*Bundle, error) { return bs.Variant(site, lang, 0) }

// Variant is Bundle for a signal, built on first use.
func (bs *Banners) Variant(site, lang string, sig Signal) (*Bundle, error) {
	sb := bs.sites[site]
	if sb == nil || sb.builds[variant{lang, sig}] == nil {
		return nil, nil
	}
	lb := sb.builds[variant{lang, sig}]
	lb.once.Do(func() { lb.b, lb.err = bs.build(sb, lang, sig) })
	return lb.b, lb.err
}

// Versions returns every banner the sites are offered in, as served without a signal
// (a signal changes only the config's "z"), for the ledger to keep: a decision's
// banner_version names one, so what the visitor was shown can be read back later. They
// are written anew on each call and not kept: a script per site and language would
// otherwise stay in memory for the process's life, beside the bundles served.
func (bs *Banners) Versions() ([]consent.BannerVersion, error) {
	var versions []consent.BannerVersion
	for _, id := range slices.Sorted(maps.Keys(bs.sites)) {
		sb := bs.sites[id]
		for _, lang := range sb.langs {
			v, err := bs.version(sb, lang)
			if err != nil {
				return nil, err
			}
			versions = append(versions, v)
		}
	}
	return versions, nil
}

// version writes a site's banner in a language as the ledger keeps it.
func (bs *Banners) version(sb *siteBanners, lang string) (consent.BannerVersion, error) {
	b, cfg, err := bs.source(sb, lang, 0)
	if err != nil {
		return consent.BannerVersion{}, err
	}
	return consent.BannerVersion{Site: sb.site.ID, Version: b.Version, Lang: lang, PolicyVersion: sb.site.PolicyVersion,
		Config: string(cfg), Script: string(b.Raw), Integrity: b.Integrity}, nil
}

// kin reports whether langs holds another language of lang's base language (pt-PT for
// pt-BR, zh-TW for zh-CN).
func kin(langs []string, lang string) bool {
	base, _ := language.Make(lang).Base()
	for _, l := range langs {
		if b, _ := language.Make(l).Base(); b == base && !strings.EqualFold(l, lang) {
			return true
		}
	}
	return false
}

// rtlScripts are the scripts written right to left that a site's language may be in.
var rtlScripts = map[string]bool{"Adlm": true, "Arab": true, "Hebr": true, "Mand": true, "Nkoo": true, "Rohg": true, "Samr": true, "Syrc": true, "Thaa": true}

// rightToLeft reports whether lang (a BCP 47 tag) is written right to left: ar, he, fa,
// ur, yi, and a tag that names such a script (az-Arab).
func rightToLeft(lang string) bool {
	script, _ := language.Make(lang).Script()
	return rtlScripts[script.String()]
}

// config is what the script knows of its site, with short keys: it travels in every
// first visit.
type config struct {
	Site    string `json:"s"`
	Version string `json:"v"`
	Policy  string `json:"p"`
	Lang    string `json:"l"`
	RTL     bool   `json:"d,omitempty"` // the language is written right to left
	Exempt  bool   `json:"x"`
	Beacon  string `json:"b"` // the category that beacons need
	URL     string `json:"u"` // privacy policy
	Cookie  string `json:"k"`
	Domain  string `json:"o"`
	Reload  bool   `json:"r"`
	Button  bool   `json:"f,omitempty"` // settings_button
	Layout  string `json:"y,omitempty"` // layout, but the default box
	// Kin: the site offers another variant of this language (pt-BR and pt-PT), so a page
	// that names its region asks the server which one it gets.
	Kin    bool                `json:"a,omitempty"`
	GCM    map[string][]string `json:"g,omitempty"`
	UET    map[string][]string `json:"m,omitempty"` // Microsoft's consent mode
	Signal Signal              `json:"z,omitempty"` // seen by the server
	Texts  map[string]string   `json:"t"`
	Cats   []category          `json:"c"`
	CSS    string              `json:"css"`
}

type category struct {
	ID          string   `json:"i"`
	Required    bool     `json:"r"`
	Name        string   `json:"n"`
	Description string   `json:"d"`
	Cookies     []string `json:"k"` // the category's own; with its vendors', deleted on withdrawal
	Storage     []string `json:"t"` // localStorage and sessionStorage keys, removed on withdrawal
	Vendors     []vendor `json:"v"`
}

type vendor struct {
	Name    string   `json:"n"`
	Purpose string   `json:"p"`
	Cookies []string `json:"k"`
	URL     string   `json:"u"`
}

// consentMode lists every type of a consent mode with the categories it needs (none: it
// stays denied), or nil when the site has it off.
func consentMode(mode map[string][]string, types []string) map[string][]string {
	if mode == nil {
		return nil
	}
	all := map[string][]string{}
	for _, t := range types {
		all[t] = append([]string{}, mode[t]...)
	}
	return all
}

// source writes a site's script for a language and signal, uncompressed, and returns
// the config it carries as JSON.
func (bs *Banners) source(sb *siteBanners, lang string, sig Signal) (*Bundle, []byte, error) {
	s := sb.site
	c := config{
		Site: s.ID, Policy: s.PolicyVersion, Lang: lang, RTL: rightToLeft(lang), Exempt: s.AnalyticsMode == consent.ModeExempt,
		Beacon: s.CategoryFor("beacon"), URL: s.Banner.PolicyURL, Cookie: s.Banner.CookieName,
		Domain: s.Banner.CookieDomain, Reload: s.Banner.ReloadOnWithdraw,
		Button: s.Banner.SettingsButton, Kin: kin(sb.langs, lang), Texts: map[string]string{}, CSS: bs.css,
	}
	// A layout's styles go only to the sites that have it, after the rest.
	if s.Banner.Layout != consent.Layouts[0] {
		c.Layout = s.Banner.Layout
		c.CSS += bs.layouts[c.Layout]
	}
	for _, k := range bs.keys {
		c.Texts[k] = bs.text(s, lang, k)
	}
	c.GCM = consentMode(s.Banner.GoogleConsentMode, consent.GoogleConsentTypes)
	c.UET = consentMode(s.Banner.MicrosoftConsentMode, consent.MicrosoftConsentTypes)
	for _, cat := range s.Categories {
		cc := category{ID: cat.ID, Required: cat.Required, Name: bs.text(s, lang, "cat."+cat.ID+".name"),
			Description: bs.text(s, lang, "cat."+cat.ID+".description"), Cookies: append([]string{}, cat.Cookies...),
			Storage: append([]string{}, cat.Storage...), Vendors: []vendor{}}
		for _, v := range cat.Vendors {
			cc.Vendors = append(cc.Vendors, vendor{Name: v.Name, Purpose: v.Purpose.In(lang, s.Banner.DefaultLang), Cookies: append([]string{}, v.Cookies...), URL: v.PolicyURL})
		}
		c.Cats = append(c.Cats, cc)
	}
	// The version hashes everything but itself: code, styles and config.
	unversioned, err := json.Marshal(c)
	if err != nil {
		return nil, nil, fmt.Errorf("banner %s/%s: %w", s.ID, lang, err)
	}
	sum := sha256.Sum256(append([]byte(bs.code), unversioned...))
	c.Version = hex.EncodeToString(sum[:8])
	c.Signal = sig
	cfg, err := json.Marshal(c)
	if err != nil {
		return nil, nil, fmt.Errorf("banner %s/%s: %w", s.ID, lang, err)
	}
	raw := []byte(strings.Replace(bs.code, configIdent, string(cfg), 1) + "\n")
	b := &Bundle{Site: s.ID, Lang: lang, Signal: sig, Version: c.Version, Raw: raw}
	b.makeETags()
	sri := sha512.Sum384(raw)
	b.Integrity = "sha384-" + base64.StdEncoding.EncodeToString(sri[:])
	return b, cfg, nil
}

func (bs *Banners) build(sb *siteBanners, lang string, sig Signal) (*Bundle, error) {
	s := sb.site
	b, _, err := bs.source(sb, lang, sig)
	if err != nil {
		return nil, err
	}
	if b.Gzip, err = compress(b.Raw, func(w *bytes.Buffer) (io.WriteCloser, error) { return gzip.NewWriterLevel(w, gzip.BestCompression) }); err != nil {
		return nil, fmt.Errorf("banner %s/%s: gzip: %w", s.ID, lang, err)
	}
	if b.Brotli, err = compress(b.Raw, func(w *bytes.Buffer) (io.WriteCloser, error) {
		// The script is ~12 KB: a 64 KB window loses nothing and allocates far less than
		// the default 4 MB one.
		return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 16}), nil
	}); err != nil {
		return nil, fmt.Errorf("banner %s/%s: brotli: %w", s.ID, lang, err)
	}
	return b, nil
}

func compress(raw []byte, newWriter func(*bytes.Buffer) (io.WriteCloser, error)) ([]byte, error) {
	var buf bytes.Buffer
	w, err := newWriter(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

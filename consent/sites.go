// Package consent owns the sites file (each site's origins, policy version, analytics
// mode, retention and consent categories), consent decisions, their signed receipts, the
// keys that sign them, and the ledger that makes decisions durable.
package consent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// AnalyticsMode says whether a site's analytics need a consent receipt.
type AnalyticsMode string

const (
	// ModeConsent stores analytics events only with a receipt that grants them.
	ModeConsent AnalyticsMode = "consent"
	// ModeExempt stores anonymous first-party audience measurement without consent
	// (no cookie, no cross-site identifier, the daily hash only).
	ModeExempt AnalyticsMode = "exempt"
)

// HonorSignals says how a site treats DNT and GPC in consent decisions.
type HonorSignals string

const (
	// SignalsStrict denies every non-required category when DNT or GPC is on, whatever
	// the visitor clicked.
	SignalsStrict HonorSignals = "strict"
	// SignalsAllowExplicit lets an explicit, customized choice override the signal; the
	// receipt and the ledger row say that it did.
	SignalsAllowExplicit HonorSignals = "allow_explicit"
)

// Defaults applied when the sites file leaves a field out, and their bounds.
const (
	DefaultRetentionDays = 395
	MaxRetentionDays     = 3650
	DefaultConsentMaxAge = 182 // days a receipt is valid
	MaxConsentMaxAge     = 395
	// DefaultConsentRetentionDays keeps proof of consent three years after the decision.
	DefaultConsentRetentionDays = 1095
	// MaxCategories bounds a site's categories: receipts carry grants as a 64-bit mask.
	MaxCategories = 64
)

// Category is one group of technologies a visitor can grant or deny.
type Category struct {
	ID           string   `yaml:"id" json:"id"`
	Required     bool     `yaml:"required" json:"required"`
	Technologies []string `yaml:"technologies" json:"technologies"`
	// Cookies the site sets for this category: names, or prefixes ending in "*". The
	// banner deletes them when the category is withdrawn.
	Cookies []string `yaml:"cookies" json:"cookies,omitempty"`
	// Storage is what the site keeps in localStorage and sessionStorage for this category:
	// keys, or prefixes ending in "*". The banner removes them when the category is withdrawn.
	Storage []string `yaml:"storage" json:"storage,omitempty"`
	// Vendors are the third parties the category lets in, shown in the banner.
	Vendors []Vendor `yaml:"vendors" json:"vendors,omitempty"`
}

// Vendor is a third party behind a category, as the banner's second layer lists it.
type Vendor struct {
	Name      string    `yaml:"name" json:"name"`
	Purpose   Localized `yaml:"purpose" json:"purpose"`
	Cookies   []string  `yaml:"cookies" json:"cookies,omitempty"`
	PolicyURL string    `yaml:"policy_url" json:"policy_url"`
}

// Localized is a text in one language (a plain string in the sites file, kept under the
// key "") or per language ({en: …, fr: …}).
type Localized map[string]string

// UnmarshalYAML takes a string or a map of language tags to strings.
func (l *Localized) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = Localized{"": n.Value}
		return nil
	}
	m := map[string]string{}
	if err := n.Decode(&m); err != nil {
		return fmt.Errorf("line %d: a text, or a map of language tags to texts", n.Line)
	}
	*l = m
	return nil
}

// MarshalJSON writes a plain text as a string, as the sites file had it.
func (l Localized) MarshalJSON() ([]byte, error) {
	if v, ok := l[""]; ok && len(l) == 1 {
		return json.Marshal(v)
	}
	return json.Marshal(map[string]string(l))
}

// In returns the text for lang, else for fallback, else the plain one.
func (l Localized) In(lang, fallback string) string {
	for _, k := range []string{lang, fallback, ""} {
		if v := l[k]; v != "" {
			return v
		}
	}
	return ""
}

// Banner is how a site's consent banner looks and behaves; banner texts are checked
// against the shipped translations by the banner package.
type Banner struct {
	// PolicyURL is the site's privacy policy, linked from the first layer.
	PolicyURL string `yaml:"policy_url" json:"policy_url"`
	// DefaultLang is the language used when nothing the visitor's browser asks for is offered.
	DefaultLang string `yaml:"default_lang" json:"default_lang"`
	// Languages offered; empty means every shipped language.
	Languages []string `yaml:"languages" json:"languages,omitempty"`
	// CookieName holds the receipt in a first-party cookie on the site's domain.
	CookieName string `yaml:"cookie_name" json:"cookie_name"`
	// CookieDomain is the receipt cookie's domain; empty means the page's host only.
	CookieDomain string `yaml:"cookie_domain" json:"cookie_domain,omitempty"`
	// ReloadOnWithdraw reloads the page after a category is withdrawn, so scripts that
	// already ran stop.
	ReloadOnWithdraw bool `yaml:"reload_on_withdraw" json:"reload_on_withdraw"`
	// Layout is the first layer's shape: "box" (the default), a box at the bottom middle
	// of the viewport; "bar", a strip across its bottom edge; or "corner", a smaller box
	// in the bottom corner where lines end.
	Layout string `yaml:"layout" json:"layout"`
	// SettingsButton keeps a "Cookie settings" button in a corner of every page once the
	// visitor has chosen, so that they can change or withdraw their choice where the page
	// links to no settings.
	SettingsButton bool `yaml:"settings_button" json:"settings_button"`
	// GoogleConsentMode maps each Consent Mode v2 type to the categories that must all be
	// granted for it; nil leaves Consent Mode off. Unlisted types stay denied.
	GoogleConsentMode map[string][]string `yaml:"google_consent_mode" json:"google_consent_mode,omitempty"`
	// MicrosoftConsentMode maps Microsoft Advertising's UET consent type (ad_storage) to
	// the categories that must all be granted for it; nil leaves it off.
	MicrosoftConsentMode map[string][]string `yaml:"microsoft_consent_mode" json:"microsoft_consent_mode,omitempty"`
	// Texts override banner texts per language: text keys, and cat.<id>.name or
	// cat.<id>.description for a category.
	Texts map[string]map[string]string `yaml:"texts" json:"texts,omitempty"`
}

// GoogleConsentTypes are the seven Google Consent Mode v2 types.
var GoogleConsentTypes = []string{"ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
	"functionality_storage", "personalization_storage", "security_storage"}

// Layouts are the first layer's shapes, the default first.
var Layouts = []string{"box", "bar", "corner"}

// MicrosoftConsentTypes are the types of Microsoft Advertising's UET Consent Mode.
var MicrosoftConsentTypes = []string{"ad_storage"}

// Banner limits.
const (
	maxVendorsPerCategory = 50
	maxCookies            = 50
	maxText               = 1000
	maxShortText          = 200
)

// Site is one website that embeds Consentry.
type Site struct {
	ID            string        `yaml:"id" json:"id"`
	Origins       []string      `yaml:"origins" json:"origins"`
	PolicyVersion string        `yaml:"policy_version" json:"policy_version"`
	AnalyticsMode AnalyticsMode `yaml:"analytics_mode" json:"analytics_mode"`
	RetentionDays int           `yaml:"retention_days" json:"retention_days"`
	QueryParams   []string      `yaml:"query_params" json:"query_params"`
	Categories    []Category    `yaml:"categories" json:"categories"`
	// ConsentMaxAge is how many days a receipt is valid; the visitor is asked again after.
	ConsentMaxAge int `yaml:"consent_max_age" json:"consent_max_age"`
	// ConsentRetentionDays is how long the ledger keeps a decision: proof of consent
	// outlives the analytics it allowed, and at least the receipt it issued.
	ConsentRetentionDays int          `yaml:"consent_retention_days" json:"consent_retention_days"`
	HonorSignals         HonorSignals `yaml:"honor_signals" json:"honor_signals"`
	Banner               Banner       `yaml:"banner" json:"banner"`

	origins map[string]bool
	hosts   map[string]bool
	params  map[string]bool
}

// AllowsOrigin reports whether origin (scheme://host[:port]) is one of the site's origins.
func (s *Site) AllowsOrigin(origin string) bool { return s.origins[strings.ToLower(origin)] }

// IsOwnHost reports whether host (no port) belongs to one of the site's origins.
func (s *Site) IsOwnHost(host string) bool { return s.hosts[strings.ToLower(host)] }

// AllowsQueryParam reports whether the query parameter name may be kept in stored URLs.
func (s *Site) AllowsQueryParam(name string) bool { return s.params[name] }

// CategoryBit returns the receipt mask bit of the category with the given id.
func (s *Site) CategoryBit(id string) (uint64, bool) {
	for i, c := range s.Categories {
		if c.ID == id {
			return 1 << i, true
		}
	}
	return 0, false
}

// RequiredMask is the mask of the categories that are always granted.
func (s *Site) RequiredMask() uint64 {
	var m uint64
	for i, c := range s.Categories {
		if c.Required {
			m |= 1 << i
		}
	}
	return m
}

// AllMask is the mask of every category of the site.
func (s *Site) AllMask() uint64 {
	return uint64(1)<<len(s.Categories) - 1 // len ≤ MaxCategories-1 by validation
}

// CategoryIDs returns the ids of the categories in mask, in the site's order.
func (s *Site) CategoryIDs(mask uint64) []string {
	ids := []string{}
	for i, c := range s.Categories {
		if mask&(1<<i) != 0 {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// CategoryFor returns the id of the first category that lists the technology, or "".
// Beacons belong to the category listing "beacon", pixels to "pixel", tracked links to "link".
func (s *Site) CategoryFor(technology string) string {
	for _, c := range s.Categories {
		for _, t := range c.Technologies {
			if t == technology {
				return c.ID
			}
		}
	}
	return ""
}

// Sites is the validated, immutable set of configured sites.
type Sites struct {
	list    []*Site
	byID    map[string]*Site
	origins map[string]bool
}

// Lookup returns the site with the given id, or nil.
func (ss *Sites) Lookup(id string) *Site { return ss.byID[id] }

// All returns every site in file order.
func (ss *Sites) All() []*Site { return ss.list }

// AnyAllowsOrigin reports whether any site lists origin; preflight requests carry no site id.
func (ss *Sites) AnyAllowsOrigin(origin string) bool { return ss.origins[strings.ToLower(origin)] }

var (
	idPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	paramPattern   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	knownTechs     = map[string]bool{"cookie": true, "beacon": true, "pixel": true, "link": true, "storage": true, "script": true, "iframe": true}
	maxPolicyBytes = 64
)

// LoadSites reads and validates a sites file; the error names file, site and field of
// every problem found, not only the first.
func LoadSites(path string) (*Sites, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sites file: %w", err)
	}
	return ParseSites(path, data)
}

type sitesFile struct {
	Sites []*Site `yaml:"sites"`
}

// ParseSites validates the YAML in data; name is used in error messages.
func ParseSites(name string, data []byte) (*Sites, error) {
	var f sitesFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	fail := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", name, where, fmt.Sprintf(format, args...)))
	}
	if len(f.Sites) == 0 {
		fail("sites", "at least one site is required")
	}
	ss := &Sites{byID: map[string]*Site{}, origins: map[string]bool{}}
	for i, s := range f.Sites {
		where := fmt.Sprintf("sites[%d]", i)
		if s == nil {
			fail(where, "empty entry")
			continue
		}
		if s.ID != "" {
			where = fmt.Sprintf("site %q", s.ID)
		}
		validateSite(s, func(field, format string, args ...any) { fail(where+": "+field, format, args...) })
		if s.ID != "" && ss.byID[s.ID] != nil {
			fail(where+": id", "duplicate site id")
		}
		ss.byID[s.ID] = s
		ss.list = append(ss.list, s)
		for o := range s.origins {
			ss.origins[o] = true
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ss, nil
}

func validateSite(s *Site, fail func(field, format string, args ...any)) {
	if !idPattern.MatchString(s.ID) {
		fail("id", "must match %s", idPattern)
	}
	s.origins, s.hosts, s.params = map[string]bool{}, map[string]bool{}, map[string]bool{}
	if len(s.Origins) == 0 {
		fail("origins", "at least one origin is required")
	}
	for j, o := range s.Origins {
		host, err := parseOrigin(o)
		if err != nil {
			fail(fmt.Sprintf("origins[%d]", j), "%v", err)
			continue
		}
		s.origins[strings.ToLower(o)] = true
		s.hosts[host] = true
	}
	if s.PolicyVersion == "" || len(s.PolicyVersion) > maxPolicyBytes {
		fail("policy_version", "is required, at most %d bytes", maxPolicyBytes)
	}
	oneOf(&s.AnalyticsMode, ModeConsent, ModeExempt, func(format string, args ...any) { fail("analytics_mode", format, args...) })
	daysIn(&s.RetentionDays, DefaultRetentionDays, MaxRetentionDays, func(format string, args ...any) { fail("retention_days", format, args...) })
	for j, p := range s.QueryParams {
		if !paramPattern.MatchString(p) {
			fail(fmt.Sprintf("query_params[%d]", j), "must match %s", paramPattern)
		}
		s.params[p] = true
	}
	daysIn(&s.ConsentMaxAge, DefaultConsentMaxAge, MaxConsentMaxAge, func(format string, args ...any) { fail("consent_max_age", format, args...) })
	daysIn(&s.ConsentRetentionDays, DefaultConsentRetentionDays, MaxRetentionDays, func(format string, args ...any) { fail("consent_retention_days", format, args...) })
	if s.ConsentRetentionDays < s.ConsentMaxAge {
		fail("consent_retention_days", "must be at least consent_max_age (%d): the proof must outlive its receipt", s.ConsentMaxAge)
	}
	oneOf(&s.HonorSignals, SignalsStrict, SignalsAllowExplicit, func(format string, args ...any) { fail("honor_signals", format, args...) })
	validateCategories(s.Categories, fail)
	validateBanner(&s.Banner, s.Categories, fail)
}

var (
	cookiePattern = regexp.MustCompile(`^[!#$%&'+.^_|~0-9A-Za-z-]{1,64}\*?$`) // RFC 6265 token, "*" for a prefix
	domainPattern = regexp.MustCompile(`^\.?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

func validateBanner(b *Banner, cats []Category, fail func(field, format string, args ...any)) {
	if b.PolicyURL != "" {
		if err := httpURL(b.PolicyURL); err != nil {
			fail("banner.policy_url", "%v", err)
		}
	}
	if b.DefaultLang == "" {
		b.DefaultLang = "en"
	}
	if !langPattern.MatchString(b.DefaultLang) {
		fail("banner.default_lang", "must be a language tag such as en or zh-CN")
	}
	for j, l := range b.Languages {
		if !langPattern.MatchString(l) {
			fail(fmt.Sprintf("banner.languages[%d]", j), "must be a language tag such as en or zh-CN")
		}
	}
	if len(b.Languages) > 0 && !slices.Contains(b.Languages, b.DefaultLang) {
		fail("banner.languages", "must include default_lang %q", b.DefaultLang)
	}
	if b.Layout == "" {
		b.Layout = Layouts[0]
	}
	if !slices.Contains(Layouts, b.Layout) {
		fail("banner.layout", "must be one of %s", strings.Join(Layouts, ", "))
	}
	if b.CookieName == "" {
		b.CookieName = "consentry"
	}
	if !cookiePattern.MatchString(b.CookieName) || strings.HasSuffix(b.CookieName, "*") {
		fail("banner.cookie_name", "must be a cookie name of 1 to 64 token characters")
	}
	if b.CookieDomain != "" && !domainPattern.MatchString(b.CookieDomain) {
		fail("banner.cookie_domain", "must be a lower-case domain such as example.com")
	}
	ids := map[string]bool{}
	for _, c := range cats {
		ids[c.ID] = true
	}
	consentMode := func(field string, mode map[string][]string, known []string) {
		for _, typ := range slices.Sorted(maps.Keys(mode)) {
			if !slices.Contains(known, typ) {
				fail(field+"."+typ, "unknown consent type (known: %s)", strings.Join(known, ", "))
			}
			for _, id := range mode[typ] {
				if !ids[id] {
					fail(field+"."+typ, "unknown category %q", id)
				}
			}
		}
	}
	consentMode("banner.google_consent_mode", b.GoogleConsentMode, GoogleConsentTypes)
	consentMode("banner.microsoft_consent_mode", b.MicrosoftConsentMode, MicrosoftConsentTypes)
	for j, c := range cats {
		field := fmt.Sprintf("categories[%d]", j)
		cookieNames(c.Cookies, field+".cookies", fail)
		storageKeys(c.Storage, field+".storage", fail)
		if len(c.Vendors) > maxVendorsPerCategory {
			fail(field+".vendors", "at most %d", maxVendorsPerCategory)
		}
		for k, v := range c.Vendors {
			vf := fmt.Sprintf("%s.vendors[%d]", field, k)
			if v.Name == "" || len(v.Name) > maxShortText {
				fail(vf+".name", "is required, at most %d bytes", maxShortText)
			}
			for _, lang := range slices.Sorted(maps.Keys(v.Purpose)) {
				if lang != "" && !langPattern.MatchString(lang) {
					fail(vf+".purpose."+lang, "must be keyed by language tags such as en or zh-CN")
				}
				if len(v.Purpose[lang]) > maxText {
					fail(vf+".purpose", "at most %d bytes", maxText)
				}
			}
			if err := httpURL(v.PolicyURL); err != nil {
				fail(vf+".policy_url", "%v", err)
			}
			cookieNames(v.Cookies, vf+".cookies", fail)
		}
	}
}

// cookieNames checks a list of cookie names, or prefixes ending in "*".
func cookieNames(names []string, field string, fail func(field, format string, args ...any)) {
	nameList(names, field, fail, cookiePattern.MatchString, "a cookie name (or a prefix ending in *)")
}

// storageKeys checks a category's storage keys: any text a page may use as a key, within
// the same bounds as cookie names.
func storageKeys(keys []string, field string, fail func(field, format string, args ...any)) {
	nameList(keys, field, fail, func(key string) bool {
		return key != "" && key != "*" && len(key) <= maxShortText && utf8.ValidString(key) && !strings.ContainsFunc(key, unicode.IsControl)
	}, fmt.Sprintf("a storage key (or a prefix ending in *): 1 to %d bytes of text", maxShortText))
}

// nameList fails a list of more than maxCookies names, and each name that is not valid,
// saying it is not what.
func nameList(names []string, field string, fail func(field, format string, args ...any), valid func(string) bool, what string) {
	if len(names) > maxCookies {
		fail(field, "at most %d", maxCookies)
	}
	for k, n := range names {
		if !valid(n) {
			fail(fmt.Sprintf("%s[%d]", field, k), "%q is not %s", n, what)
		}
	}
}

// httpURL checks that u is an absolute http(s) URL a banner may link to.
func httpURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || len(u) > 2048 {
		return fmt.Errorf("%q: must be an absolute http or https URL", u)
	}
	return nil
}

func validateCategories(cats []Category, fail func(field, format string, args ...any)) {
	if len(cats) == 0 {
		fail("categories", "at least one category is required")
	}
	if len(cats) >= MaxCategories {
		fail("categories", "at most %d categories", MaxCategories-1)
	}
	seen := map[string]bool{}
	for j, c := range cats {
		field := fmt.Sprintf("categories[%d]", j)
		if !idPattern.MatchString(c.ID) {
			fail(field+".id", "must match %s", idPattern)
		}
		if seen[c.ID] {
			fail(field+".id", "duplicate category %q", c.ID)
		}
		seen[c.ID] = true
		for k, t := range c.Technologies {
			if !knownTechs[t] {
				fail(fmt.Sprintf("%s.technologies[%d]", field, k), "unknown technology %q (known: %s)", t, strings.Join(slices.Sorted(maps.Keys(knownTechs)), ", "))
			}
		}
	}
}

// oneOf sets an empty *v to def, and reports a value that is neither def nor other.
func oneOf[T ~string](v *T, def, other T, fail func(format string, args ...any)) {
	switch *v {
	case "":
		*v = def
	case def, other:
	default:
		fail("must be %q or %q, not %q", def, other, *v)
	}
}

// daysIn sets a zero *v to def, and reports a value outside 1..max.
func daysIn(v *int, def, max int, fail func(format string, args ...any)) {
	if *v == 0 {
		*v = def
	}
	if *v < 1 || *v > max {
		fail("must be between 1 and %d days", max)
	}
}

// parseOrigin checks that o is scheme://host[:port] with nothing else, and returns the host.
func parseOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", fmt.Errorf("not a URL: %q", o)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("%q: scheme must be http or https", o)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: must be scheme://host[:port] only", o)
	}
	if strings.HasSuffix(o, "/") {
		return "", fmt.Errorf("%q: no trailing slash (browsers send origins without one)", o)
	}
	return strings.ToLower(u.Hostname()), nil
}

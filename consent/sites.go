// Package consent owns the sites file (each site's origins, policy version, analytics
// mode, retention and consent categories), consent decisions, their signed receipts, the
// keys that sign them, and the ledger that makes decisions durable.
package consent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

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
}

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

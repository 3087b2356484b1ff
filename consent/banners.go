package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/consentry/consentry/schema"
)

// BannerVersion is one banner as a visitor was shown it: a site in one language, named by
// the version its decisions carry as banner_version.
type BannerVersion struct {
	Site          string
	Version       string // hash of the script's code, styles and config
	Lang          string
	PolicyVersion string
	Config        string // the JSON the script ran with: texts, categories, vendors
	Script        string // the script byte for byte, as served without a privacy signal
	Integrity     string // its SRI hash
}

// RecordBanners keeps every banner version not yet in banner_versions, so that what a
// decision's visitor was shown can be read back once the sites file has changed.
// Replicas starting together may record a version twice; readers take any one.
func (s *Store) RecordBanners(ctx context.Context, versions []BannerVersion, now time.Time) error {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT site, banner_version FROM banner_versions`)
	if err != nil {
		return fmt.Errorf("read banner_versions: %w", err)
	}
	defer rows.Close()
	recorded := map[[2]string]bool{}
	for rows.Next() {
		var site, version string
		if err := rows.Scan(&site, &version); err != nil {
			return fmt.Errorf("read banner_versions: %w", err)
		}
		recorded[[2]string{site, version}] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read banner_versions: %w", err)
	}
	var fresh [][]any
	for _, v := range versions {
		if key := [2]string{v.Site, v.Version}; !recorded[key] {
			recorded[key] = true
			fresh = append(fresh, []any{v.Site, v.Version, v.Lang, v.PolicyVersion, v.Config, v.Script, v.Integrity, now})
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := schema.InsertRows(ctx, s.conn, `INSERT INTO banner_versions (site, banner_version, lang, policy_version, config, script, integrity, first_seen)`, fresh); err != nil {
		return fmt.Errorf("record banner versions: %w", err)
	}
	return nil
}

// ErrMalformedBanner answers a request for a banner by a site id or version that cannot be one.
var ErrMalformedBanner = errors.New("not a site id and banner version (1 to 64 of A-Z a-z 0-9 . _ : + -)")

// Banner returns a site's banner as recorded under a version (any one copy of it); ok is
// false if none is. The site need not be configured any more: proof outlives it.
func (s *Service) Banner(ctx context.Context, site, version string) (v BannerVersion, ok bool, err error) {
	if !idPattern.MatchString(site) || version == "" || len(version) > 64 || !bannerVersionPattern.MatchString(version) {
		return v, false, ErrMalformedBanner
	}
	return s.Store.Banner(ctx, site, version)
}

// Banner reads one recorded banner version of a site.
func (s *Store) Banner(ctx context.Context, site, version string) (v BannerVersion, ok bool, err error) {
	err = s.conn.QueryRow(ctx, `SELECT site, banner_version, lang, policy_version, config, script, integrity
		FROM banner_versions WHERE site = ? AND banner_version = ? LIMIT 1`, site, version).
		Scan(&v.Site, &v.Version, &v.Lang, &v.PolicyVersion, &v.Config, &v.Script, &v.Integrity)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return v, false, nil
	case err != nil:
		return v, false, fmt.Errorf("read banner_versions: %w", err)
	}
	return v, true, nil
}

// ShownBanner is a banner as a visitor's own record gives it, beside the decisions made on
// it: its language and policy version, the SRI hash of its script, and the config the
// script ran with (texts, categories, vendors) without its styles.
type ShownBanner struct {
	Lang          string          `json:"lang"`
	PolicyVersion string          `json:"policy_version"`
	Integrity     string          `json:"integrity"`
	Config        json.RawMessage `json:"config"`
}

// Shown reads a site's recorded banners under the versions the decisions name, by
// version; a version never recorded (a decision sent without one) is left out.
func (s *Store) Shown(ctx context.Context, site string, decisions []Decision) (map[string]ShownBanner, error) {
	out := map[string]ShownBanner{}
	var versions []string
	for _, d := range decisions {
		if d.BannerVersion != "" && !slices.Contains(versions, d.BannerVersion) {
			versions = append(versions, d.BannerVersion)
		}
	}
	if len(versions) == 0 {
		return out, nil
	}
	rows, err := s.conn.Query(ctx, `SELECT banner_version, any(lang), any(policy_version), any(config), any(integrity)
		FROM banner_versions WHERE site = ? AND has(?, banner_version) GROUP BY banner_version`, site, versions)
	if err != nil {
		return nil, fmt.Errorf("read banner_versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var version, config string
		var b ShownBanner
		if err := rows.Scan(&version, &b.Lang, &b.PolicyVersion, &config, &b.Integrity); err != nil {
			return nil, fmt.Errorf("read banner_versions: %w", err)
		}
		var c map[string]json.RawMessage
		if err := json.Unmarshal([]byte(config), &c); err != nil {
			return nil, fmt.Errorf("banner %s/%s: config: %w", site, version, err)
		}
		delete(c, "css")
		if b.Config, err = json.Marshal(c); err != nil {
			return nil, fmt.Errorf("banner %s/%s: config: %w", site, version, err)
		}
		out[version] = b
	}
	return out, rows.Err()
}

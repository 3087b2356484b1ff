package consent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/consentry/consentry/schema"
)

// policyTerms is what a site's policy version covers, in receipt bit order.
func policyTerms(s *Site) []string {
	terms := make([]string, len(s.Categories))
	for i, c := range s.Categories {
		t := c.ID
		if c.Required {
			t += "!"
		}
		if len(c.Technologies) > 0 {
			t += "=" + strings.Join(c.Technologies, "+")
		}
		terms[i] = t
	}
	return terms
}

// CheckPolicies records what each site's policy version covers the first time it is
// seen, and refuses (naming every site) a sites file that changes the categories, their
// order or their technologies under a policy version already recorded: receipts issued
// under it would grant other things than the visitor chose.
func (s *Store) CheckPolicies(ctx context.Context, sites *Sites, now time.Time) error {
	rows, err := s.conn.Query(ctx, `SELECT site, policy_version, groupUniqArray(arrayStringConcat(categories, ' ')) FROM site_policies GROUP BY site, policy_version`)
	if err != nil {
		return fmt.Errorf("read site_policies: %w", err)
	}
	defer rows.Close()
	recorded := map[[2]string][]string{}
	for rows.Next() {
		var site, pv string
		var terms []string
		if err := rows.Scan(&site, &pv, &terms); err != nil {
			return fmt.Errorf("read site_policies: %w", err)
		}
		recorded[[2]string{site, pv}] = terms
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read site_policies: %w", err)
	}
	var errs []error
	for _, site := range sites.All() {
		terms := policyTerms(site)
		joined := strings.Join(terms, " ")
		seen := recorded[[2]string{site.ID, site.PolicyVersion}]
		switch {
		case len(seen) == 0:
			if err := schema.InsertRow(ctx, s.conn, `INSERT INTO site_policies (site, policy_version, categories, first_seen)`,
				site.ID, site.PolicyVersion, terms, now); err != nil {
				return fmt.Errorf("record site policy: %w", err)
			}
		case len(seen) > 1 || !slices.Contains(seen, joined):
			errs = append(errs, fmt.Errorf("site %q: policy_version %q was recorded with categories [%s]; this sites file has [%s]: give the new categories a new policy_version",
				site.ID, site.PolicyVersion, strings.Join(slices.DeleteFunc(seen, func(x string) bool { return x == joined }), "] and ["), joined))
		}
	}
	return errors.Join(errs...)
}

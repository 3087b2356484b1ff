package consent

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// DayStats are one day's decisions on one site, from the consent_daily view: counts
// per method and, per category, how many decisions granted and denied it.
type DayStats struct {
	Day        string                    `json:"day"`
	Decisions  uint64                    `json:"decisions"`
	ByMethod   map[string]uint64         `json:"by_method"`
	MethodRate map[string]float64        `json:"method_rates"` // share of the day's decisions
	BySignal   map[string]uint64         `json:"by_signal"`
	Categories map[string]*CategoryStats `json:"categories"`
}

// CategoryStats counts one category's grants; Rate is granted / (granted + denied).
type CategoryStats struct {
	Granted uint64  `json:"granted"`
	Denied  uint64  `json:"denied"`
	Rate    float64 `json:"rate"`
}

// Stats returns daily decision statistics of site for the UTC days from..to inclusive.
// Erased subjects still count here: the view keeps counts, not people.
func (s *Store) Stats(ctx context.Context, site string, from, to time.Time) ([]DayStats, error) {
	rows, err := s.conn.Query(ctx, `SELECT toString(day), category, toString(method), toString(signal), is_granted,
		uniqExactMerge(decisions)
		FROM consent_daily WHERE site = ? AND day >= toDate(?) AND day <= toDate(?)
		GROUP BY day, category, method, signal, is_granted`,
		site, from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("read consent stats: %w", err)
	}
	defer rows.Close()
	type key struct{ day, method, signal string }
	days := map[string]*DayStats{}
	// Every decision adds a row for each category of its site, so per (day, method,
	// signal) the number of decisions is the largest per-category total.
	perCat := map[key]map[string]uint64{}
	for rows.Next() {
		var (
			day, cat, method, signal string
			granted                  uint8
			n                        uint64
		)
		if err := rows.Scan(&day, &cat, &method, &signal, &granted, &n); err != nil {
			return nil, fmt.Errorf("read consent stats: %w", err)
		}
		d := days[day]
		if d == nil {
			d = &DayStats{Day: day, ByMethod: map[string]uint64{}, BySignal: map[string]uint64{}, Categories: map[string]*CategoryStats{}}
			days[day] = d
		}
		c := d.Categories[cat]
		if c == nil {
			c = &CategoryStats{}
			d.Categories[cat] = c
		}
		if granted == 1 {
			c.Granted += n
		} else {
			c.Denied += n
		}
		k := key{day, method, signal}
		if perCat[k] == nil {
			perCat[k] = map[string]uint64{}
		}
		perCat[k][cat] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read consent stats: %w", err)
	}
	for k, cats := range perCat {
		var most uint64
		for _, n := range cats {
			most = max(most, n)
		}
		d := days[k.day]
		d.ByMethod[k.method] += most
		d.BySignal[k.signal] += most
		d.Decisions += most
	}
	out := make([]DayStats, 0, len(days))
	for _, d := range days {
		d.MethodRate = map[string]float64{}
		for m, n := range d.ByMethod {
			d.MethodRate[m] = float64(n) / float64(d.Decisions)
		}
		for _, c := range d.Categories {
			if total := c.Granted + c.Denied; total > 0 {
				c.Rate = float64(c.Granted) / float64(total)
			}
		}
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Day < out[j].Day })
	return out, nil
}

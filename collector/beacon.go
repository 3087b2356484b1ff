// Package collector owns the analytics data flow: parsing beacons, anonymizing them,
// honouring DNT/GPC and consent, and writing batches into ClickHouse.
package collector

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/consentry/consentry/internal/fields"
)

// Event types a beacon may carry.
const (
	TypePageview = "pageview"
	TypeEvent    = "event"
)

// Limits bounds every field of a beacon; all are configurable by the operator.
type Limits struct {
	MaxURL       int // bytes of url and of referrer
	MaxName      int // bytes of an event name
	MaxProps     int // number of properties
	MaxPropKey   int // bytes of a property name
	MaxPropValue int // bytes of a property value
	MaxReceipt   int // bytes of a consent receipt
}

// DefaultLimits are the limits used when the operator sets none.
var DefaultLimits = Limits{MaxURL: 2048, MaxName: 100, MaxProps: 20, MaxPropKey: 64, MaxPropValue: 256, MaxReceipt: 1024}

// maxSiteID matches the longest id the sites file accepts.
const maxSiteID = 63

// Beacon is what a page sends to /v1/collect, before anonymization.
type Beacon struct {
	Site     string
	Type     string
	URL      string
	Referrer string
	Name     string
	Props    map[string]string
	Receipt  string // the visitor's consent receipt (JWT), if the page has one
}

type wireBeacon struct {
	Site     string                     `json:"site"`
	Type     string                     `json:"type"`
	URL      string                     `json:"url"`
	Referrer string                     `json:"referrer"`
	Name     string                     `json:"name"`
	Props    map[string]json.RawMessage `json:"props"`
	Receipt  string                     `json:"receipt"`
}

// ParseBeacon decodes and validates a beacon body. The returned strings are fresh copies,
// never aliases of body, so the caller may reuse body afterwards.
func ParseBeacon(body []byte, lim Limits) (Beacon, error) {
	var w wireBeacon
	if err := fields.DecodeJSON(body, &w); err != nil {
		return Beacon{}, err
	}
	var chk fields.Checker
	chk.Text("site", w.Site, maxSiteID, true)
	switch w.Type {
	case TypePageview:
		if w.Name != "" {
			chk.Add("name", "only events have a name; pageviews must leave it out")
		}
		if len(w.Props) > 0 {
			chk.Add("props", "only events have props; pageviews must leave them out")
		}
	case TypeEvent:
		chk.Text("name", w.Name, lim.MaxName, true)
	case "":
		chk.Add("type", "is required")
	default:
		chk.Add("type", "must be %q or %q", TypePageview, TypeEvent)
	}
	chk.Text("url", w.URL, lim.MaxURL, true)
	if w.URL != "" && !strings.HasPrefix(w.URL, "https://") && !strings.HasPrefix(w.URL, "http://") {
		chk.Add("url", "must be an absolute http(s) URL")
	}
	chk.Text("referrer", w.Referrer, lim.MaxURL, false)
	chk.Text("receipt", w.Receipt, lim.MaxReceipt, false)
	b := Beacon{Site: w.Site, Type: w.Type, URL: w.URL, Referrer: w.Referrer, Name: w.Name, Receipt: w.Receipt}
	if len(w.Props) > lim.MaxProps {
		chk.Add("props", "too many (%d, max %d)", len(w.Props), lim.MaxProps)
	} else if len(w.Props) > 0 {
		b.Props = make(map[string]string, len(w.Props))
		for _, k := range slices.Sorted(maps.Keys(w.Props)) {
			field := "props." + k
			if k == "" || len(k) > lim.MaxPropKey || !utf8.ValidString(k) {
				chk.Add("props", "property names must be 1 to %d bytes of UTF-8", lim.MaxPropKey)
				continue
			}
			v, ok := scalarString(w.Props[k])
			if !ok {
				chk.Add(field, "must be a string, number or boolean")
				continue
			}
			chk.Text(field, v, lim.MaxPropValue, false)
			b.Props[k] = v
		}
	}
	if err := chk.Err(); err != nil {
		return Beacon{}, err
	}
	return b, nil
}

// scalarString turns a JSON string, number or boolean into its text.
func scalarString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case 't', 'f':
		b, err := strconv.ParseBool(string(raw))
		return strconv.FormatBool(b), err == nil
	case '{', '[', 'n':
		return "", false
	default:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false
		}
		return n.String(), true
	}
}

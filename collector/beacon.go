// Package collector owns the analytics data flow: parsing beacons, anonymizing them,
// honouring DNT/GPC and consent, and writing batches into ClickHouse.
package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
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
}

// DefaultLimits are the limits used when the operator sets none.
var DefaultLimits = Limits{MaxURL: 2048, MaxName: 100, MaxProps: 20, MaxPropKey: 64, MaxPropValue: 256}

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
}

type wireBeacon struct {
	Site     string                     `json:"site"`
	Type     string                     `json:"type"`
	URL      string                     `json:"url"`
	Referrer string                     `json:"referrer"`
	Name     string                     `json:"name"`
	Props    map[string]json.RawMessage `json:"props"`
}

// FieldError is one problem with one field of the input.
type FieldError struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// FieldErrors lists every problem found in an input, so a client can fix all at once.
type FieldErrors []FieldError

// Error lists every problem as "field: problem", separated by semicolons.
func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		parts[i] = e.Field + ": " + e.Problem
	}
	return strings.Join(parts, "; ")
}

// ParseBeacon decodes and validates a beacon body. The returned strings are fresh copies,
// never aliases of body, so the caller may reuse body afterwards.
func ParseBeacon(body []byte, lim Limits) (Beacon, error) {
	var w wireBeacon
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Beacon{}, FieldErrors{{Field: "body", Problem: "malformed JSON: " + jsonProblem(err)}}
	}
	if dec.More() {
		return Beacon{}, FieldErrors{{Field: "body", Problem: "malformed JSON: trailing data after the object"}}
	}
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	checkText := func(field, v string, max int, required bool) {
		switch {
		case v == "" && required:
			add(field, "is required")
		case len(v) > max:
			add(field, "too long (%d bytes, max %d)", len(v), max)
		case !utf8.ValidString(v):
			add(field, "is not valid UTF-8")
		}
	}
	checkText("site", w.Site, maxSiteID, true)
	switch w.Type {
	case TypePageview:
		if w.Name != "" {
			add("name", "only events have a name; pageviews must leave it out")
		}
		if len(w.Props) > 0 {
			add("props", "only events have props; pageviews must leave them out")
		}
	case TypeEvent:
		checkText("name", w.Name, lim.MaxName, true)
	case "":
		add("type", "is required")
	default:
		add("type", "must be %q or %q", TypePageview, TypeEvent)
	}
	checkText("url", w.URL, lim.MaxURL, true)
	if w.URL != "" && !strings.HasPrefix(w.URL, "https://") && !strings.HasPrefix(w.URL, "http://") {
		add("url", "must be an absolute http(s) URL")
	}
	checkText("referrer", w.Referrer, lim.MaxURL, false)

	b := Beacon{Site: w.Site, Type: w.Type, URL: w.URL, Referrer: w.Referrer, Name: w.Name}
	if len(w.Props) > lim.MaxProps {
		add("props", "too many (%d, max %d)", len(w.Props), lim.MaxProps)
	} else if len(w.Props) > 0 {
		b.Props = make(map[string]string, len(w.Props))
		for _, k := range sortedKeys(w.Props) {
			field := "props." + k
			if k == "" || len(k) > lim.MaxPropKey || !utf8.ValidString(k) {
				add("props", "property names must be 1 to %d bytes of UTF-8", lim.MaxPropKey)
				continue
			}
			v, ok := scalarString(w.Props[k])
			if !ok {
				add(field, "must be a string, number or boolean")
				continue
			}
			checkText(field, v, lim.MaxPropValue, false)
			b.Props[k] = v
		}
	}
	if len(errs) > 0 {
		return Beacon{}, errs
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonProblem shortens encoding/json's messages, which can quote the input at length.
func jsonProblem(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

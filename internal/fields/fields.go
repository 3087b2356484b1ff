// Package fields reports problems with untrusted input field by field, all at once, so a
// client can fix everything in one round trip. Every parser of request bodies uses it.
package fields

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error is one problem with one field of the input.
type Error struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// Errors lists every problem found in an input.
type Errors []Error

// Error lists every problem as "field: problem", separated by semicolons.
func (fe Errors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		parts[i] = e.Field + ": " + e.Problem
	}
	return strings.Join(parts, "; ")
}

// Has reports whether some problem names field.
func (fe Errors) Has(field string) bool {
	for _, e := range fe {
		if e.Field == field {
			return true
		}
	}
	return false
}

// Checker collects problems while a parser walks its input.
type Checker struct {
	errs Errors
}

// Add records a problem with field.
func (c *Checker) Add(field, format string, args ...any) {
	c.errs = append(c.errs, Error{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Text checks a string field: present if required, at most max bytes, valid UTF-8.
// It reports whether the value passed.
func (c *Checker) Text(field, v string, max int, required bool) bool {
	switch {
	case v == "" && required:
		c.Add(field, "is required")
	case len(v) > max:
		c.Add(field, "too long (%d bytes, max %d)", len(v), max)
	case !utf8.ValidString(v):
		c.Add(field, "is not valid UTF-8")
	default:
		return true
	}
	return false
}

// Err returns the collected problems, or nil if there were none.
func (c *Checker) Err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// DecodeJSON decodes exactly one JSON object from body into v, refusing unknown fields
// and trailing data, and answers a short body problem instead of encoding/json's message,
// which can quote the input at length.
func DecodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errors{{Field: "body", Problem: "malformed JSON: " + short(err)}}
	}
	if dec.More() {
		return Errors{{Field: "body", Problem: "malformed JSON: trailing data after the object"}}
	}
	return nil
}

func short(err error) string {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

package collector

import (
	"errors"
	"strings"
	"testing"

	"github.com/consentry/consentry/internal/fields"
)

func TestParseBeacon(t *testing.T) {
	lim := Limits{MaxURL: 40, MaxName: 8, MaxProps: 2, MaxPropKey: 5, MaxPropValue: 6, MaxReceipt: 12}
	tests := []struct {
		name   string
		body   string
		fields []string // fields named in the error; nil means valid
	}{
		{"pageview", `{"site":"shop","type":"pageview","url":"https://s.example/a","referrer":"https://g.example/"}`, nil},
		{"event with props", `{"site":"shop","type":"event","url":"https://s.example/","name":"signup","props":{"plan":"pro","n":3}}`, nil},
		{"bool prop", `{"site":"shop","type":"event","url":"https://s.example/","name":"x","props":{"ok":true}}`, nil},
		{"malformed", `{"site":`, []string{"body"}},
		{"not an object", `[1,2]`, []string{"body"}},
		{"trailing data", `{"site":"shop","type":"pageview","url":"https://s.example/"} {}`, []string{"body"}},
		{"unknown field", `{"site":"shop","type":"pageview","url":"https://s.example/","ip":"1.2.3.4"}`, []string{"body"}},
		{"everything missing", `{}`, []string{"site", "type", "url"}},
		{"bad type and url", `{"site":"shop","type":"click","url":"javascript:alert(1)"}`, []string{"type", "url"}},
		{"url too long", `{"site":"shop","type":"pageview","url":"https://s.example/` + strings.Repeat("a", 40) + `"}`, []string{"url"}},
		{"referrer too long", `{"site":"shop","type":"pageview","url":"https://s.example/","referrer":"https://` + strings.Repeat("r", 40) + `"}`, []string{"referrer"}},
		{"site too long", `{"site":"` + strings.Repeat("s", 64) + `","type":"pageview","url":"https://s.example/"}`, []string{"site"}},
		{"event without name", `{"site":"shop","type":"event","url":"https://s.example/"}`, []string{"name"}},
		{"name too long", `{"site":"shop","type":"event","url":"https://s.example/","name":"123456789"}`, []string{"name"}},
		{"pageview with name and props", `{"site":"shop","type":"pageview","url":"https://s.example/","name":"x","props":{"a":"b"}}`, []string{"name", "props"}},
		{"too many props", `{"site":"shop","type":"event","url":"https://s.example/","name":"x","props":{"a":"1","b":"2","c":"3"}}`, []string{"props"}},
		{"prop key too long", `{"site":"shop","type":"event","url":"https://s.example/","name":"x","props":{"abcdef":"1"}}`, []string{"props"}},
		{"prop value too long", `{"site":"shop","type":"event","url":"https://s.example/","name":"x","props":{"a":"1234567"}}`, []string{"props.a"}},
		{"nested prop", `{"site":"shop","type":"event","url":"https://s.example/","name":"x","props":{"a":{"b":1}}}`, []string{"props.a"}},
		{"null prop", `{"site":"shop","type":"event","url":"https://s.example/","name":"x","props":{"a":null}}`, []string{"props.a"}},
		{"with receipt", `{"site":"shop","type":"pageview","url":"https://s.example/","receipt":"a.b.c"}`, nil},
		{"receipt too long", `{"site":"shop","type":"pageview","url":"https://s.example/","receipt":"aaaa.bbbb.cccc"}`, []string{"receipt"}},
		{"invalid utf8", "{\"site\":\"shop\",\"type\":\"event\",\"url\":\"https://s.example/\",\"name\":\"\xff\"}", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBeacon([]byte(tc.body), lim)
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if b.Site != "shop" {
					t.Fatalf("site not parsed: %+v", b)
				}
				return
			}
			var fe fields.Errors
			if !errors.As(err, &fe) {
				t.Fatalf("want fields.Errors, got %v", err)
			}
			for _, f := range tc.fields {
				if !fe.Has(f) {
					t.Errorf("error does not name field %q: %v", f, fe)
				}
			}
		})
	}
}

func TestParseBeaconPropsAsText(t *testing.T) {
	b, err := ParseBeacon([]byte(`{"site":"s","type":"event","url":"https://s.example/","name":"n","props":{"n":1.5,"b":false,"s":"x"}}`), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"n": "1.5", "b": "false", "s": "x"}
	for k, v := range want {
		if b.Props[k] != v {
			t.Errorf("props[%s] = %q, want %q", k, b.Props[k], v)
		}
	}
}

// The parsed strings must not alias the body: Fiber reuses that memory for the next request.
func TestParseBeaconCopiesOutOfBody(t *testing.T) {
	body := []byte(`{"site":"shop","type":"event","url":"https://s.example/p","name":"signup","props":{"k":"v"},"receipt":"r.e.c"}`)
	b, err := ParseBeacon(body, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'X'
	}
	if b.Site != "shop" || b.URL != "https://s.example/p" || b.Name != "signup" || b.Props["k"] != "v" || b.Receipt != "r.e.c" {
		t.Fatalf("beacon changed with its body: %+v", b)
	}
}

func FuzzParseBeacon(f *testing.F) {
	f.Add([]byte(`{"site":"shop","type":"pageview","url":"https://s.example/a?utm_source=x","referrer":"https://g.example/"}`))
	f.Add([]byte(`{"site":"shop","type":"event","url":"https://s.example/","name":"signup","props":{"plan":"pro","n":3,"b":true}}`))
	f.Add([]byte(`{"site":"","type":"","url":""}`))
	f.Add([]byte(`{"props":{"a":{"b":[1,2,{"c":null}]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := ParseBeacon(body, DefaultLimits)
		if err != nil {
			var fe fields.Errors
			if !errors.As(err, &fe) || len(fe) == 0 {
				t.Fatalf("error is not a non-empty fields.Errors: %v", err)
			}
			return
		}
		if b.Site == "" || len(b.Site) > maxSiteID || len(b.URL) > DefaultLimits.MaxURL || len(b.Name) > DefaultLimits.MaxName || len(b.Props) > DefaultLimits.MaxProps {
			t.Fatalf("accepted beacon breaks a limit: %+v", b)
		}
		if b.Type != TypePageview && b.Type != TypeEvent {
			t.Fatalf("accepted unknown type %q", b.Type)
		}
		for k, v := range b.Props {
			if len(k) > DefaultLimits.MaxPropKey || len(v) > DefaultLimits.MaxPropValue {
				t.Fatalf("accepted prop beyond limits: %q=%q", k, v)
			}
		}
	})
}

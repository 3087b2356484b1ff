package collector

import (
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const testUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func TestScrubText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"signup", "signup"},
		{"how-to-install-consentry-in-2026", "how-to-install-consentry-in-2026"},
		{"mail jane.doe+x@example.co.uk now", "mail :email now"},
		{"from 203.0.113.7 today", "from :ip today"},
		{"v6 2001:db8::1 here", "v6 :ip here"},
		{"version 1.2.3", "version 1.2.3"},
		{"999.1.1.1", "999.1.1.1"},
		{"12:30:45", "12:30:45"},
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", ":token"},
		{"id 550e8400-e29b-41d4-a716-446655440000", "id :token"},
		{"sess a3f9c2e18b7d4f60a1b2", "sess :token"},
		{"key Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5", "key :token"},
		{"deadbeef", "deadbeef"},
		{testUA, ":ua"},
		{"ua=" + testUA, ":ua"},
	}
	for _, tc := range tests {
		if got := ScrubText(tc.in); got != tc.want {
			t.Errorf("ScrubText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := ScrubText("seen at 10.1.2.3:443 by me", "10.1.2.3"); strings.Contains(got, "10.1.2.3") {
		t.Errorf("secret kept: %q", got)
	}
}

func TestScrubURL(t *testing.T) {
	allow := func(k string) bool { return strings.HasPrefix(k, "utm_") || k == "ref" }
	tests := []struct {
		in                string
		path, query, utmS string
		ok                bool
	}{
		{"https://shop.example/a/b?utm_source=news&x=1#frag", "/a/b", "", "news", true},
		{"https://shop.example", "/", "", "", true},
		{"https://shop.example/reset/jane@example.com/token", "/reset/:email/token", "", "", true},
		{"https://shop.example/u/203.0.113.9/p", "/u/:ip/p", "", "", true},
		{"https://shop.example/s/a3f9c2e18b7d4f60a1b2c3d4?ref=jane@example.com&utm_campaign=x", "/s/:token", "ref=%3Aemail", "", true},
		{"https://user:pass@shop.example/p?password=hunter2", "/p", "", "", true},
		{"https://shop.example/%7Euser/caf%C3%A9", "/%7Euser/caf%C3%A9", "", "", true},
		{"ftp://shop.example/", "", "", "", false},
		{"/relative", "", "", "", false},
		{"https://shop.example/a?utm_source=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefgh", "/a", "", ":token", true},
	}
	for _, tc := range tests {
		c, ok := ScrubURL(tc.in, allow)
		if ok != tc.ok {
			t.Errorf("ScrubURL(%q) ok = %v", tc.in, ok)
			continue
		}
		if !ok {
			continue
		}
		if c.Path != tc.path || c.Query != tc.query || c.UTM.Source != tc.utmS {
			t.Errorf("ScrubURL(%q) = %+v, want path %q query %q utm_source %q", tc.in, c, tc.path, tc.query, tc.utmS)
		}
	}
}

func TestReferrerHost(t *testing.T) {
	own := func(h string) bool { return h == "shop.example" }
	tests := map[string]string{
		"https://www.google.com/search?q=jane@example.com": "www.google.com",
		"https://WWW.Bing.com./x":                          "www.bing.com",
		"https://shop.example/other":                       "",
		"http://203.0.113.7/":                              "",
		"http://[2001:db8::1]/":                            "",
		"android-app://com.google/":                        "",
		"not a url":                                        "",
		"":                                                 "",
	}
	for in, want := range tests {
		if got := ReferrerHost(in, own); got != want {
			t.Errorf("ReferrerHost(%q) = %q, want %q", in, got, want)
		}
	}
}

var (
	leakEmail = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]*[A-Za-z]{2,}`)
	leakJWT   = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.`)
)

func FuzzScrubURL(f *testing.F) {
	f.Add("https://shop.example/a/jane@example.com?utm_source=203.0.113.7#x")
	f.Add("https://shop.example/%40/x?utm_campaign=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig")
	f.Add("http://[::1]:80/a;b?utm_medium=a%20b&ref=1")
	f.Add("https://s.example/" + testUA)
	f.Fuzz(func(t *testing.T, raw string) {
		// Allowed names come from the sites file, so the fuzzer gets an exact list like it.
		allowed := map[string]bool{"utm_source": true, "utm_medium": true, "utm_campaign": true, "utm_term": true, "utm_content": true, "ref": true}
		c, ok := ScrubURL(raw, func(k string) bool { return allowed[k] }, "198.51.100.23")
		if !ok {
			return
		}
		if !strings.HasPrefix(c.Path, "/") || strings.Contains(c.Path, "#") {
			t.Fatalf("path %q must start with / and hold no fragment", c.Path)
		}
		path, err := url.PathUnescape(c.Path)
		if err != nil {
			path = c.Path
		}
		query, err := url.QueryUnescape(c.Query)
		if err != nil {
			query = c.Query
		}
		for _, s := range []string{path, query, c.UTM.Source, c.UTM.Medium, c.UTM.Campaign, c.UTM.Term, c.UTM.Content} {
			if strings.Contains(s, "198.51.100.23") || leakJWT.MatchString(s) {
				t.Fatalf("secret left in %q (from %q)", s, raw)
			}
			if m := leakEmail.FindString(s); m != "" && ScrubText(m) != m {
				t.Fatalf("e-mail %q left in %q (from %q)", m, s, raw)
			}
			for _, w := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune("/?&=: ", r) }) {
				if a, err := netip.ParseAddr(w); err == nil && a.Is4() {
					t.Fatalf("IPv4 %q left in %q (from %q)", w, s, raw)
				}
			}
		}
	})
}

func TestScrubTextChainedAddresses(t *testing.T) {
	// Found by FuzzScrubURL: one replacement left ":email@0.AA", again an address.
	if got := ScrubText("0@0.AA@0.AA"); strings.Contains(got, "@") {
		t.Fatalf("ScrubText left an address: %q", got)
	}
}

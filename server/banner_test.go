package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/consentry/consentry/banner"
)

func TestBannerScriptCachingAndEncodings(t *testing.T) {
	e := newEnv(t, testConfig())
	get := func(path string, h hdr) (*http.Response, []byte) {
		t.Helper()
		resp := e.do(t, "GET", path, "", h)
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	fr, err := e.banners.Bundle("news", "fr")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		h          hdr
		coding     string
		want       []byte
		cache      string
	}{
		{"brotli preferred", "/s/news/banner.js", hdr{"Accept-Encoding": "gzip, deflate, br", "Accept-Language": "fr-FR,fr;q=0.9"}, "br", fr.Brotli, "public, max-age=300"},
		{"gzip", "/s/news/banner.js", hdr{"Accept-Encoding": "gzip", "Accept-Language": "fr"}, "gzip", fr.Gzip, "public, max-age=300"},
		{"identity", "/s/news/banner.js", hdr{"Accept-Language": "fr"}, "", fr.Raw, "public, max-age=300"},
		{"versioned URL is immutable", "/s/news/banner.js?lang=fr&v=" + fr.Version, hdr{"Accept-Encoding": "br", "Accept-Language": "de"}, "br", fr.Brotli, immutable},
		{"stale version gets the short cache", "/s/news/banner.js?lang=fr&v=0123456789abcdef", hdr{"Accept-Encoding": "br"}, "br", fr.Brotli, "public, max-age=300"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(tc.path, tc.h)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != tc.coding || string(body) != string(tc.want) {
				t.Fatalf("status %d, coding %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Encoding"), len(body))
			}
			for k, v := range map[string]string{
				"Cache-Control": tc.cache, "ETag": fr.ETag(tc.coding), "Content-Type": "text/javascript; charset=utf-8",
				"Access-Control-Allow-Origin": "*", "Timing-Allow-Origin": "*", "X-Content-Type-Options": "nosniff",
			} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			again, body := get(tc.path, hdr{"Accept-Encoding": tc.h["Accept-Encoding"], "Accept-Language": tc.h["Accept-Language"], "If-None-Match": `"x", ` + resp.Header.Get("ETag")})
			if again.StatusCode != 304 || len(body) != 0 {
				t.Errorf("If-None-Match with its ETag: status %d, %d bytes", again.StatusCode, len(body))
			}
		})
	}
	if resp, _ := get("/s/nosuch/banner.js", nil); resp.StatusCode != 404 || resp.Header.Get("X-Consentry-Reason") == "" {
		t.Errorf("unknown site: %d %v", resp.StatusCode, resp.Header)
	}
	// The plain URL tells the script the signals the request carried; a versioned one
	// (pinned, maybe by SRI) never varies.
	resp, body := get("/s/news/banner.js", hdr{"Accept-Language": "fr", "Sec-GPC": "1", "DNT": "1"})
	if !strings.Contains(string(body), `"z":3`) || resp.Header.Get("Vary") != "Accept-Encoding, Accept-Language, DNT, Sec-GPC" || resp.Header.Get("ETag") == fr.ETag("") {
		t.Errorf("with DNT and GPC: vary %q, etag %q, %.60s", resp.Header.Get("Vary"), resp.Header.Get("ETag"), body)
	}
	resp, body = get("/s/news/banner.js?lang=fr&v="+fr.Version, hdr{"Sec-GPC": "1"})
	if string(body) != string(fr.Raw) || resp.Header.Get("Vary") != "Accept-Encoding, Accept-Language" {
		t.Errorf("a versioned URL must not vary with the signal: vary %q", resp.Header.Get("Vary"))
	}
	resp, body = get("/s/news/banner.js", hdr{"Accept-Language": "ja"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"l":"ja"`) {
		t.Errorf("Accept-Language ja must give the Japanese build: %.100s", body)
	}
}

func TestBannerEmbedPublishesIntegrity(t *testing.T) {
	e := newEnv(t, testConfig())
	resp := e.do(t, "GET", "/s/news/banner.json", "", nil)
	var info embedInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if info.Default != "en" || len(info.Languages) != len(banner.Shipped) {
		t.Fatalf("%+v", info)
	}
	for _, l := range info.Languages {
		b, _ := e.banners.Bundle("news", l.Lang)
		if l.Integrity != b.Integrity || !strings.HasSuffix(l.Src, "/s/news/banner.js?lang="+l.Lang+"&v="+b.Version) {
			t.Errorf("%+v", l)
		}
	}
	if resp := e.do(t, "GET", "/s/nosuch/banner.json", "", nil); resp.StatusCode != 404 {
		t.Errorf("unknown site: %d", resp.StatusCode)
	}
}

// Package demo serves a page of an example site that embeds the consent banner, with a
// blocked analytics script, a blocked inline script, a blocked marketing iframe and pixel,
// a "cookie settings" button and the site's cookie declaration, under a strict
// Content-Security-Policy. `make run` serves it on http://localhost:8081; the browser
// tests drive the same page.
package demo

import (
	"crypto/rand"
	"embed"
	"encoding/base64"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"golang.org/x/text/language"
)

//go:embed page.html
var pageHTML string

//go:embed static
var static embed.FS

// Handler serves the demo page for one site at every path but /static/.
type Handler struct {
	site    string
	consent atomic.Value // string: base URL of the Consentry service
	mux     *http.ServeMux
}

// New returns the demo for site, loading the banner from the Consentry service at
// consentURL (scheme://host[:port], and a path prefix if a proxy serves it under one).
func New(site, consentURL string) *Handler {
	h := &Handler{site: site, mux: http.NewServeMux()}
	h.consent.Store(consentURL)
	files, _ := fs.Sub(static, "static")
	h.mux.Handle("/static/", http.StripPrefix("/static/", http.FileServer(http.FS(files))))
	h.mux.HandleFunc("/", h.page)
	return h
}

// SetConsentURL points the page at another Consentry service (tests restart it).
func (h *Handler) SetConsentURL(u string) { h.consent.Store(u) }

// ServeHTTP serves the page and its static files.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := base64.StdEncoding.EncodeToString(b[:])
	consent := h.consent.Load().(string)
	lang := "en"
	if t, err := language.Parse(r.URL.Query().Get("lang")); err == nil {
		lang = t.String()
	}
	// What the README documents for sites: the banner's host in script-src and
	// connect-src, and a nonce for the banner's style element; no 'unsafe-inline'.
	host := consent
	if u, err := url.Parse(consent); err == nil {
		host = u.Scheme + "://" + u.Host // a source with a path would match that path only
	}
	w.Header().Set("Content-Security-Policy", fmt.Sprintf(
		"default-src 'self'; script-src 'self' %s 'nonce-%s'; style-src 'self' 'nonce-%s'; connect-src 'self' %s; img-src 'self'; frame-src 'self'; require-trusted-types-for 'script'; trusted-types consentry",
		host, nonce, nonce, host))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// ?banner_lang= and ?cookie_domain= become the script tag's data-lang and
	// data-cookie-domain, to try them. Plain replacement with escaping, not html/template,
	// whose reflection would keep every method of every type in the service's binary.
	q := r.URL.Query()
	attrs := ""
	for attr, param := range map[string]string{"data-lang": "banner_lang", "data-cookie-domain": "cookie_domain"} {
		if v := q.Get(param); v != "" {
			attrs += " " + attr + `="` + html.EscapeString(v) + `"`
		}
	}
	_, _ = strings.NewReplacer("{{SITE}}", html.EscapeString(h.site), "{{CONSENT}}", html.EscapeString(consent),
		"{{NONCE}}", nonce, "{{LANG}}", html.EscapeString(lang), "{{ATTRS}}", attrs).WriteString(w, pageHTML)
}

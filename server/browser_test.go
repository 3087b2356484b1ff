package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/consentry/consentry/banner"

	"github.com/consentry/consentry/banner/demo"
	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/consent/consenttest"
	"github.com/consentry/consentry/internal/browsertest"
	"github.com/consentry/consentry/internal/chtest"
)

// The banner in a real headless Chromium, on the demo page (served under a strict CSP),
// against the real Fiber app and ClickHouse.

const browserSitesYAML = `
sites:
  - id: demo
    origins: ["PAGE_ORIGIN"]
    policy_version: "POLICY"
    analytics_mode: consent
    banner:
      policy_url: https://demo.example/privacy
      languages: [en, zh-CN, ja, fr, es, de, it, nl, pl, pt-BR, pt-PT, sv, cs, da, el, hu, nb, ro, ar]
      texts:
        ar: {title: اختيارك للخصوصية, accept: قبول الكل, reject: رفض الكل, customize: تخصيص}
      reload_on_withdraw: RELOAD
      settings_button: CORNER
      layout: LAYOUT
      google_consent_mode:
        security_storage: [necessary]
        functionality_storage: [preferences]
        personalization_storage: [preferences]
        analytics_storage: [analytics]
        ad_storage: [marketing]
        ad_user_data: [marketing]
        ad_personalization: [marketing]
      microsoft_consent_mode: {ad_storage: [marketing]}
    categories:
      - {id: necessary, required: true}
      - {id: preferences, technologies: [storage], storage: [demo_theme, "demo_cart:*"]}
      - id: analytics
        technologies: [beacon, cookie]
        cookies: [_demo_analytics]
        vendors:
          - {name: Matomo, purpose: Visit statistics, cookies: ["_pk_id*"], policy_url: "https://matomo.org/privacy-policy/"}
      - id: marketing
        technologies: [cookie, pixel]
        cookies: [_demo_ads]
        vendors:
          - {name: Google Ads, purpose: Conversion measurement, cookies: ["_gcl_*"], policy_url: "https://policies.google.com/privacy"}
          - {name: Meta Pixel, purpose: Ad audiences, cookies: [_fbp], policy_url: "https://www.facebook.com/privacy/policy/"}
`

type browserEnv struct {
	*env
	page string // the demo page's origin
	base string // the service's origin
	demo *demo.Handler
}

// browserEnvOptions vary the demo page's setup; the zero value is plain http on 127.0.0.1.
type browserEnvOptions struct {
	host   string // the page's host name (the test browser resolves *.demo.test to 127.0.0.1)
	reload bool   // the site's reload_on_withdraw
	corner bool   // the site's settings_button
	layout string // the site's layout; box if empty
	tls    bool   // page and service over https, with httptest's self-signed certificate
	// proxied serves the service under /consentry/ of the page's own origin, as a site's
	// reverse proxy would, and the page embeds the banner from there.
	proxied bool
	// wrap, if set, stands in front of the page server (to add pages, or to watch requests).
	wrap func(http.Handler) http.Handler
}

// newBrowserEnv serves the demo page of site "demo" and the service it embeds.
func newBrowserEnv(t *testing.T, o browserEnvOptions) *browserEnv {
	t.Helper()
	browsertest.Required(t)
	var d *demo.Handler
	var proxy http.Handler
	var serve http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if proxy != nil && strings.HasPrefix(r.URL.Path, "/consentry/") {
			http.StripPrefix("/consentry", proxy).ServeHTTP(w, r)
			return
		}
		d.ServeHTTP(w, r)
	})
	if o.wrap != nil {
		serve = o.wrap(serve)
	}
	pages := httptest.NewUnstartedServer(serve)
	scheme := "http"
	if o.tls {
		pages.StartTLS()
		scheme = "https"
	} else {
		pages.Start()
	}
	t.Cleanup(pages.Close)
	host := "127.0.0.1"
	if o.host != "" {
		host = o.host
	}
	page := fmt.Sprintf("%s://%s:%d", scheme, host, pages.Listener.Addr().(*net.TCPAddr).Port)
	_, conn := chtest.Open(t, true)
	e := newEnvWith(t, conn, testConfig(), envOptions{sites: browserSites(page, "p1", o), flush: 100 * time.Millisecond})
	var base string
	if o.tls {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", pages.TLS)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = e.app.Listener(ln) }()
		t.Cleanup(func() { _ = e.app.Shutdown() })
		base = "https://" + ln.Addr().String()
	} else {
		base = e.listen(t)
	}
	embed := base
	if o.proxied {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		proxy = httputil.NewSingleHostReverseProxy(u)
		embed = page + "/consentry"
	}
	d = demo.New("demo", embed)
	return &browserEnv{env: e, page: page, base: base, demo: d}
}

// browserSites is the test site served at page under a policy version.
func browserSites(page, policy string, o browserEnvOptions) string {
	return strings.NewReplacer("PAGE_ORIGIN", page, "POLICY", policy, "RELOAD", fmt.Sprint(o.reload), "CORNER", fmt.Sprint(o.corner), "LAYOUT", cmp.Or(o.layout, "box")).Replace(browserSitesYAML)
}

// open loads the demo page and waits for the banner script to have started.
func (b *browserEnv) open(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Navigate(b.page+path))
	browsertest.WaitFor(t, ctx, "the banner script", `window.Consentry && document.readyState == "complete"`)
}

// decisions lists the site's ledger rows in order: "method signal granted".
func (b *browserEnv) decisions(t *testing.T) []string {
	t.Helper()
	return chtest.Strings(t, b.conn, `SELECT concat(toString(method), ' ', toString(signal), ' ', arrayStringConcat(granted, ',')) FROM consents FINAL WHERE site = 'demo' ORDER BY decided_ms`)
}

// pageviewPaths lists the stored pageview paths.
const pageviewPaths = `SELECT path FROM events WHERE site = 'demo' AND type = 'pageview' ORDER BY ts, path`

// pageviews drains the event queue and lists the stored pageview paths.
func (b *browserEnv) pageviews(t *testing.T) []string {
	t.Helper()
	b.drain(t)
	return chtest.Strings(t, b.conn, pageviewPaths)
}

// beaconsSent is JavaScript for how many beacons to /v1/collect the open page has sent.
const beaconsSent = `performance.getEntriesByType("resource").filter(r => r.name.includes("/v1/collect")).length`

// noPageviews asserts that the open page sent no beacon and that none is stored, once the
// page is older than the banner's deferred first pageview (250 ms), so a wrong one would
// have left by then.
func (b *browserEnv) noPageviews(t *testing.T, ctx context.Context, why string) {
	t.Helper()
	browsertest.WaitFor(t, ctx, "the page to outlast the banner's first-pageview delay", `performance.now() > 1000`)
	if n := eval[int](t, ctx, beaconsSent); n != 0 {
		t.Errorf("%s: the page sent %d beacons", why, n)
	}
	if pv := b.pageviews(t); len(pv) != 0 {
		t.Errorf("%s: %v", why, pv)
	}
}

// eventually calls got every interval, for up to 10 s, until it returns want; else it
// fails the test with what and the last value got: a beacon sent as a page is left, or a
// decision, may still be on its way, and the writer flushes every 100 ms here.
func eventually(t *testing.T, what string, every time.Duration, want string, got func() string) {
	t.Helper()
	var last string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(every) {
		if last = got(); last == want {
			return
		}
	}
	t.Fatalf("%s: %s, want %s", what, last, want)
}

// waitPageviews waits until the stored pageview paths, sorted, are want.
func (b *browserEnv) waitPageviews(t *testing.T, want string) {
	t.Helper()
	eventually(t, "pageviews", 100*time.Millisecond, want, func() string {
		return strings.Join(slices.Sorted(slices.Values(chtest.Strings(t, b.conn, pageviewPaths))), " ")
	})
}

// viewport makes the page in ctx as large as a screen of width by height CSS pixels.
func viewport(t *testing.T, ctx context.Context, width, height int64) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: width, Height: height, DeviceScaleFactor: 1})
		return err
	}))
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	return browsertest.Eval[T](t, ctx, js)
}

// pageState is what the page can see of the banner's effects.
type pageState struct {
	Banner  bool     `json:"banner"`
	Note    bool     `json:"note"`
	Cookies string   `json:"cookies"`
	Storage int      `json:"storage"`
	Ran     []string `json:"ran"`
	Iframe  string   `json:"iframe"`
	Pixel   string   `json:"pixel"` // the marketing pixel's src, and whether the browser fetched it
	Font    string   `json:"font"`  // the preferences web font stylesheet's href, and whether fetched

	CSP        []string `json:"csp"`
	DataLayer  []string `json:"dataLayer"`
	UET        string   `json:"uet"`     // Microsoft's consent queue, window.uetq, as JSON
	Blocked    int      `json:"blocked"` // scripts still type=text/plain
	ConsentAPI any      `json:"consent"`
}

func state(t *testing.T, ctx context.Context) pageState {
	t.Helper()
	return eval[pageState](t, ctx, `(fetched => ({
		banner: !!document.querySelector(".cst"), note: !!document.querySelector(".cst-n"),
		cookies: document.cookie, storage: localStorage.length + sessionStorage.length,
		ran: window.demoRan, iframe: document.querySelector("iframe[data-consent]").getAttribute("src") || "",
		pixel: fetched("img[data-consent]", "src", "/pixel.gif"), font: fetched("link[data-consent]", "href", "/fonts.css"),
		csp: window.cspViolations, dataLayer: (window.dataLayer || []).map(a => JSON.stringify(Array.from(a))), uet: JSON.stringify(window.uetq),
		blocked: document.querySelectorAll('script[type="text/plain"]').length, consent: Consentry.get()
	}))((sel, attr, path) => (document.querySelector(sel).getAttribute(attr) || "") +
		(performance.getEntriesByType("resource").some(r => r.name.includes(path)) ? " fetched" : ""))`)
}

func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Click(sel, chromedp.NodeVisible))
}

func TestBrowserFirstVisitThenRejectAll(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	ctx := browsertest.New(t, browsertest.Options{})
	b.open(t, ctx, "/")
	s := state(t, ctx)
	if !s.Banner || s.Cookies != "" || s.Storage != 0 || len(s.Ran) != 0 || s.Iframe != "" || s.Pixel != "" || s.Font != "" || s.Blocked != 3 || s.ConsentAPI != nil {
		t.Fatalf("first visit: %+v", s)
	}
	if len(b.decisions(t)) != 0 {
		t.Fatal("nothing is recorded before the visitor chooses")
	}
	// The page's own files, and from the service the banner script only: no fonts, images,
	// other hosts or requests (the demo site is in consent mode: no pageview yet).
	loaded := eval[[]string](t, ctx, `performance.getEntriesByType("resource").map(r => r.name)`)
	fromService := 0
	for _, u := range loaded {
		switch {
		case strings.HasPrefix(u, b.page+"/static/"), u == b.page+"/favicon.ico": // the page's own
		case strings.HasPrefix(u, b.base+"/s/demo/banner.js"):
			fromService++
		default:
			t.Errorf("the first visit fetched %s", u)
		}
	}
	if fromService != 1 {
		t.Errorf("the banner script must be the only request to the service: %v", loaded)
	}
	if anim := eval[string](t, ctx, `getComputedStyle(document.querySelector(".cst")).animationName`); anim != "cst-in" {
		t.Errorf("the banner slides in unless reduced motion is asked for: animation %q", anim)
	}
	if len(s.DataLayer) != 1 || !strings.Contains(s.DataLayer[0], `"default"`) || strings.Contains(s.DataLayer[0], "granted") || strings.Count(s.DataLayer[0], "denied") != 7 {
		t.Errorf("Consent Mode default must deny all seven types first: %v", s.DataLayer)
	}
	const uetDefault = `["consent","default",{"ad_storage":"denied"}`
	if s.UET != uetDefault+"]" {
		t.Errorf("Microsoft's consent mode default: %s, want %s]", s.UET, uetDefault)
	}

	heading := eval[string](t, ctx, `document.querySelector(".cst h2").textContent`)
	click(t, ctx, `.cst button[data-a="reject"]`)
	browsertest.WaitFor(t, ctx, "the receipt cookie", `document.cookie.includes("consentry=")`)
	s = state(t, ctx)
	if s.Banner || len(s.Ran) != 0 || s.Iframe != "" || s.Pixel != "" || s.Font != "" || s.Blocked != 3 || len(s.CSP) != 0 {
		t.Fatalf("after reject all: %+v", s)
	}
	if got := b.decisions(t); len(got) != 1 || got[0] != "reject_all none necessary" {
		t.Fatalf("ledger: %v", got)
	}
	// The row says which banner, in which language, the visitor saw.
	en, _ := b.banners.Bundle("demo", "en")
	var version, lang string
	if err := b.conn.QueryRow(context.Background(), `SELECT banner_version, lang FROM consents FINAL WHERE site = 'demo'`).Scan(&version, &lang); err != nil || version != en.Version || lang != "en" {
		t.Errorf("banner_version %q lang %q, want %q en (%v)", version, lang, en.Version, err)
	}
	// And the ledger keeps that banner: what the visitor read, and the script they ran
	// byte for byte, for when the sites file has long changed.
	ran := eval[string](t, ctx, `fetch(document.querySelector('script[src*="/banner.js"]').src).then(r => r.text())`)
	var title, script, integrity string
	if err := b.conn.QueryRow(context.Background(), `SELECT visitParamExtractString(config, 'title'), script, integrity
		FROM (SELECT site, banner_version FROM consents FINAL WHERE site = 'demo') AS d
		ANY INNER JOIN (SELECT site, banner_version, config, script, integrity FROM banner_versions) AS v USING (site, banner_version)`).Scan(&title, &script, &integrity); err != nil {
		t.Errorf("the decision's banner in banner_versions: %v", err)
	} else if script != ran || integrity != en.Integrity || title != heading {
		t.Errorf("banner_versions has %q, %s and a script of %d bytes; the visitor saw %q and ran %d bytes, %s", title, integrity, len(script), heading, len(ran), en.Integrity)
	}
	cookie := browsertest.Cookie(t, ctx, b.page, "consentry")
	exp := eval[float64](t, ctx, `JSON.parse(atob(document.cookie.match(/consentry=[^.]*\.([^.;]*)/)[1].replace(/-/g, "+").replace(/_/g, "/"))).exp`)
	if cookie == nil || cookie.SameSite != "Lax" || cookie.Path != "/" || cookie.HTTPOnly || cookie.Domain != "127.0.0.1" || math.Abs(cookie.Expires-exp) > 5 {
		t.Errorf("receipt cookie: %+v (receipt exp %v)", cookie, exp)
	}
	if last := s.DataLayer[len(s.DataLayer)-1]; !strings.Contains(last, `"update"`) || !strings.Contains(last, `"security_storage":"granted"`) || strings.Count(last, "granted") != 1 {
		t.Errorf("Consent Mode update after reject all: %s", last)
	}
	if want := uetDefault + `,"consent","update",{"ad_storage":"denied"}]`; s.UET != want {
		t.Errorf("Microsoft's consent mode after reject all: %s, want %s", s.UET, want)
	}
	// The choice holds on the next page: no banner, still blocked.
	b.open(t, ctx, "/next")
	if s = state(t, ctx); s.Banner || len(s.Ran) != 0 || s.Iframe != "" || s.Pixel != "" || s.Font != "" {
		t.Fatalf("next page after reject all: %+v", s)
	}
	b.noPageviews(t, ctx, "no analytics event may be stored after reject all")
}

func TestBrowserAcceptAllRunsBlockedContentInOrder(t *testing.T) {
	for _, tc := range []struct{ name, init string }{
		{"sendBeacon", ""},
		{"fetch keepalive without sendBeacon", "delete Navigator.prototype.sendBeacon"},
	} {
		t.Run(tc.name, func(t *testing.T) { acceptAll(t, tc.init) })
	}
}

func acceptAll(t *testing.T, init string) {
	b := newBrowserEnv(t, browserEnvOptions{})
	ctx := browsertest.New(t, browsertest.Options{Init: init})
	b.open(t, ctx, "/shop?utm_source=news")
	click(t, ctx, `.cst button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the blocked scripts, pixel and stylesheet", `window.demoRan.length == 3 && ["/pixel.gif", "/fonts.css"].every(p => performance.getEntriesByType("resource").some(r => r.name.includes(p)))`)
	s := state(t, ctx)
	if strings.Join(s.Ran, ",") != "analytics.js,inline-analytics,ads.js" || s.Iframe != "/static/ad.html" || s.Pixel != "/static/pixel.gif?ev=PageView fetched" || s.Font != "/static/fonts.css fetched" || s.Blocked != 0 || len(s.CSP) != 0 {
		t.Fatalf("after accept all: %+v", s)
	}
	if last := s.DataLayer[len(s.DataLayer)-1]; strings.Count(last, "granted") != 7 {
		t.Errorf("Consent Mode update after accept all: %s", last)
	}
	if want := `"consent","update",{"ad_storage":"granted"}]`; !strings.HasSuffix(s.UET, want) || strings.Count(s.UET, "default") != 1 {
		t.Errorf("Microsoft's consent mode after accept all: %s, want one default and the last update %s", s.UET, want)
	}
	// A single-page app navigation counts as a pageview too; a fragment change does not.
	click(t, ctx, "#spa")
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`location.hash = "top"`))
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`Consentry.track("signup", {plan: "pro"})`))
	if got := b.decisions(t); len(got) != 1 || got[0] != "accept_all none necessary,preferences,analytics,marketing" {
		t.Fatalf("ledger: %v", got)
	}
	browsertest.WaitFor(t, ctx, "the beacons to leave", beaconsSent+" >= 3")
	if pv := b.pageviews(t); strings.Join(pv, " ") != "/shop /spa-page" {
		t.Errorf("pageviews: %v", pv)
	}
	if n := b.countEvents(t, "event"); n != 1 {
		t.Errorf("tracked events: %d", n)
	}
}

// On a long page the first layer shows as soon as the body has begun, not when the whole
// document has arrived; blocked content waits for the document, and the banner shows once.
func TestBrowserBannerShowsWhileALongPageArrives(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	rest := make(chan struct{})
	long := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>long</title></head><body><p>The start of a long page.</p>`+
			`<script src="%s/s/demo/banner.js" async></script>`, b.base)
		w.(http.Flusher).Flush()
		select {
		case <-rest:
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Second):
		}
		fmt.Fprint(w, `<script type="text/plain" data-consent="analytics">window.ran = 1</script><p>The end.</p></body></html>`)
	}))
	t.Cleanup(long.Close)
	t.Cleanup(func() {
		select {
		case <-rest:
		default:
			close(rest)
		}
	})
	ctx := browsertest.New(t, browsertest.Options{})
	// Navigate without waiting for a load that cannot come yet.
	browsertest.Do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.Navigate, page.NavigateParams{URL: long.URL + "/"})
		return err
	}))
	browsertest.WaitFor(t, ctx, "the banner while the page is still loading", `!!document.querySelector(".cst") && document.readyState == "loading"`)
	close(rest)
	browsertest.WaitFor(t, ctx, "the rest of the page", `document.readyState == "complete" && !!window.Consentry`)
	if n := eval[int](t, ctx, `document.querySelectorAll(".cst").length`); n != 1 {
		t.Errorf("the banner shows once, got %d", n)
	}
	if eval[bool](t, ctx, `!!window.ran`) {
		t.Error("blocked content ran without a decision")
	}
}

// The first pageview waits until the banner is on screen; a visitor who leaves before then
// is still counted, as the page hides.
func TestBrowserPageLeftAtOnceIsCounted(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	// On /quick the page goes on to /after as soon as the banner has applied the stored
	// choice, long before the banner's deferred pageview.
	ctx := browsertest.New(t, browsertest.Options{Init: `if (location.pathname == "/quick")
		document.addEventListener("consentry:change", () => location.replace("/after"))`})
	b.open(t, ctx, "/")
	click(t, ctx, `.cst button[data-a="accept"]`)
	b.waitPageviews(t, "/")
	browsertest.Do(t, ctx, chromedp.Navigate(b.page+"/quick"))
	browsertest.WaitFor(t, ctx, "the page after", `location.pathname == "/after" && document.readyState == "complete"`)
	b.waitPageviews(t, "/ /after /quick")
}

// prerender is a page the browser prerenders from speculation rules and shows only when
// the test says so, in a tab of its own: Chromium prerenders nothing in a tab that a
// DevTools client without tab-target support (chromedp) is attached to.
type prerender struct {
	mu       sync.Mutex
	requests []string      // "path sec-purpose" of each request to the page server
	show     chan struct{} // closed: the launching page goes to the prerendered one
}

// prerenderProbe runs last in the prerendered demo page. When the banner has started
// (Consentry is there and the document parsed), it calls history.replaceState, as a
// single-page app's router does as it boots, tracks an event, and requests /started.
const prerenderProbe = `const started = () => {
  if (!window.Consentry || document.readyState == "loading") return setTimeout(started, 10);
  history.replaceState(null, "", location.href);
  Consentry.track("prerendered");
  fetch("/started");
};
started();`

// prerenderEnv serves the demo page with /launch, a page that prerenders /prerendered
// (the demo page, with prerenderProbe) and goes there once show is closed, and /blank.
func prerenderEnv(t *testing.T) (*browserEnv, *prerender) {
	p := &prerender{show: make(chan struct{})}
	b := newBrowserEnv(t, browserEnvOptions{wrap: func(pages http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			p.requests = append(p.requests, r.URL.Path+" "+r.Header.Get("Sec-Purpose"))
			p.mu.Unlock()
			switch r.URL.Path {
			case "/blank":
				fmt.Fprint(w, `<!doctype html><title>blank</title>`)
			case "/launch":
				fmt.Fprint(w, `<!doctype html><title>launch</title><script type="speculationrules">{"prerender": [{"source": "list", "urls": ["/prerendered"]}]}</script>`+
					`<script>fetch("/show").then(() => location.href = "/prerendered")</script>`)
			case "/show":
				select {
				case <-p.show:
				case <-r.Context().Done():
				}
			case "/probe.js":
				w.Header().Set("Content-Type", "text/javascript")
				fmt.Fprint(w, prerenderProbe)
			case "/prerendered":
				rec := served(pages, r)
				relay(w, rec, strings.Replace(rec.Body.String(), "</body>", `<script src="/probe.js"></script></body>`, 1))
			default:
				pages.ServeHTTP(w, r)
			}
		})
	}})
	return b, p
}

// launch opens /launch in a new tab, out of the test's reach, from the page open in ctx,
// and waits until the banner has started in the page it prerenders.
func (p *prerender) launch(t *testing.T, ctx context.Context) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`void window.open("/launch", "_blank", "noopener")`))
	eventually(t, "the prerendered page's banner (else: the requests so far)", 20*time.Millisecond, "started", func() string {
		if requests := p.seen(); !slices.Contains(requests, "/started prefetch;prerender") {
			return fmt.Sprint(requests)
		}
		return "started"
	})
}

func (p *prerender) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

// A page the browser prerenders is not a visit until the visitor goes to it: its pageview
// and events, or its decision on the browser's signal, leave when it is shown, and never
// if it is not. The page's router calling history.replaceState while prerendered counts
// nothing.
func TestBrowserPrerenderedPageCountsWhenShown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      browsertest.Options
		accept    bool   // accept all on a first page, before the prerender
		pageviews string // stored in the end
		events    int
		decisions string
	}{
		{"granted", browsertest.Options{}, true, "/ /prerendered", 1, "accept_all none necessary,preferences,analytics,marketing"},
		{"dnt", browsertest.Options{DNT: true}, false, "", 0, "reject_all dnt necessary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, p := prerenderEnv(t)
			ctx := browsertest.New(t, tc.opts)
			if tc.accept {
				b.open(t, ctx, "/")
				click(t, ctx, `.cst button[data-a="accept"]`)
				b.waitPageviews(t, "/")
			} else {
				browsertest.Do(t, ctx, chromedp.Navigate(b.page+"/blank"))
			}
			decisions, pageviews := b.decisions(t), chtest.Strings(t, b.conn, pageviewPaths)
			p.launch(t, ctx)
			// A pageview sent as the banner started would be stored within about 250 ms
			// (the banner's delay) and 100 ms (the writer's flush); a decision at once.
			time.Sleep(time.Second)
			if got := chtest.Strings(t, b.conn, pageviewPaths); !slices.Equal(got, pageviews) {
				t.Fatalf("a page only prerendered was counted: pageviews %v", got)
			}
			if got := b.decisions(t); !slices.Equal(got, decisions) {
				t.Fatalf("a page only prerendered recorded a decision: %v", got)
			}
			if n := b.countEvents(t, "event"); n != 0 {
				t.Fatalf("a page only prerendered sent %d events", n)
			}
			close(p.show)
			eventually(t, "ledger", 100*time.Millisecond, tc.decisions, func() string { return strings.Join(b.decisions(t), "|") })
			if tc.pageviews != "" {
				b.waitPageviews(t, tc.pageviews)
			} else {
				time.Sleep(time.Second) // past the shown page's pageview delay
				if got := chtest.Strings(t, b.conn, pageviewPaths); len(got) != 0 {
					t.Errorf("nothing may be tracked: %v", got)
				}
			}
			eventually(t, "events", 100*time.Millisecond, fmt.Sprint(tc.events), func() string { return fmt.Sprint(b.countEvents(t, "event")) })
			if docs := slices.DeleteFunc(p.seen(), func(r string) bool { return !strings.HasPrefix(r, "/prerendered ") }); len(docs) != 1 || docs[0] != "/prerendered prefetch;prerender" {
				t.Errorf("the page shown was not the prerendered one: %v", docs)
			}
		})
	}
}

// served is what pages answers to r, to be changed and relayed.
func served(pages http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	pages.ServeHTTP(rec, r)
	return rec
}

// relay answers with rec's headers and status, and body.
func relay(w http.ResponseWriter, rec *httptest.ResponseRecorder, body string) {
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = io.WriteString(w, body)
}

// bfcacheable serves the demo pages without their Cache-Control: no-store, which keeps a
// page out of Chromium's back/forward cache.
func bfcacheable(pages http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := served(pages, r)
		rec.Header().Del("Cache-Control")
		relay(w, rec, rec.Body.String())
	})
}

// A page restored from the back/forward cache is viewed again without running anew: the
// view counts, and the page holds a choice made meanwhile on another page, reloading
// itself if the site says so.
func TestBrowserBackForwardCacheRestoreCountsAndHoldsTheChoice(t *testing.T) {
	for _, reload := range []bool{false, true} {
		t.Run(fmt.Sprintf("reload_on_withdraw=%v", reload), func(t *testing.T) {
			b := newBrowserEnv(t, browserEnvOptions{wrap: bfcacheable, reload: reload})
			ctx := browsertest.New(t, browsertest.Options{Init: `addEventListener("pageshow", e => window.restored = e.persisted)`})
			b.open(t, ctx, "/first")
			click(t, ctx, `.cst button[data-a="accept"]`)
			b.waitPageviews(t, "/first")
			b.open(t, ctx, "/second")
			b.waitPageviews(t, "/first /second")
			step := func(s string) { browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`history.`+s+`()`)) }
			restored := func(path string) {
				t.Helper()
				browsertest.WaitFor(t, ctx, path+" restored from the back/forward cache", `location.pathname == "`+path+`" && window.restored === true`)
			}
			step("back")
			restored("/first")
			b.waitPageviews(t, "/first /first /second")
			step("forward")
			restored("/second")
			b.waitPageviews(t, "/first /first /second /second")

			// chromedp's view of the DOM does not follow a page restored from the cache:
			// the page clicks itself.
			browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("button[data-consentry-open]").click()`))
			browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('.cst-p button[data-a="withdraw"]').click()`))
			reloaded := func(path string) {
				t.Helper()
				browsertest.WaitFor(t, ctx, path+" reloaded", `location.pathname == "`+path+`" && performance.getEntriesByType("navigation")[0].type == "reload"`)
			}
			if reload {
				reloaded("/second")
			}
			browsertest.WaitFor(t, ctx, "the withdrawal", `window.Consentry && !Consentry.has("analytics")`)
			step("back")
			if reload {
				reloaded("/first")
			} else {
				restored("/first")
			}
			browsertest.WaitFor(t, ctx, "the restored page to hold the withdrawal", `window.Consentry && !Consentry.has("analytics") && Consentry.has("necessary")`)
			time.Sleep(time.Second) // past the time a pageview would take to be stored
			if pv := chtest.Strings(t, b.conn, pageviewPaths); len(pv) != 4 {
				t.Errorf("a page counted after the withdrawal: %v", pv)
			}
		})
	}
}

// A choice made in one tab holds in another left open: its first layer goes and granted
// content runs; a withdrawal deletes the withdrawn categories' cookies there too (set
// along that page's path, out of the first tab's reach) and, if the site says so, reloads
// it, so that no tab left open undoes the withdrawal. Over https it happens at once
// (cookieStore's change event); over http, where there is no cookieStore, when the tab is
// shown again. Headless Chromium shows every tab, so that moment is a visibilitychange
// event the test sends.
func TestBrowserOtherTabsFollowTheChoice(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tls    bool
		reload bool
		erase  bool // the visitor erases their record instead of withdrawing
	}{
		{"https", true, false, false},
		{"https, reload_on_withdraw", true, true, false},
		{"http, when shown again", false, false, false},
		{"https, erased", true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not 127.0.0.1, a secure context even over http, with cookieStore.
			b := newBrowserEnv(t, browserEnvOptions{tls: tc.tls, reload: tc.reload, host: "tabs.demo.test"})
			first := browsertest.New(t, browsertest.Options{})
			b.open(t, first, "/")
			other := browsertest.Tab(t, first)
			b.open(t, other, "/shop/item")
			if has := eval[bool](t, other, `"cookieStore" in window`); has != tc.tls {
				t.Fatalf("cookieStore in the page: %v, want %v", has, tc.tls)
			}
			browsertest.WaitFor(t, other, "the first layer in the other tab", `document.querySelector(".cst")`)
			shown := func() {
				if !tc.tls {
					browsertest.Do(t, other, chromedp.Evaluate[chromedp.Void](`document.dispatchEvent(new Event("visibilitychange"))`))
				}
			}
			browsertest.Do(t, other, chromedp.Evaluate[chromedp.Void](`window.changes = []; Consentry.on("change", c => changes.push(c))`))
			click(t, first, `.cst button[data-a="accept"]`)
			browsertest.WaitFor(t, first, "the decision", `Consentry.has("marketing")`)
			shown()
			browsertest.WaitFor(t, other, "the other tab to follow the grant", `!document.querySelector(".cst") && window.demoRan.length == 3 && Consentry.has("marketing")`)
			if got := eval[[]map[string]bool](t, other, `changes`); len(got) != 1 || !got[0]["marketing"] {
				t.Errorf("the other tab's change listeners: %v", got)
			}
			if dl := state(t, other).DataLayer; strings.Count(dl[len(dl)-1], "granted") != 7 {
				t.Errorf("the other tab's Google tags were not told of the grant: %v", dl)
			}
			// A tracker in the other tab sets a cookie on its own path; the withdrawal
			// in the first tab, at /, cannot delete it from there.
			browsertest.Do(t, other, chromedp.Evaluate[chromedp.Void](`document.cookie = "_demo_ads=2; path=/shop/"; window.beforeWithdrawal = true`))
			click(t, first, "button[data-consentry-open]")
			if tc.erase {
				eraseRecord(t, first)
				browsertest.WaitFor(t, first, "the erasure", `Consentry.get() === null`)
			} else {
				click(t, first, `.cst-p button[data-a="withdraw"]`)
				browsertest.WaitFor(t, first, "the withdrawal (and the reload it may ask for)", `window.Consentry && !Consentry.has("marketing")`)
			}
			shown()
			if tc.reload {
				browsertest.WaitFor(t, other, "the other tab to reload", `!window.beforeWithdrawal && document.readyState == "complete" && window.Consentry`)
			}
			if tc.erase {
				// No choice is held any more: what was granted is withdrawn, and the
				// visitor is asked again there too.
				browsertest.WaitFor(t, other, "the other tab to hold the erasure", `Consentry.get() === null && document.querySelector(".cst") && !Consentry.has("marketing")`)
				if got := eval[[]map[string]bool](t, other, `changes`); len(got) != 2 || got[1] != nil {
					t.Errorf("the other tab's change listeners: %v", got)
				}
			} else {
				browsertest.WaitFor(t, other, "the other tab to hold the withdrawal", `!Consentry.has("analytics") && !Consentry.has("marketing") && Consentry.has("necessary")`)
			}
			if s := state(t, other); strings.Contains(s.Cookies, "_demo_") || tc.reload && len(s.Ran) != 0 {
				t.Errorf("the other tab after the withdrawal: %+v", s)
			}
		})
	}
}

// acceptAllOn opens the demo page at path in a fresh browser and accepts all, once the
// blocked scripts have run.
func acceptAllOn(t *testing.T, o browserEnvOptions, path string) (*browserEnv, context.Context) {
	t.Helper()
	b := newBrowserEnv(t, o)
	ctx := browsertest.New(t, browsertest.Options{})
	b.open(t, ctx, path)
	click(t, ctx, `.cst button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the blocked scripts", `window.demoRan.length == 3`)
	return b, ctx
}

// A site may serve the banner from its own origin through a proxy: the banner then talks
// to the service through the same prefix, and the page reaches no other host.
func TestBrowserBannerFromTheSitesOwnOrigin(t *testing.T) {
	b, ctx := acceptAllOn(t, browserEnvOptions{proxied: true}, "/shop")
	if got := b.decisions(t); len(got) != 1 || got[0] != "accept_all none necessary,preferences,analytics,marketing" {
		t.Fatalf("ledger: %v", got)
	}
	browsertest.WaitFor(t, ctx, "the pageview to leave", `performance.getEntriesByType("resource").some(r => r.name.includes("/consentry/v1/collect"))`)
	if pv := b.pageviews(t); strings.Join(pv, " ") != "/shop" {
		t.Errorf("pageviews: %v", pv)
	}
	urls := eval[[]string](t, ctx, `[location.href, ...performance.getEntriesByType("resource").map(r => r.name)]`)
	for _, u := range urls {
		if !strings.HasPrefix(u, b.page+"/") {
			t.Errorf("the page reached another origin than its own: %s", u)
		}
	}
	if !slices.ContainsFunc(urls, func(u string) bool { return strings.HasPrefix(u, b.page+"/consentry/s/demo/banner.js") }) ||
		!slices.ContainsFunc(urls, func(u string) bool { return u == b.page+"/consentry/v1/consent" }) {
		t.Errorf("the banner and its decision went through the site's proxy: %v", urls)
	}
	if s := state(t, ctx); len(s.CSP) != 0 {
		t.Errorf("CSP violations: %v", s.CSP)
	}
}

func (b *browserEnv) countEvents(t *testing.T, typ string) int {
	t.Helper()
	var n uint64
	if err := b.conn.QueryRow(context.Background(), `SELECT count() FROM events WHERE site = 'demo' AND type = ?`, typ).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestBrowserCustomizeThenWithdraw(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	// A page script that runs before the banner listens for its DOM event.
	ctx := browsertest.New(t, browsertest.Options{Init: `window.domEvents = []; document.addEventListener("consentry:change", e => domEvents.push(e.detail))`})
	b.open(t, ctx, "/")
	click(t, ctx, `.cst button[data-a="custom"]`)
	browsertest.WaitFor(t, ctx, "the second layer", `document.activeElement.matches(".cst-p")`)
	if n := eval[int](t, ctx, `document.querySelectorAll(".cst-p input[role=switch]").length`); n != 4 {
		t.Fatalf("one toggle per category, got %d", n)
	}
	if locked := eval[bool](t, ctx, `(i => i.checked && i.disabled)(document.querySelector(".cst-p input[data-i='0']"))`); !locked {
		t.Error("the required category is shown on and locked")
	}
	vendors := eval[string](t, ctx, `document.querySelector(".cst-p .cst-c:nth-of-type(4) details").textContent`)
	for _, w := range []string{"Google Ads", "Conversion measurement", "_gcl_*", "Meta Pixel", "_fbp"} {
		if !strings.Contains(vendors, w) {
			t.Errorf("marketing vendors lack %q: %s", w, vendors)
		}
	}
	click(t, ctx, `.cst-p input[data-i="2"]`) // analytics only
	click(t, ctx, `.cst-p button[data-a="save"]`)
	browsertest.WaitFor(t, ctx, "the analytics script", `window.demoRan.includes("analytics.js") && window.demoRan.includes("inline-analytics")`)
	s := state(t, ctx)
	if strings.Join(s.Ran, ",") != "analytics.js,inline-analytics" || s.Iframe != "" || s.Pixel != "" || !strings.Contains(s.Cookies, "_demo_analytics=1") {
		t.Fatalf("after customize: %+v", s)
	}
	if fmt.Sprint(s.ConsentAPI) != "map[analytics:true marketing:false necessary:true preferences:false]" {
		t.Errorf("Consentry.get(): %v", s.ConsentAPI)
	}
	if !eval[bool](t, ctx, `Consentry.has("analytics") && !Consentry.has("marketing") && Consentry.has("necessary")`) {
		t.Error("Consentry.has disagrees with the choice")
	}

	// Reopen from the page's "cookie settings" button and withdraw.
	// A listener that stopped (with what on() returned) hears nothing more.
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.changes = []; window.stopped = [];
		Consentry.on("change", s => window.changes.push(s)); Consentry.on("change", s => window.stopped.push(s))()`))
	click(t, ctx, "button[data-consentry-open]")
	click(t, ctx, `.cst-p button[data-a="withdraw"]`)
	browsertest.WaitFor(t, ctx, "the change event", `window.changes.length == 1`)
	if n := eval[int](t, ctx, `window.stopped.length`); n != 0 {
		t.Errorf("a stopped listener heard %d changes", n)
	}
	s = state(t, ctx)
	if strings.Contains(s.Cookies, "_demo_analytics") || !strings.Contains(s.Cookies, "consentry=") {
		t.Errorf("withdrawal must delete the category's cookies and keep the receipt: %q", s.Cookies)
	}
	if fmt.Sprint(s.ConsentAPI) != "map[analytics:false marketing:false necessary:true preferences:false]" {
		t.Errorf("Consentry.get() after withdrawal: %v", s.ConsentAPI)
	}
	if got := b.decisions(t); strings.Join(got, "; ") != "custom none necessary,analytics; withdraw none necessary" {
		t.Fatalf("ledger: %v", got)
	}
	if got := eval[[]map[string]bool](t, ctx, `window.domEvents`); len(got) != 2 || !got[0]["analytics"] || got[1]["analytics"] || !got[1]["necessary"] {
		t.Errorf("consentry:change events: %v", got)
	}
}

// Chromium's own Do Not Track setting and a GPC browser: no nagging banner, a note that
// the signal is honoured, the decision recorded with the signal, nothing tracked.
func TestBrowserHonoursDNTAndGPC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   browsertest.Options
		signal string
	}{
		{"dnt", browsertest.Options{DNT: true}, "dnt"},
		{"gpc", browsertest.Options{GPC: true}, "gpc"},
		{"gpc header only, seen by the server", browsertest.Options{GPCHeaderOnly: true}, "gpc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowserEnv(t, browserEnvOptions{})
			ctx := browsertest.New(t, tc.opts)
			b.open(t, ctx, "/")
			browsertest.WaitFor(t, ctx, "the signal note", `document.querySelector(".cst-n")`)
			s := state(t, ctx)
			if s.Banner || !s.Note || len(s.Ran) != 0 || s.Iframe != "" || s.Pixel != "" {
				t.Fatalf("with %s: %+v", tc.name, s)
			}
			if got := b.decisions(t); len(got) != 1 || got[0] != "reject_all "+tc.signal+" necessary" {
				t.Fatalf("ledger: %v", got)
			}
			// Accepting anyway on a strict site changes nothing but the record.
			click(t, ctx, `.cst-n button[data-a="custom"]`)
			click(t, ctx, `.cst-p button[data-a="accept"]`)
			browsertest.WaitFor(t, ctx, "the second decision", `!document.querySelector(".cst-p")`)
			b.open(t, ctx, "/again")
			if s = state(t, ctx); s.Banner || len(s.Ran) != 0 || s.Iframe != "" || s.Pixel != "" || len(s.CSP) != 0 {
				t.Fatalf("next page: %+v", s)
			}
			if got := b.decisions(t); len(got) != 2 || got[1] != "accept_all "+tc.signal+" necessary" {
				t.Fatalf("ledger: %v", got)
			}
			// Allowing the ad in its placeholder: the placeholder says why it stays, and
			// focus stays on its button.
			click(t, ctx, "[data-consentry-allow]")
			const said = `[...document.querySelectorAll("[data-consent-placeholder] [role=alert]")].map(e => e.textContent).join("|")`
			browsertest.WaitFor(t, ctx, "the placeholder's answer", said)
			if got, want := eval[string](t, ctx, said), shippedTexts(t, "en")["signal"]; got != want {
				t.Errorf("the placeholder says %q, want %q", got, want)
			}
			if !eval[bool](t, ctx, `document.activeElement.matches("[data-consentry-allow]") && document.querySelector("[data-consent-placeholder]").checkVisibility()`) {
				t.Errorf("focus on %s, or the placeholder hidden, after allowing in vain", eval[string](t, ctx, focused))
			}
			if s = state(t, ctx); s.Iframe != "" || len(s.Ran) != 0 {
				t.Errorf("after allowing in the placeholder: %+v", s)
			}
			if got := b.decisions(t); len(got) != 3 || got[2] != "custom "+tc.signal+" necessary" {
				t.Fatalf("ledger: %v", got)
			}
			b.noPageviews(t, ctx, "nothing may be tracked")
		})
	}
}

// On a phone and on a wide screen, the signal note's text keeps a readable measure in
// every language (the settings button goes below it rather than squeeze it into a narrow
// column), and its dismissal stays in its top corner, clear of the settings button.
func TestBrowserSignalNoteOnAPhone(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	for _, lang := range banner.Shipped {
		ctx := browsertest.New(t, browsertest.Options{GPC: true}) // the note shows once, before the refusal is kept
		viewport(t, ctx, 390, 844)
		b.open(t, ctx, "/?lang="+lang)
		browsertest.WaitFor(t, ctx, "the signal note in "+lang, `(n => n && n.lang == "`+lang+`")(document.querySelector(".cst-n"))`)
		for _, width := range []int64{390, 1280} {
			viewport(t, ctx, width, 844)
			got := eval[map[string]float64](t, ctx, `(n => { const r = (s) => n.querySelector(s).getBoundingClientRect(), box = n.getBoundingClientRect(),
				text = r("p"), set = r("[data-a=custom]"), x = r("[data-a=dismiss]");
				return {text: text.width, note: box.width, top: x.top - box.top, end: box.right - x.right,
					overlap: +(x.left < set.right && set.left < x.right && x.top < set.bottom && set.top < x.bottom || x.left < text.right && x.top < text.bottom)}; })(document.querySelector(".cst-n"))`)
			if got["text"] < 220 { // 15em of its 15 px type: about 35 Latin letters, or 15 Chinese characters
				t.Errorf("%s, %d px: the note's text is %.0f px wide in a note of %.0f px", lang, width, got["text"], got["note"])
			}
			if got["top"] > 12 || got["end"] > 12 || got["overlap"] != 0 {
				t.Errorf("%s, %d px: the dismissal is not clear in the note's top corner: %v", lang, width, got)
			}
		}
	}
}

func TestBrowserPolicyBumpShowsTheBannerAgain(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	ctx := browsertest.New(t, browsertest.Options{})
	b.open(t, ctx, "/")
	click(t, ctx, `.cst button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the blocked scripts", `window.demoRan.length == 3`)
	b.open(t, ctx, "/")
	if s := state(t, ctx); s.Banner {
		t.Fatal("the banner must not come back under the same policy")
	}
	// An expired receipt (signed, but past its exp) is as good as none.
	valid := browsertest.Cookie(t, ctx, b.page, "consentry").Value
	expired := consenttest.Sign(t, testKeys, "consentry-test", b.consentSite(t, "demo"), consent.Decision{ID: consent.NewID(), ConsentID: consent.NewID(),
		Site: "demo", PolicyVersion: "p1", Granted: 15, Method: consent.MethodAcceptAll, Signal: consent.SignalNone,
		DecidedAt: time.Now().Add(-48 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)})
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.cookie = "consentry=`+expired+`; path=/"`))
	b.open(t, ctx, "/")
	if s := state(t, ctx); !s.Banner || len(s.Ran) != 0 {
		t.Fatalf("with an expired receipt the banner reappears and nothing runs: %+v", s)
	}
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.cookie = "consentry=`+valid+`; path=/"`))
	b.open(t, ctx, "/")
	if s := state(t, ctx); s.Banner {
		t.Fatal("the valid receipt again: no banner")
	}
	bumped := newEnvWith(t, b.conn, testConfig(), envOptions{sites: browserSites(b.page, "p2", browserEnvOptions{})})
	b.demo.SetConsentURL(bumped.listen(t))
	b.open(t, ctx, "/")
	if s := state(t, ctx); !s.Banner || len(s.Ran) != 0 || s.ConsentAPI != nil {
		t.Fatalf("after a policy version bump the banner reappears and nothing runs: %+v", s)
	}
}

// focused describes the focused element: its data-a action, its toggle index, its first class, or its tag.
const focused = `(e => e.dataset.a || (e.dataset.i ? "toggle" + e.dataset.i : e.classList[0] || e.tagName))(document.activeElement)`

func press(t *testing.T, ctx context.Context, key string, mods ...chromedp.Modifier) string {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.KeyEvent(key, chromedp.KeyModifiers(mods...)))
	return eval[string](t, ctx, focused)
}

// On a slow device the banner's focus fallback (a frame, then a task, after it shows) may
// come after a visitor has already moved focus: a keyboard user tabbing into the banner,
// or anyone clicking into the page (a search field, a placeholder's button). It must
// leave them where they are. The device is made slow by delaying every frame callback.
func TestBrowserQuickKeyboardUserKeepsTheirPlace(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	for _, into := range []string{"the banner", "the page"} {
		ctx := browsertest.New(t, browsertest.Options{Init: `const raf = requestAnimationFrame;
			window.requestAnimationFrame = (f) => raf(() => setTimeout(f, 1000))`})
		b.open(t, ctx, "/")
		browsertest.WaitFor(t, ctx, "focus in the banner", `document.activeElement.matches(".cst")`)
		want := "accept"
		if into == "the page" {
			want = "spa"
			click(t, ctx, "#spa")
		} else {
			press(t, ctx, kb.Tab)
			press(t, ctx, kb.Tab)
		}
		if got := eval[string](t, ctx, `document.activeElement.id || `+focused); got != want {
			t.Fatalf("%s: focus is on %s, want %s", into, got, want)
		}
		browsertest.WaitFor(t, ctx, "the fallback's time to pass", `performance.now() > 3000`)
		if got := eval[string](t, ctx, `document.activeElement.id || `+focused); got != want {
			t.Errorf("%s: the banner took focus from %q to %q", into, want, got)
		}
	}
}

// tabTo presses Tab until the focused element is want, and fails after max presses.
func tabTo(t *testing.T, ctx context.Context, want string, max int) {
	t.Helper()
	var seen []string
	for range max {
		got := press(t, ctx, kb.Tab)
		if got == want {
			return
		}
		seen = append(seen, got)
	}
	t.Fatalf("Tab never reached %s: %v", want, seen)
}

func TestBrowserKeyboardOnly(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	ctx := browsertest.New(t, browsertest.Options{})
	b.open(t, ctx, "/")
	// Focus moves in right after the banner's first paint.
	browsertest.WaitFor(t, ctx, "focus in the banner", `document.activeElement.matches(".cst")`)
	var order []string
	for range 4 {
		order = append(order, press(t, ctx, kb.Tab))
	}
	if strings.Join(order, " ") != "A accept reject custom" {
		t.Fatalf("first layer tab order: %v", order)
	}
	if outline := eval[string](t, ctx, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		t.Error("the focused button has no visible focus indicator")
	}
	if got := press(t, ctx, kb.Enter); got != "cst-p" {
		t.Fatalf("Enter on Customize must move focus into the second layer, is on %s", got)
	}
	// Focus is trapped: 30 Tabs and 5 Shift+Tabs never leave the second layer.
	for i := range 35 {
		var mods []chromedp.Modifier
		if i >= 30 {
			mods = []chromedp.Modifier{chromedp.ModifierShift}
		}
		press(t, ctx, kb.Tab, mods...)
		if !eval[bool](t, ctx, `!!document.activeElement.closest(".cst-p")`) {
			t.Fatalf("focus left the second layer after %d presses: %s", i+1, eval[string](t, ctx, focused))
		}
	}
	if got := press(t, ctx, kb.Escape); got != "cst" || eval[bool](t, ctx, `!!document.querySelector(".cst-m")`) {
		t.Fatalf("Escape must close the second layer and return focus to the banner, focus on %s", got)
	}
	tabTo(t, ctx, "custom", 5)
	press(t, ctx, kb.Enter)
	tabTo(t, ctx, "toggle2", 8)
	press(t, ctx, " ")
	if !eval[bool](t, ctx, `document.activeElement.checked`) {
		t.Fatal("Space must switch the analytics toggle on")
	}
	tabTo(t, ctx, "save", 12)
	press(t, ctx, kb.Enter)
	browsertest.WaitFor(t, ctx, "the analytics script", `window.demoRan.includes("analytics.js")`)
	if got := b.decisions(t); len(got) != 1 || got[0] != "custom none necessary,analytics" {
		t.Fatalf("ledger: %v", got)
	}
}

// nodeModule reads a file of an npm package the browser tests use (scripts/browser); it
// skips the test without them, unless the browser tests are required.
func nodeModule(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile("../scripts/browser/node_modules/" + path)
	if err != nil {
		if os.Getenv("CONSENTRY_TEST_BROWSER") == "1" {
			t.Fatalf("%v (npm --prefix scripts/browser install)", err)
		}
		t.Skipf("needs npm --prefix scripts/browser install (%v)", err)
	}
	return data
}

// axeResult is what axe-core found on a page: the ids of the rules that passed, and each
// violation with the nodes it names.
type axeResult struct {
	Violations []string `json:"violations"`
	Passes     []string `json:"passes"`
}

// runAxe runs axe-core (already evaluated in the page) on what context names (a JS
// expression: document, or the banner's layers), with the target-size rule (WCAG 2.2 AA,
// 2.5.8: 24 by 24 CSS pixels), which axe leaves off by default.
func runAxe(t *testing.T, ctx context.Context, context string) axeResult {
	t.Helper()
	return eval[axeResult](t, ctx, `axe.run(`+context+`, {rules: {"target-size": {enabled: true}}}).then(r => ({passes: r.passes.map(p => p.id), violations: r.violations.map(v =>
		v.id + " (" + v.impact + "): " + v.nodes.map(n => n.target.join(" ") + " " + n.failureSummary).join("; "))}))`)
}

// In forced colours (Windows' contrast themes) the banner keeps its shape: backgrounds and
// shadows go, so each layer and each button (the settings button too) must still be
// outlined by a border, and focus by an outline, in the user's colours.
func TestBrowserForcedColours(t *testing.T) {
	dir := screenshotDir()
	b := newBrowserEnv(t, browserEnvOptions{corner: true})
	ctx := browsertest.New(t, browsertest.Options{ForcedColors: true})
	b.open(t, ctx, "/")
	if !eval[bool](t, ctx, `matchMedia("(forced-colors: active)").matches`) {
		t.Fatal("forced colours emulation failed")
	}
	// Each box's border: its style and width, and whether its colour differs from what
	// is behind it (the box's own background, the page's for a layer).
	const outlined = `[...document.querySelectorAll(SEL)].map(e => (s => [e.className || e.dataset.a || e.tagName,
		s.borderTopStyle != "none" && parseFloat(s.borderTopWidth) >= 1 && s.borderTopColor != s.backgroundColor &&
		s.borderTopColor != getComputedStyle(document.body).backgroundColor].join(" "))(getComputedStyle(e)))`
	check := func(layer, sel string) {
		t.Helper()
		for _, got := range eval[[]string](t, ctx, strings.Replace(outlined, "SEL", "`"+sel+"`", 1)) {
			if !strings.HasSuffix(got, " true") {
				t.Errorf("%s: %s has no border that shows in forced colours", layer, strings.TrimSuffix(got, " false"))
			}
		}
		// The ring on the element focused by keyboard.
		press(t, ctx, kb.Tab)
		ring := eval[string](t, ctx, `(e => (s => [e.dataset.a || e.tagName, s.outlineStyle, parseFloat(s.outlineWidth) >= 2 && s.outlineColor != getComputedStyle(document.body).backgroundColor].join(" "))(getComputedStyle(e)))(document.activeElement)`)
		if !strings.HasSuffix(ring, " solid true") {
			t.Errorf("%s: the focus ring in forced colours: %s", layer, ring)
		}
		browsertest.Screenshot(t, ctx, filepath.Join(dir, "banner-"+layer+"-forced-colours.png"))
	}
	check("first-layer", ".cst, .cst button")
	click(t, ctx, `.cst button[data-a="custom"]`)
	browsertest.Do(t, ctx, openVendors)
	check("second-layer", ".cst-p, .cst-p button")
	// The settings button, once the visitor has chosen: the control after the page's last
	// (the cookie declaration's button).
	click(t, ctx, `.cst-p button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the settings button", `document.querySelector(".cst-f")`)
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("[data-consentry-declaration] button").focus()`))
	check("settings-button", "button.cst-f")
}

// equalChoices fails unless a layer's three choices (accept, reject, and customize or
// save) look alike: colours, font, border, padding, height, and width to 10 pixels.
func equalChoices(t *testing.T, ctx context.Context, what, layer string) {
	t.Helper()
	looks := eval[[]string](t, ctx, `[...document.querySelectorAll("`+layer+` .cst-b button")].map(b => (s =>
		[s.backgroundColor, s.color, s.fontSize, s.fontWeight, s.borderTopWidth, s.borderTopColor, s.paddingTop, Math.round(b.getBoundingClientRect().height), Math.round(b.getBoundingClientRect().width / 10)].join(" "))(getComputedStyle(b)))`)
	if len(looks) != 3 || looks[0] != looks[1] || looks[1] != looks[2] {
		t.Errorf("%s, %s: the three choices must have equal visual weight: %q", what, layer, looks)
	}
}

// screenshotDir is where browser tests save screenshots: var/screenshots, or
// $CONSENTRY_SCREENSHOTS.
func screenshotDir() string {
	if dir := os.Getenv("CONSENTRY_SCREENSHOTS"); dir != "" {
		return dir
	}
	return "../var/screenshots"
}

// axe-core's rules on both layers and the signal note, light and dark; each state is
// also saved as a screenshot (screenshotDir).
func TestBrowserAccessibilityAndScreenshots(t *testing.T) {
	axe := nodeModule(t, "axe-core/axe.min.js")
	dir := screenshotDir()
	b := newBrowserEnv(t, browserEnvOptions{})
	for _, theme := range []string{"light", "dark"} {
		for _, opts := range []browsertest.Options{{Dark: theme == "dark"}, {Dark: theme == "dark", GPC: true}} {
			ctx := browsertest.New(t, opts)
			b.open(t, ctx, "/")
			browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](string(axe)))
			check := func(layer string) {
				t.Helper()
				if opts.Dark != eval[bool](t, ctx, `matchMedia("(prefers-color-scheme: dark)").matches`) {
					t.Fatal("colour scheme emulation failed")
				}
				res := runAxe(t, ctx, "document")
				for _, v := range res.Violations {
					t.Errorf("%s, %s: %s", theme, layer, v)
				}
				// The rules that matter for each layer must have run and passed, not been skipped.
				rules := map[string][]string{
					"first-layer":  {"color-contrast", "aria-dialog-name", "button-name", "link-name", "region", "target-size"},
					"second-layer": {"color-contrast", "aria-dialog-name", "button-name", "link-name", "label", "aria-allowed-role", "nested-interactive", "target-size"},
					"signal-note":  {"color-contrast", "button-name", "region", "target-size"},
				}
				rules["second-layer-with-record"] = rules["second-layer"]
				for _, rule := range rules[layer] {
					if !slices.Contains(res.Passes, rule) {
						t.Errorf("%s, %s: axe rule %s did not pass (passes: %v)", theme, layer, rule, res.Passes)
					}
				}
				browsertest.Screenshot(t, ctx, filepath.Join(dir, fmt.Sprintf("banner-%s-%s.png", layer, theme)))
			}
			if opts.GPC {
				browsertest.WaitFor(t, ctx, "the signal note", `document.querySelector(".cst-n")`)
				check("signal-note")
				continue
			}
			check("first-layer")
			// Refusing is as easy as accepting: the three choices of each layer look the same.
			equal := func(layer string) {
				t.Helper()
				equalChoices(t, ctx, theme, layer)
			}
			equal(".cst")
			click(t, ctx, `.cst button[data-a="custom"]`)
			browsertest.Do(t, ctx, openVendors)
			check("second-layer")
			equal(".cst-p")
			// Once the visitor has chosen, the settings also hold their record.
			click(t, ctx, `.cst-p button[data-a="accept"]`)
			browsertest.WaitFor(t, ctx, "the choice", `Consentry.get()`)
			click(t, ctx, "button[data-consentry-open]")
			browsertest.Do(t, ctx, openVendors)
			check("second-layer-with-record")
		}
	}
	abs, _ := filepath.Abs(dir)
	t.Logf("screenshots in %s", abs)
}

// pageThemes are stylesheets that sites put on the pages the banner lands on, each styling
// bare elements (buttons, headings, paragraphs, links, checkboxes, details) its own way:
// three from npm (Tailwind's preflight unlayered, as Tailwind 3 sites serve it), and the
// habits of many a hand-made theme.
var pageThemes = map[string]string{
	"tailwind":  "npm:tailwindcss/preflight.css",
	"bootstrap": "npm:bootstrap/dist/css/bootstrap.min.css",
	"pico":      "npm:@picocss/pico/css/pico.classless.min.css",
	"habits": `html { font-size: 62.5% } /* 1rem = 10px */
body { font-size: 1.6rem; letter-spacing: .03em; word-spacing: .1em; color-scheme: dark }
*:focus { outline: none }
a { color: inherit; text-decoration: none }
p { color: #8a8a8a; font-size: 1.8rem }
h2 { font: 300 3.2rem/1 Georgia, serif; text-transform: uppercase }
button { text-transform: uppercase; border-radius: 0; box-shadow: none }
button:hover, button:focus { background: #e91e63; color: #fff }
div { border-radius: 0 }
li::before { content: "\2192  " }
summary::after { content: " +" }`,
}

// themed serves the demo page with ?theme=NAME's stylesheet from themes linked at the end
// of its body, after the banner's own styles, as a page's last word on how its elements look.
func themed(themes map[string]string) func(http.Handler) http.Handler {
	return func(pages http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if name, ok := strings.CutPrefix(r.URL.Path, "/theme/"); ok {
				css, ok := themes[name]
				if path, npm := strings.CutPrefix(css, "npm:"); npm {
					http.ServeFile(w, r, "../scripts/browser/node_modules/"+path)
				} else if ok {
					w.Header().Set("Content-Type", "text/css")
					_, _ = io.WriteString(w, css)
				} else {
					http.NotFound(w, r)
				}
				return
			}
			rec := served(pages, r)
			body := rec.Body.String()
			if theme := r.URL.Query().Get("theme"); theme != "" {
				body = strings.Replace(body, "</body>", `<link rel="stylesheet" href="/theme/`+url.PathEscape(theme)+`"></body>`, 1)
			}
			relay(w, rec, body)
		})
	}
}

// bannerLooks is how every element of the banner's layers on the page looks: the computed
// styles that a page's stylesheet could change, its box, what it shows before and after
// itself (a page's icons), and each control's focus ring.
const bannerLooks = `(async () => {
	await Promise.all(document.getAnimations().map(a => a.finished)); // the slide in
	const props = ["display", "position", "box-sizing", "margin", "padding", "border-width", "border-style", "border-color", "border-radius",
		"background-color", "background-image", "color", "font-family", "font-size", "font-weight", "font-style", "line-height",
		"letter-spacing", "text-transform", "text-decoration-line", "text-align", "opacity", "visibility", "box-shadow",
		"appearance", "list-style-type", "accent-color", "width", "height"];
	const box = (e) => (r => [r.x, r.y, r.width, r.height].map(Math.round).join(","))(e.getBoundingClientRect());
	const name = (e) => e.tagName.toLowerCase() + (e.className ? "." + e.className : "") + (e.dataset.a ? "[" + e.dataset.a + "]" : "");
	const looks = {};
	let i = 0;
	for (const root of document.querySelectorAll(".cst, .cst-m, .cst-n"))
		for (const e of [root, ...root.querySelectorAll("*")]) {
			const s = getComputedStyle(e);
			const pseudo = (p) => (s => p + ": " + s.content + " " + s.display + " " + s.backgroundImage)(getComputedStyle(e, p));
			looks[i++ + " " + name(e)] = props.map(p => p + ": " + s.getPropertyValue(p)).concat("box: " + box(e), pseudo("::before"), pseudo("::after"));
		}
	for (const e of document.querySelectorAll(":is(.cst, .cst-m, .cst-n) :is(a, button, input, summary)")) {
		e.focus();
		const s = getComputedStyle(e);
		looks[i++ + " focused " + name(e)] = ["outline-style", "outline-width", "outline-color", "outline-offset", "box-shadow"].map(p => p + ": " + s.getPropertyValue(p));
	}
	return looks;
})()`

// A site's own stylesheet styles its buttons, headings, paragraphs, links and checkboxes, and
// the banner lives among them. It must look the same on every page, stylesheet or not: with
// the page's focus rings removed, greyed text or unlined links it would fail WCAG, and with
// the page's button colours its choices could lose their equal weight.
func TestBrowserPageStylesDoNotReachTheBanner(t *testing.T) {
	axe := nodeModule(t, "axe-core/axe.min.js")
	for _, css := range pageThemes {
		if path, npm := strings.CutPrefix(css, "npm:"); npm {
			nodeModule(t, path)
		}
	}
	b := newBrowserEnv(t, browserEnvOptions{wrap: themed(pageThemes)})
	// looks opens every layer in turn (the signal note in a browser with GPC) on the page
	// with a theme, runs axe on each, and says how each element looks.
	looks := func(theme string, dark bool) map[string][]string {
		all := map[string][]string{}
		for _, gpc := range []bool{false, true} {
			ctx := browsertest.New(t, browsertest.Options{Dark: dark, GPC: gpc})
			b.open(t, ctx, "/?theme="+theme)
			browsertest.WaitFor(t, ctx, "the page's styles", `[...document.styleSheets].every(s => s.cssRules)`)
			browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](string(axe)))
			layer := func(name string) {
				t.Helper()
				// The banner's layers only: a theme may fail on its own page.
				for _, v := range runAxe(t, ctx, `{include: [".cst, .cst-m, .cst-n"]}`).Violations {
					t.Errorf("theme %q, dark %v, %s: %s", theme, dark, name, v)
				}
				maps.Copy(all, maps.Collect(func(yield func(string, []string) bool) {
					for k, v := range eval[map[string][]string](t, ctx, bannerLooks) {
						if !yield(name+" "+k, v) {
							return
						}
					}
				}))
			}
			if gpc {
				browsertest.WaitFor(t, ctx, "the signal note", `document.querySelector(".cst-n")`)
				layer("signal note")
				continue
			}
			layer("first layer")
			click(t, ctx, `.cst button[data-a="custom"]`)
			browsertest.Do(t, ctx, openVendors)
			layer("second layer")
		}
		return all
	}
	for _, dark := range []bool{false, true} {
		want := looks("", dark)
		for theme := range pageThemes {
			got := looks(theme, dark)
			for _, k := range slices.Sorted(maps.Keys(want)) {
				if diff := slices.DeleteFunc(slices.Clone(got[k]), func(p string) bool { return slices.Contains(want[k], p) }); len(diff) > 0 {
					t.Errorf("theme %q, dark %v: %s looks different: %s", theme, dark, k, strings.Join(diff, "; "))
				}
			}
			if len(got) != len(want) {
				t.Errorf("theme %q, dark %v: %d elements, want %d", theme, dark, len(got), len(want))
			}
		}
	}
}

// shippedTexts are the texts a shipped language gives the banner (banner/i18n).
func shippedTexts(t *testing.T, lang string) map[string]string {
	t.Helper()
	data, err := os.ReadFile("../banner/i18n/" + lang + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var texts map[string]string
	if err := json.Unmarshal(data, &texts); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return texts
}

// openVendors opens every vendor list of the second layer.
var openVendors = chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".cst-p details").forEach(d => d.open = true)`)

// Every shipped language renders from the page's <html lang>, with no blank or missing text.
func TestBrowserEveryShippedLanguage(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	ctx := browsertest.New(t, browsertest.Options{})
	for _, lang := range banner.Shipped {
		want := shippedTexts(t, lang)
		b.open(t, ctx, "/?lang="+lang)
		browsertest.WaitFor(t, ctx, "the banner in "+lang, `document.querySelector(".cst")`)
		got := eval[map[string]string](t, ctx, `(b => ({lang: b.lang, title: b.querySelector("h2").textContent,
			accept: b.querySelector("[data-a=accept]").textContent, reject: b.querySelector("[data-a=reject]").textContent,
			customize: b.querySelector("[data-a=custom]").textContent, policy: b.querySelector("a").textContent}))(document.querySelector(".cst"))`)
		for _, k := range []string{"title", "accept", "reject", "customize", "policy"} {
			if got[k] != want[k] {
				t.Errorf("%s: %s is %q, want %q", lang, k, got[k], want[k])
			}
		}
		if got["lang"] != lang {
			t.Errorf("%s: the banner says lang=%q", lang, got["lang"])
		}
		// Refusing is as easy as accepting in every language, however long its words, on
		// a wide screen and on a phone's.
		for _, width := range []int64{1280, 390} {
			viewport(t, ctx, width, 844)
			equalChoices(t, ctx, fmt.Sprintf("%s, %d px", lang, width), ".cst")
		}
		click(t, ctx, `.cst button[data-a="custom"]`)
		for _, width := range []int64{390, 1280} {
			viewport(t, ctx, width, 844)
			equalChoices(t, ctx, fmt.Sprintf("%s, %d px", lang, width), ".cst-p")
		}
		texts := eval[[]string](t, ctx, `[...document.querySelectorAll(".cst-p h2, .cst-p p, .cst-p label, .cst-p summary, .cst-p button")].map(e => e.textContent.trim() || e.getAttribute("aria-label") || "")`)
		for i, s := range texts {
			if s == "" || strings.Contains(s, "undefined") {
				t.Errorf("%s: second layer text %d is %q", lang, i, s)
			}
		}
		for _, cat := range []string{"necessary", "preferences", "analytics", "marketing"} {
			if !slices.ContainsFunc(texts, func(s string) bool { return strings.HasPrefix(s, want["cat."+cat+".name"]) }) {
				t.Errorf("%s: no %q toggle in %v", lang, want["cat."+cat+".name"], texts)
			}
		}
	}
}

// At 400% zoom (a 1280x1024 screen shows 320x256 CSS pixels) every language's banner still
// fits on screen, no control covers its text, and every control of both layers can be
// reached by keyboard and seen (WCAG 2.2, 1.4.10 Reflow): a fixed box taller than the
// viewport would be cut off where no scrolling reaches. The same holds with a reader's
// wider text spacing (1.4.12).
func TestBrowserBannerReflowsAtHighZoom(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{wrap: themed(textSpacing)})
	ctx := browsertest.New(t, browsertest.Options{})
	viewport(t, ctx, 320, 256)
	// onScreen is whether an element (the focused one by default) is wholly in the viewport
	// and inside the dialog that holds it, after the browser scrolled it into view.
	const onScreen = `((e = document.activeElement) => {
		const r = e.getBoundingClientRect(), box = e.closest(".cst, .cst-p").getBoundingClientRect();
		return r.top >= Math.max(0, box.top) && r.bottom <= Math.min(innerHeight, box.bottom) && r.left >= 0 && r.right <= innerWidth;
	})`
	// covered lists the shown text of a layer that lies under a control it is not part of
	// (the boxes of each line of an inline one).
	const covered = `((layer) => {
		const controls = [...layer.querySelectorAll("a, button, input, summary")].filter(c => c.checkVisibility()), out = [];
		const texts = document.createTreeWalker(layer, NodeFilter.SHOW_TEXT);
		for (let n; (n = texts.nextNode()); ) {
			if (!n.parentElement.checkVisibility()) continue;
			const r = document.createRange();
			r.selectNodeContents(n);
			for (const q of r.getClientRects())
				for (const c of controls)
					for (const b of c.getClientRects())
						if (!c.contains(n) && q.right > b.left && q.left < b.right && q.bottom > b.top && q.top < b.bottom)
							out.push(JSON.stringify(n.textContent.trim()) + " under " + (c.dataset.a || c.tagName));
		}
		return out;
	})`
	// Each language as it comes, then with the reader's text spacing (WCAG 1.4.12).
	for _, theme := range []string{"", "spacing"} {
		for _, lang := range banner.Shipped {
			page := lang + " " + theme
			b.open(t, ctx, "/?lang="+lang+"&theme="+theme)
			browsertest.WaitFor(t, ctx, "focus in the banner", `document.activeElement.matches(".cst")`)
			if !eval[bool](t, ctx, onScreen+`(document.querySelector(".cst"))`) {
				t.Errorf("%s: the first layer does not fit on screen: %v", page, eval[any](t, ctx, `document.querySelector(".cst").getBoundingClientRect().toJSON()`))
			}
			for _, want := range []string{"A", "accept", "reject", "custom"} {
				if got := press(t, ctx, kb.Tab); got != want || !eval[bool](t, ctx, onScreen+`()`) {
					t.Errorf("%s, first layer: focus on %s (want %s), on screen: %v", page, got, want, eval[bool](t, ctx, onScreen+`()`))
				}
			}
			press(t, ctx, kb.Enter)
			browsertest.Do(t, ctx, openVendors)
			for _, layer := range []string{".cst", ".cst-p"} {
				if got := eval[[]string](t, ctx, covered+`(document.querySelector("`+layer+`"))`); len(got) > 0 {
					t.Errorf("%s, %s: text covered by a control: %q", page, layer, got)
				}
			}
			n := eval[int](t, ctx, `document.querySelectorAll(".cst-p a, .cst-p button, .cst-p input:not([disabled]), .cst-p summary").length`)
			for i := range n {
				if got := press(t, ctx, kb.Tab); !eval[bool](t, ctx, onScreen+`()`) {
					t.Errorf("%s, second layer: control %d (%s) is focused out of sight", page, i, got)
				}
			}
		}
	}
	if got := eval[string](t, ctx, `getComputedStyle(document.querySelector(".cst-p p")).letterSpacing`); got == "normal" {
		t.Fatal("the reader's text spacing did not apply")
	}
}

// textSpacing is the test of WCAG 1.4.12 Text Spacing as a reader's style sheet: lines,
// letters, words and paragraphs spaced wider, and nothing may be lost.
var textSpacing = map[string]string{"spacing": `* { line-height: 1.5 !important; letter-spacing: 0.12em !important; word-spacing: 0.16em !important }
p { margin-bottom: 2em !important }`}

// A double click on a choice (a common habit) records one decision: a second row would
// hold a consent id the visitor never receives, whose record they could then neither see
// nor erase.
func TestBrowserDoubleClickRecordsOneDecision(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	ctx := browsertest.New(t, browsertest.Options{Init: `const f = fetch;
		window.asked = [];
		window.fetch = (u, o) => (asked.push((o && o.method || "GET") + " " + new URL(u).pathname), f(u, o))`})
	b.open(t, ctx, "/")
	// As a mouse does it: two presses and releases, the second with a click count of 2
	// (chromedp.DoubleClick sends only that second one, one click event).
	doubleClick := func(sel string) {
		t.Helper()
		at := eval[[]float64](t, ctx, `(r => [r.x + r.width / 2, r.y + r.height / 2])(document.querySelector('`+sel+`').getBoundingClientRect())`)
		browsertest.Do(t, ctx, chromedp.MouseClickXY(at[0], at[1]), chromedp.MouseClickXY(at[0], at[1], chromedp.ClickCount(2)))
	}
	requests := func(what string) int {
		return eval[int](t, ctx, `new Promise(r => setTimeout(() => r(asked.filter(a => a == "`+what+`").length), 500))`)
	}
	doubleClick(`.cst button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the decision", `Consentry.has("marketing")`)
	if n := requests("POST /v1/consent"); n != 1 {
		t.Errorf("%d requests to record the decision", n)
	}
	if got := b.decisions(t); len(got) != 1 {
		t.Errorf("ledger after a double click: %v", got)
	}
	// Erasure is confirmed by another press: a double click on it only warns. The press
	// after that asks once, and says nothing failed.
	click(t, ctx, "button[data-consentry-open]")
	doubleClick(`.cst-p button[data-a="erase"]`)
	if n := requests("DELETE /v1/consent/me"); n != 0 || !eval[bool](t, ctx, `Consentry.get() !== null && !!document.querySelector(".cst-p .cst-e")`) {
		t.Errorf("a double click on erase: %d requests to erase, want none and the warning", n)
	}
	click(t, ctx, `.cst-p button[data-a="erase"]`)
	browsertest.WaitFor(t, ctx, "the first layer, asked again", `document.querySelector(".cst") && !document.querySelector(".cst-p")`)
	if n := requests("DELETE /v1/consent/me"); n != 1 {
		t.Errorf("%d requests to erase the record", n)
	}
	if eval[bool](t, ctx, `!!document.querySelector(".cst-e")`) {
		t.Errorf("an error shown after a double click on erase")
	}
}

// The first layer, the signal note and the settings button are not modal: a keyboard user
// may go on through the page behind them. No control they tab to may be hidden behind
// them, not even in part (WCAG 2.2, 2.4.11 Focus Not Obscured, and 2.4.12 at AAA): the page
// scrolls it into view above, its last lines too.
func TestBrowserFocusNotObscuredByTheBanner(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{corner: true, wrap: longPage})
	bar := newBrowserEnv(t, browserEnvOptions{layout: "bar", wrap: longPage})
	corner := newBrowserEnv(t, browserEnvOptions{layout: "corner", wrap: longPage})
	for _, tc := range []struct {
		name  string
		b     *browserEnv
		opts  browsertest.Options
		shown string // the first layer, the note, or the settings button
	}{{"first layer", b, browsertest.Options{}, ".cst"}, {"first layer, bar", bar, browsertest.Options{}, ".cst"},
		{"first layer, corner", corner, browsertest.Options{}, ".cst"},
		{"signal note", b, browsertest.Options{DNT: true}, ".cst-n"}, {"settings button", b, browsertest.Options{}, ".cst-f"}} {
		b := tc.b
		t.Run(tc.name, func(t *testing.T) {
			ctx := browsertest.New(t, tc.opts)
			if tc.shown == ".cst-f" { // shown once the visitor has chosen
				b.open(t, ctx, "/")
				click(t, ctx, `.cst button[data-a="reject"]`)
				browsertest.WaitFor(t, ctx, "the choice", `Consentry.get()`)
			}
			focusNotObscured(t, b, ctx, tc.shown)
		})
	}
}

// longPage serves the demo page at /long too, with 60 more links in it.
func longPage(pages http.Handler) http.Handler {
	links := strings.Repeat(`<p><a href="#">a link in a long page</a></p>`, 60)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/long" {
			pages.ServeHTTP(w, r)
			return
		}
		rec := served(pages, r)
		relay(w, rec, strings.Replace(rec.Body.String(), "</main>", links+"</main>", 1))
	})
}

func focusNotObscured(t *testing.T, b *browserEnv, ctx context.Context, shown string) {
	// A phone's viewport, where the banner spans the width.
	viewport(t, ctx, 390, 844)
	b.open(t, ctx, "/long")
	browsertest.WaitFor(t, ctx, "the banner", `document.querySelector("`+shown+`") && performance.now() > 500`)
	// Going through the settings and closing them puts no focus in the page: it is left as
	// it was.
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector(":is(`+shown+`, `+shown+` *)[data-a=custom]").click()`))
	browsertest.WaitFor(t, ctx, "the second layer", `document.activeElement.matches(".cst-p")`)
	press(t, ctx, kb.Tab)
	press(t, ctx, kb.Tab)
	press(t, ctx, kb.Escape)
	if eval[bool](t, ctx, `new Promise(r => setTimeout(() => r(!!document.querySelector(".cst-u")), 100))`) {
		t.Error("the settings, opened and closed, made room in the page as if focus had been there")
	}
	n := eval[int](t, ctx, `document.querySelectorAll("main a").length`)
	var focused, hidden int
	for range n + 12 {
		press(t, ctx, kb.Tab)
		// The banner may scroll a focused iframe into view a task after the focus moved.
		where, err := browsertest.Poll[string](ctx, `(e => {
			if (!e.closest("main")) return "elsewhere";
			const r = e.getBoundingClientRect(), b = document.querySelector("`+shown+`").getBoundingClientRect();
			return r.bottom > b.top && r.top < b.bottom && r.right > b.left && r.left < b.right ? "" : "seen";
		})(document.activeElement)`, 10*time.Millisecond, 500*time.Millisecond)
		if err != nil && !strings.Contains(err.Error(), "not true within") {
			t.Fatal(err)
		}
		switch where {
		case "":
			hidden++
			focused++
		case "seen":
			focused++
		}
	}
	if focused < n {
		t.Fatalf("Tab reached %d of the page's %d links", focused, n)
	}
	if hidden > 0 {
		t.Errorf("%d of the page's %d controls were focused behind the banner, wholly or in part", hidden, focused)
	}
}

// A visitor with a privacy signal who opens two pages of the site at once (links opened in
// new tabs) gets one recorded refusal and one consent id, not one per tab: a second would
// be a record they never hold the receipt for, so could neither see nor erase.
func TestBrowserTabsOpenedTogetherRecordOneRefusal(t *testing.T) {
	var mu sync.Mutex
	arrived, together := 0, make(chan struct{})
	b := newBrowserEnv(t, browserEnvOptions{wrap: func(pages http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/a" || r.URL.Path == "/b" {
				// Both pages are answered once both are asked for, so that their banners
				// start together.
				mu.Lock()
				if arrived++; arrived == 2 {
					close(together)
				}
				mu.Unlock()
				select {
				case <-together:
				case <-r.Context().Done():
					return
				}
			}
			pages.ServeHTTP(w, r)
		})
	}})
	// Chromium's Do Not Track setting holds in every tab (the GPC option is set per tab).
	first := browsertest.New(t, browsertest.Options{DNT: true})
	second := browsertest.Tab(t, first)
	for tab, path := range map[context.Context]string{first: "/a", second: "/b"} {
		browsertest.Do(t, tab, chromedp.Evaluate[chromedp.Void](`location.href = "`+b.page+path+`"`))
	}
	for _, tab := range []context.Context{first, second} {
		browsertest.WaitFor(t, tab, "the signal note", `document.querySelector(".cst-n") && window.Consentry && Consentry.get()`)
	}
	if got := b.decisions(t); len(got) != 1 || got[0] != "reject_all dnt necessary" {
		t.Errorf("ledger: %v", got)
	}
}

// A printed page shows the page, not the banner (in any layout), its second layer or
// the signal note.
func TestBrowserBannerIsNotPrinted(t *testing.T) {
	for _, tc := range []struct {
		opts   browsertest.Options
		layout string
		parts  string // what a screen shows, the second layer open
	}{
		{browsertest.Options{}, "box", `[".cst", ".cst-m"]`},
		{browsertest.Options{}, "bar", `[".cst", ".cst-m"]`},
		{browsertest.Options{}, "corner", `[".cst", ".cst-m"]`},
		{browsertest.Options{DNT: true}, "box", `[".cst-n", ".cst-m"]`},
	} {
		b := newBrowserEnv(t, browserEnvOptions{layout: tc.layout})
		ctx := browsertest.New(t, tc.opts)
		b.open(t, ctx, "/")
		browsertest.WaitFor(t, ctx, "the first layer or the note", `document.querySelector(".cst, .cst-n")`)
		browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`Consentry.open()`))
		shown := tc.parts + `.filter(s => getComputedStyle(document.querySelector(s)).display != "none")`
		if got := eval[[]string](t, ctx, shown); len(got) != 2 {
			t.Fatalf("on screen, shown: %v of %s", got, tc.parts)
		}
		browsertest.Do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
			return err
		}))
		if got := eval[[]string](t, ctx, shown); len(got) != 0 {
			t.Errorf("printed: %v", got)
		}
	}
}

// A banner in a language written right to left (a site may add one with its own texts)
// reads right to left, its second layer's close button at the left; one written left to
// right keeps that on a right-to-left page.
func TestBrowserRightToLeftLanguage(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	ctx := browsertest.New(t, browsertest.Options{})
	for _, tc := range []struct{ lang, dir string }{{"ar", "rtl"}, {"en", "ltr"}} {
		b.open(t, ctx, "/?lang="+tc.lang)
		// The page itself right to left, as an Arabic site's would be.
		browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.documentElement.dir = "rtl"`))
		got := eval[map[string]any](t, ctx, `(b => { const t = b.querySelector("h2"), g = document.createRange(), box = b.getBoundingClientRect();
			g.selectNodeContents(t);
			const r = g.getBoundingClientRect();
			return {dir: getComputedStyle(b).direction, title: t.textContent, right: Math.round(box.right - r.right), left: Math.round(r.left - box.left)}; })(document.querySelector(".cst"))`)
		if got["dir"] != tc.dir {
			t.Errorf("%s: direction %v", tc.lang, got)
		}
		// The title's text starts at the edge its direction starts from, a padding away.
		start, end := got["left"], got["right"]
		if tc.dir == "rtl" {
			start, end = end, start
		}
		if start.(float64) > 25 || end.(float64) < 25 {
			t.Errorf("%s: the title does not start at the %s edge: %v", tc.lang, tc.dir, got)
		}
		click(t, ctx, `.cst button[data-a="custom"]`)
		x := eval[[]float64](t, ctx, `(p => [p.querySelector(".cst-x").getBoundingClientRect().x, p.getBoundingClientRect().x + p.getBoundingClientRect().width / 2])(document.querySelector(".cst-p"))`)
		if x[0] < x[1] != (tc.dir == "rtl") {
			t.Errorf("%s: the close button at x %.0f, the dialog's middle %.0f", tc.lang, x[0], x[1])
		}
	}
}

// With reload_on_withdraw, withdrawing reloads the page so that scripts that already ran
// stop; the category's cookies are gone first. Reduced motion: no animation.
func TestBrowserWithdrawalReloadsWhenConfigured(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{reload: true})
	ctx := browsertest.New(t, browsertest.Options{ReducedMotion: true})
	b.open(t, ctx, "/")
	if anim := eval[string](t, ctx, `getComputedStyle(document.querySelector(".cst")).animationName`); anim != "none" {
		t.Errorf("prefers-reduced-motion: animation %q", anim)
	}
	// A page's listener that throws stops neither the pageview the grant counts (the
	// banner's own first pageview has gone by, refused, by then) nor the reload.
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`Consentry.on("change", () => { throw new Error("a page's broken listener") })`))
	browsertest.WaitFor(t, ctx, "the banner's own first pageview to have gone by", `performance.now() > 500`)
	click(t, ctx, `.cst button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the blocked scripts", `window.demoRan.length == 3 && document.cookie.includes("_demo_ads=1")`)
	b.waitPageviews(t, "/")
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.beforeWithdrawal = true`))
	click(t, ctx, "button[data-consentry-open]")
	click(t, ctx, `.cst-p button[data-a="withdraw"]`)
	browsertest.WaitFor(t, ctx, "the reload", `!window.beforeWithdrawal && document.readyState == "complete" && window.Consentry`)
	s := state(t, ctx)
	if strings.Contains(s.Cookies, "_demo_ads") || strings.Contains(s.Cookies, "_demo_analytics") || len(s.Ran) != 0 || s.Banner {
		t.Fatalf("after withdrawal and reload: %+v", s)
	}
	if got := b.decisions(t); len(got) != 2 || !strings.HasPrefix(got[1], "withdraw ") {
		t.Fatalf("ledger: %v", got)
	}
}

// Where the site offers two variants of a language (pt-BR and pt-PT), the page's region
// picks, over the browser's: a Lisbon page shows its Portuguese to a visitor from Brazil.
// A page that names no region, or a region no variant is for, gets what the server picks;
// where the site has one variant, a page's region costs no second request.
func TestBrowserPageRegionPicksAmongVariantsOfALanguage(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	scripts := `performance.getEntriesByType("resource").filter(e => e.name.includes("/banner.js")).length`
	for _, tc := range []struct {
		browser, path, want string
		scripts             int
	}{
		{"pt-BR,pt", "/?lang=pt-PT", "pt-PT", 2},
		{"pt-BR,pt", "/?lang=pt", "pt-BR", 1},
		{"pt-BR,pt", "/?lang=pt-BR", "pt-BR", 1},
		{"pt-BR,pt", "/?lang=pt-AO", "pt-PT", 2},                   // the server's choice for Angola
		{"pt-BR,pt", "/?lang=pt-PT&banner_lang=pt-BR", "pt-BR", 1}, // data-lang over the page
		{"pt-PT,pt", "/?lang=pt-BR", "pt-BR", 2},
		{"en-US,en", "/?lang=en-GB", "en", 1}, // one English: no second request
		{"en-US,en", "/?lang=fr-CA", "fr", 2},
	} {
		t.Run(tc.browser+tc.path, func(t *testing.T) {
			ctx := browsertest.New(t, browsertest.Options{Languages: tc.browser})
			b.open(t, ctx, tc.path)
			browsertest.WaitFor(t, ctx, "the first layer", `!!document.querySelector(".cst")`)
			if got := eval[string](t, ctx, `document.querySelector(".cst").lang`); got != tc.want {
				t.Errorf("the banner is in %q, want %q", got, tc.want)
			}
			if n := eval[int](t, ctx, scripts); n != tc.scripts {
				t.Errorf("%d banner scripts loaded, want %d", n, tc.scripts)
			}
		})
	}
}

// data-lang picks the banner's language over the page's and the browser's; with
// data-cookie-domain the receipt is shared by the site's subdomains, and withdrawal
// deletes a category's cookies set on the parent domain too.
func TestBrowserScriptAttributesLangAndCookieDomain(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{host: "www.demo.test"})
	ctx := browsertest.New(t, browsertest.Options{})
	b.open(t, ctx, "/?banner_lang=de&cookie_domain=demo.test")
	browsertest.WaitFor(t, ctx, "the German banner", `(b => b && b.lang == "de")(document.querySelector(".cst"))`)
	// The German build, loaded by the page's first (English) one, sets no second default.
	if s := state(t, ctx); strings.Count(strings.Join(s.DataLayer, "\n"), `"default"`) != 1 || strings.Count(s.UET, `"default"`) != 1 {
		t.Errorf("Consent Mode defaults after the language's build loaded: %v, %s", s.DataLayer, s.UET)
	}
	click(t, ctx, `.cst button[data-a="custom"]`)
	click(t, ctx, `.cst-p input[data-i="2"]`)
	click(t, ctx, `.cst-p button[data-a="save"]`)
	browsertest.WaitFor(t, ctx, "the analytics cookie", `document.cookie.includes("_demo_analytics=1")`)
	for _, name := range []string{"consentry", "_demo_analytics"} {
		if c := browsertest.Cookie(t, ctx, b.page, name); c == nil || c.Domain != ".demo.test" {
			t.Errorf("%s must be set on .demo.test: %+v", name, c)
		}
	}
	if c := browsertest.Cookie(t, ctx, strings.Replace(b.page, "www.", "shop.", 1), "consentry"); c == nil {
		t.Error("another subdomain of the site must see the receipt")
	}
	click(t, ctx, "button[data-consentry-open]")
	click(t, ctx, `.cst-p button[data-a="withdraw"]`)
	browsertest.WaitFor(t, ctx, "the withdrawal", `Consentry.get() && !Consentry.has("analytics")`)
	if c := browsertest.Cookie(t, ctx, b.page, "_demo_analytics"); c != nil {
		t.Errorf("the analytics cookie on the parent domain must be deleted: %+v", c)
	}
	if got := b.decisions(t); strings.Join(got, "; ") != "custom none necessary,analytics; withdraw none necessary" {
		t.Fatalf("ledger: %v", got)
	}
	var lang string
	if err := b.conn.QueryRow(context.Background(), `SELECT any(lang) FROM consents FINAL WHERE site = 'demo'`).Scan(&lang); err != nil || lang != "de" {
		t.Errorf("decisions record the banner's language: %q %v", lang, err)
	}
}

// Over https, as real sites are: the receipt cookie is Secure, and everything works the same.
func TestBrowserOverHTTPS(t *testing.T) {
	b, ctx := acceptAllOn(t, browserEnvOptions{tls: true}, "/")
	if c := browsertest.Cookie(t, ctx, b.page, "consentry"); c == nil || !c.Secure || c.SameSite != "Lax" {
		t.Errorf("receipt cookie over https: %+v", c)
	}
	if s := state(t, ctx); len(s.CSP) != 0 || s.Iframe != "/static/ad.html" {
		t.Errorf("over https: %+v", s)
	}
	browsertest.WaitFor(t, ctx, "the pageview to leave", beaconsSent+" > 0")
	if pv := b.pageviews(t); len(pv) != 1 {
		t.Errorf("pageviews over https: %v", pv)
	}
	// Back again: on https the banner reads its receipt through cookieStore, which does not
	// block the page, and acts on it as with document.cookie.
	if !eval[bool](t, ctx, `isSecureContext && "cookieStore" in window`) {
		t.Fatal("this browser offers no cookieStore on the https page: the test would not cover it")
	}
	b.open(t, ctx, "/")
	browsertest.WaitFor(t, ctx, "the blocked scripts without a click", `window.demoRan.length == 3`)
	if eval[bool](t, ctx, `!!document.querySelector(".cst")`) || !eval[bool](t, ctx, `Consentry.get().analytics === true && Consentry.has("marketing")`) {
		t.Error("a returning visitor over https: no banner, the consent known")
	}
}

// firstDecisionFails answers the first request to record a decision with a 503, for a
// service embedded through the page's origin (proxied).
func firstDecisionFails(pages http.Handler) http.Handler {
	var failed atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/consentry/v1/consent" && failed.CompareAndSwap(false, true) {
			http.Error(w, "the ledger is away", http.StatusServiceUnavailable)
			return
		}
		pages.ServeHTTP(w, r)
	})
}

// The demo page enforces Trusted Types (require-trusted-types-for 'script'; trusted-types
// consentry), so every browser test runs under them. Beyond the layers and the blocked
// scripts those cover, the banner also writes the error a failed decision shows, and
// reloads itself in the page's language, through its policy.
func TestBrowserUnderTrustedTypes(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{proxied: true, wrap: firstDecisionFails})
	fr := shippedTexts(t, "fr")
	ctx := browsertest.New(t, browsertest.Options{})
	b.open(t, ctx, "/?banner_lang=fr")
	if got := eval[[]string](t, ctx, `[document.querySelector(".cst h2").textContent, String(document.querySelectorAll("script[data-cst-lang]").length)]`); got[0] != fr["title"] || got[1] != "1" {
		t.Fatalf("the banner reloaded in French: %q", got)
	}
	click(t, ctx, `.cst button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the error", `document.querySelector(".cst .cst-e")`)
	if got := eval[string](t, ctx, `document.querySelector(".cst .cst-e").textContent`); got != fr["error"] {
		t.Fatalf("error shown: %q, want %q", got, fr["error"])
	}
	click(t, ctx, `.cst button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the blocked scripts", `window.demoRan.length == 3`)
	if s := state(t, ctx); len(s.CSP) != 0 || strings.Join(s.Ran, ",") != "analytics.js,inline-analytics,ads.js" || s.Iframe != "/static/ad.html" {
		t.Fatalf("after accepting: %+v", s)
	}
	if got := b.decisions(t); len(got) != 1 || got[0] != "accept_all none necessary,preferences,analytics,marketing" {
		t.Fatalf("ledger: %v", got)
	}
	// The page does enforce them: markup from a plain string is refused.
	if got := eval[string](t, ctx, `(() => { try { document.body.insertAdjacentHTML("beforeend", "<b>x</b>"); return "written" } catch (e) { return e.name } })()`); got != "TypeError" {
		t.Fatalf("the page does not enforce Trusted Types: plain markup was %s", got)
	}
}

// A page that embeds the banner twice (a tag manager and the page's own tag, say) gets it
// once: one first layer, one decision, one pageview per view, one Consent Mode default;
// with Trusted Types enforced, also no second policy of the same name (a CSP violation).
func TestBrowserBannerEmbeddedTwiceRunsOnce(t *testing.T) {
	for _, trustedTypes := range []bool{false, true} {
		t.Run(fmt.Sprintf("trusted types %v", trustedTypes), func(t *testing.T) {
			b := newBrowserEnv(t, browserEnvOptions{wrap: func(pages http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rec := served(pages, r)
					body := rec.Body.String()
					if tag := regexp.MustCompile(`<script src="[^"]+/banner\.js"[^>]*></script>`).FindString(body); tag != "" {
						body = strings.Replace(body, "</body>", strings.Replace(tag, "<script ", "<script async ", 1)+"</body>", 1)
					}
					if csp := rec.Header().Get("Content-Security-Policy"); !trustedTypes && csp != "" {
						rec.Header().Set("Content-Security-Policy", csp[:strings.Index(csp, "; require-trusted-types-for")])
					}
					relay(w, rec, body)
				})
			}})
			ctx := browsertest.New(t, browsertest.Options{})
			b.open(t, ctx, "/shop")
			if n := eval[int](t, ctx, `document.querySelectorAll("script[src*='/banner.js']").length`); n != 2 {
				t.Fatalf("%d banner scripts on the page, want 2", n)
			}
			browsertest.WaitFor(t, ctx, "both banner scripts to have run", `performance.getEntriesByType("resource").filter(r => r.name.includes("/banner.js")).every(r => r.responseEnd > 0)`)
			if n := eval[int](t, ctx, `new Promise(r => setTimeout(() => r(document.querySelectorAll(".cst").length), 300))`); n != 1 {
				t.Fatalf("%d first layers", n)
			}
			click(t, ctx, `.cst button[data-a="accept"]`)
			browsertest.WaitFor(t, ctx, "the blocked scripts", `window.demoRan.length == 3`)
			click(t, ctx, "#spa")
			browsertest.WaitFor(t, ctx, "the beacons to leave", beaconsSent+" >= 2")
			if got := b.decisions(t); len(got) != 1 {
				t.Errorf("ledger: %v", got)
			}
			b.waitPageviews(t, "/shop /spa-page")
			if s := state(t, ctx); strings.Count(strings.Join(s.DataLayer, "\n"), `"default"`) != 1 || strings.Count(s.UET, `"default"`) != 1 || strings.Join(s.Ran, ",") != "analytics.js,inline-analytics,ads.js" || len(s.CSP) != 0 {
				t.Errorf("Consent Mode defaults, what ran, CSP violations: %+v", s)
			}
		})
	}
}

// stackingThemes are pages that make a fixed box hard to see: a body that is transformed
// or filtered (a page-transition effect, a day of mourning in grey) holds fixed boxes to
// itself rather than to the viewport, and a chat widget or cookie-wall-sized ad at the
// highest z-index, added after the banner, paints over it.
var stackingThemes = map[string]string{
	"transformed": `body { transform: translateZ(0) } main { min-height: 300vh }`,
	"filtered":    `body { filter: grayscale(1) } main { min-height: 300vh }`,
	"widget":      `body::after { content: ""; position: fixed; left: 0; right: 0; bottom: 0; height: 45vh; z-index: 2147483647; background: #c00 }`,
}

// reachable lists what of a layer a visitor cannot use as the page first shows it: the
// layer out of the viewport, or a control that, scrolled into view, is not what a click at
// its centre reaches.
const reachable = `((layer) => {
	const out = [], r = layer.getBoundingClientRect();
	if (r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) out.push("the layer is out of the viewport: " + JSON.stringify(r));
	for (const c of layer.querySelectorAll("a, button, input, summary")) {
		if (!c.checkVisibility()) continue;
		c.scrollIntoView({block: "nearest"});
		const b = c.getBoundingClientRect(), hit = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
		if (!hit || !c.contains(hit)) out.push((c.dataset.a || c.tagName) + " is under " + (hit ? hit.tagName + "." + hit.className : "nothing"));
	}
	return out;
})`

// The banner is seen and its every control can be clicked, whatever the page does to fixed
// boxes: it is shown in the browser's top layer, above and apart from the page.
func TestBrowserBannerOnTopOfThePage(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{wrap: themed(stackingThemes)})
	for _, theme := range slices.Sorted(maps.Keys(stackingThemes)) {
		for _, gpc := range []bool{false, true} {
			ctx := browsertest.New(t, browsertest.Options{GPC: gpc})
			b.open(t, ctx, "/?theme="+theme)
			check := func(layer string) {
				t.Helper()
				browsertest.WaitFor(t, ctx, layer+" in the top layer", `document.querySelector(":popover-open `+layer+`, `+layer+`:popover-open")`)
				if layer != ".cst-p" && eval[float64](t, ctx, `scrollY`) != 0 {
					t.Errorf("%s, %s: the page scrolled to %v to show it", theme, layer, eval[float64](t, ctx, `scrollY`))
				}
				if got := eval[[]string](t, ctx, reachable+`(document.querySelector("`+layer+`"))`); len(got) > 0 {
					t.Errorf("%s, %s: %q", theme, layer, got)
				}
			}
			if gpc {
				check(".cst-n")
				continue
			}
			check(".cst")
			browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('.cst button[data-a="custom"]').click()`))
			check(".cst-p")
		}
	}
}

// Withdrawing a category removes the keys it lists from the page's localStorage and
// sessionStorage (names, or prefixes ending in *), and nothing else there; and the cookies
// it and its vendors list, and no other.
func TestBrowserWithdrawalClearsTheCategorysStorage(t *testing.T) {
	b, ctx := acceptAllOn(t, browserEnvOptions{}, "/")
	const kept = `[localStorage, sessionStorage].map(s => Object.keys(s).sort().join(",")).join(" | ")`
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`for (const s of [localStorage, sessionStorage])
		for (const k of ["demo_theme", "demo_cart:1", "demo_cart:2", "demo_themes", "other"]) s.setItem(k, "x");
		for (const c of ["_gcl_au", "_fbp", "_pk_id.1.abcd", "_pk_ses", "other"]) document.cookie = c + "=1; path=/"`))
	browsertest.WaitFor(t, ctx, "the web font stylesheet", `[...document.styleSheets].some(s => (s.href || "").includes("fonts.css"))`)
	click(t, ctx, "button[data-consentry-open]")
	click(t, ctx, `.cst-p button[data-a="withdraw"]`)
	browsertest.WaitFor(t, ctx, "the withdrawal", `!Consentry.has("preferences")`)
	if got := eval[string](t, ctx, kept); got != "demo_themes,other | demo_themes,other" {
		t.Errorf("storage after withdrawal: %s", got)
	}
	cookies := eval[string](t, ctx, `document.cookie.split("; ").map(c => c.split("=")[0]).filter(n => n != "consentry").sort().join(",")`)
	if cookies != "_pk_ses,other" {
		t.Errorf("cookies after withdrawal: %s, want the vendors' gone (_pk_ses is listed by none)", cookies)
	}
	// The web font stylesheet it had unblocked goes too.
	if got := eval[string](t, ctx, `[...document.styleSheets].map(s => s.href || "").filter(h => h.includes("fonts.css")).join(" ")`); got != "" {
		t.Errorf("stylesheet still applied after withdrawal: %s", got)
	}
	if got := b.decisions(t); len(got) != 2 || !strings.HasPrefix(got[1], "withdraw ") {
		t.Errorf("ledger: %v", got)
	}
}

// requiredAndSPA serves the demo pages with a blocked inline script of the required
// category, and lets the page's own code (a single-page app's router) write markup through
// a Trusted Types policy of its own, "spa". /slow.js is a tag that takes 300 ms to load.
func requiredAndSPA(pages http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow.js" {
			time.Sleep(300 * time.Millisecond)
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = io.WriteString(w, `window.demoRan.push("slow.js")`)
			return
		}
		servedPage(w, r, pages, func(rec *httptest.ResponseRecorder, csp string) string {
			rec.Header().Set("Content-Security-Policy", strings.Replace(csp, "trusted-types consentry", "trusted-types consentry spa", 1))
			nonce := cspNonce.FindStringSubmatch(csp)[1]
			return strings.Replace(rec.Body.String(), "</body>",
				`<script type="text/plain" data-consent="necessary" nonce="`+nonce+`">window.demoRan.push("necessary")</script></body>`, 1)
		})
	})
}

// cspNonce finds the nonce in a demo page's Content-Security-Policy.
var cspNonce = regexp.MustCompile(`nonce-([^']+)'`)

// servedPage answers r through pages; when the answer is a page (it has a CSP), edit may
// change its headers and gives its body.
func servedPage(w http.ResponseWriter, r *http.Request, pages http.Handler, edit func(rec *httptest.ResponseRecorder, csp string) string) {
	rec := served(pages, r)
	body := rec.Body.String()
	if csp := rec.Header().Get("Content-Security-Policy"); csp != "" {
		body = edit(rec, csp)
	}
	relay(w, rec, body)
}

// Blocked content runs whenever its categories allow: a required category's at once,
// before any choice; and what the page adds later (a single-page app's next view) as soon
// as it is added if granted, else once granted, always in document order.
func TestBrowserBlockedContentRunsWheneverItsCategoriesAllow(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{wrap: requiredAndSPA})
	ctx := browsertest.New(t, browsertest.Options{})
	b.open(t, ctx, "/")
	browsertest.WaitFor(t, ctx, "the required category's script, before any choice", `window.demoRan.includes("necessary")`)
	// A view the page renders into its main element, ahead of the blocked scripts at the end
	// of the body: an analytics script, a marketing iframe, and a script of the required category.
	view := func(name string) {
		t.Helper()
		browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`{
			const n = document.querySelector("script[nonce]").nonce, v = document.createElement("section");
			window.router = window.router || trustedTypes.createPolicy("spa", {createHTML: (s) => s});
			v.innerHTML = router.createHTML('<div><script type="text/plain" data-consent="analytics" nonce="' + n + '">demoRan.push("`+name+`: analytics")</scr' + 'ipt>' +
				'<iframe data-consent="marketing" data-src="/static/ad.html?`+name+`" title="`+name+`"></iframe>' +
				'<script type="text/plain" data-consent="necessary" nonce="' + n + '">demoRan.push("`+name+`: necessary")</scr' + 'ipt></div>');
			document.querySelector("main").append(v);
		}`))
	}
	ran := func(n int) string {
		t.Helper()
		browsertest.WaitFor(t, ctx, fmt.Sprint(n, " scripts to have run"), fmt.Sprint(`window.demoRan.length >= `, n))
		return strings.Join(eval[[]string](t, ctx, `window.demoRan`), ", ")
	}
	frames := func() string {
		return eval[string](t, ctx, `[...document.querySelectorAll("iframe[title]")].map(f => f.title + "=" + (f.getAttribute("src") || "")).join(" ")`)
	}

	view("one")
	if got := ran(2); got != "necessary, one: necessary" {
		t.Errorf("before any choice, ran: %s", got)
	}
	if s := state(t, ctx); !s.Banner || s.Blocked != 4 || s.Iframe != "" || frames() != "Advertisement= one=" {
		t.Errorf("before any choice: %+v, iframes %s", s, frames())
	}
	click(t, ctx, `.cst button[data-a="accept"]`)
	if got := ran(6); got != "necessary, one: necessary, one: analytics, analytics.js, inline-analytics, ads.js" {
		t.Errorf("after accept all, ran: %s", got)
	}
	view("two")
	if got := ran(8); got != "necessary, one: necessary, one: analytics, analytics.js, inline-analytics, ads.js, two: analytics, two: necessary" {
		t.Errorf("a view added after accept all, ran: %s", got)
	}
	// A view the page drops while its first tag still loads: the rest of it never runs, and
	// what the page adds next is not held up behind it.
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`{
		const v = document.createElement("section");
		v.innerHTML = router.createHTML('<script type="text/plain" data-consent="analytics" src="/slow.js"></scr' + 'ipt>' +
			'<script type="text/plain" data-consent="analytics" src="/static/analytics.js?dropped"></scr' + 'ipt>');
		document.querySelector("main").append(v);
		setTimeout(() => v.remove(), 100);
	}`))
	view("three")
	if got := ran(11); got != "necessary, one: necessary, one: analytics, analytics.js, inline-analytics, ads.js, two: analytics, two: necessary, slow.js, three: analytics, three: necessary" {
		t.Errorf("after a view dropped while loading, ran: %s", got)
	}
	browsertest.WaitFor(t, ctx, "every iframe's src", `[...document.querySelectorAll("iframe[data-src]")].every(f => f.getAttribute("src"))`)
	if got := frames(); got != "Advertisement=/static/ad.html one=/static/ad.html?one two=/static/ad.html?two three=/static/ad.html?three" {
		t.Errorf("iframes: %s", got)
	}
	if s := state(t, ctx); s.Blocked != 0 || len(s.CSP) != 0 {
		t.Errorf("after accept all: %+v", s)
	}
}

// A category the site does not have (a typo) keeps what names it blocked, whatever the
// visitor allows, and the page's console names it once, with the site's categories.
func TestBrowserUnknownCategoryIsNamedInTheConsole(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{wrap: requiredAndSPA})
	ctx := browsertest.New(t, browsertest.Options{})
	warnings := browsertest.Console(t, ctx, "warning")
	b.open(t, ctx, "/")
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`{
		const n = document.querySelector("script[nonce]").nonce, v = document.createElement("section");
		const spa = trustedTypes.createPolicy("spa", {createHTML: (s) => s});
		v.innerHTML = spa.createHTML('<script type="text/plain" data-consent="analytcs" nonce="' + n + '">demoRan.push("typo")</scr' + 'ipt>' +
			'<div data-consent-placeholder="marketting">Allow ads</div>' +
			'<iframe data-consent="analytics marketting" data-src="/static/ad.html?typo" title="typo"></iframe>' +
			'<script type="text/plain" data-consent="analytics" nonce="' + n + '">demoRan.push("spelt right")</scr' + 'ipt>');
		document.querySelector("main").append(v);
	}`))
	click(t, ctx, `.cst button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the correctly spelt script", `window.demoRan.includes("spelt right")`)
	if ran := eval[[]string](t, ctx, `window.demoRan`); slices.Contains(ran, "typo") {
		t.Errorf("a script of an unknown category ran: %v", ran)
	}
	if src := eval[string](t, ctx, `document.querySelector("iframe[title=typo]").getAttribute("src") || ""`); src != "" {
		t.Errorf("an iframe of an unknown category loaded %s", src)
	}
	var ours []string
	for _, w := range warnings() {
		if strings.HasPrefix(w, "Consentry:") {
			ours = append(ours, w)
		}
	}
	const cats = "(the site's: necessary, preferences, analytics, marketing) stays blocked"
	want := []string{`Consentry: unknown category "analytcs" ` + cats, `Consentry: unknown category "marketting" ` + cats}
	slices.Sort(ours)
	if !slices.Equal(ours, want) {
		t.Errorf("console warnings:\n%s\nwant each unknown category once:\n%s", strings.Join(ours, "\n"), strings.Join(want, "\n"))
	}
}

// A placeholder shows while its categories are not all granted, and its allow button grants
// them in place, on top of the choices held: the blocked content runs, focus moves on to
// it, and a withdrawal shows the placeholder again.
func TestBrowserPlaceholderAllowsContentInPlace(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{proxied: true, wrap: firstDecisionFails})
	ctx := browsertest.New(t, browsertest.Options{})
	b.open(t, ctx, "/")
	const shown = `[...document.querySelectorAll("[data-consent-placeholder]")].map(p => p.checkVisibility()).join(",")`
	// Loading the iframe, unloading it and loading it again are no steps for the Back button.
	steps := eval[int](t, ctx, `history.length`)
	history := func(when string) {
		t.Helper()
		if got := eval[int](t, ctx, `history.length`); got != steps {
			t.Errorf("%s: %d more steps in the tab's history", when, got-steps)
		}
	}
	if got := eval[string](t, ctx, shown); got != "true" {
		t.Fatalf("placeholder shown on a first visit: %s", got)
	}
	// A keyboard user, with the first layer still open. The first try fails (the service is
	// away): the placeholder says so, and the second try goes through.
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("[data-consentry-allow]").focus()`))
	press(t, ctx, kb.Enter)
	const errorShown = `[...document.querySelectorAll("[data-consent-placeholder] [role=alert]")].map(e => e.textContent).join("|")`
	browsertest.WaitFor(t, ctx, "the error in the placeholder", errorShown)
	if got, want := eval[string](t, ctx, errorShown), shippedTexts(t, "en")["error"]; got != want {
		t.Errorf("error in the placeholder: %q, want %q", got, want)
	}
	press(t, ctx, kb.Enter)
	browsertest.WaitFor(t, ctx, "the marketing content", `window.demoRan.includes("ads.js")`)
	s := state(t, ctx)
	if s.Banner || s.Iframe != "/static/ad.html" || strings.Join(s.Ran, ",") != "ads.js" || s.Blocked != 2 {
		t.Errorf("after allowing marketing in place: %+v", s)
	}
	if got := eval[string](t, ctx, shown); got != "false" {
		t.Errorf("placeholder shown once marketing is granted: %s", got)
	}
	if got := eval[string](t, ctx, focused); got != "IFRAME" {
		t.Errorf("focus after allowing: %s, want the iframe", got)
	}
	// On top of the choices held: analytics granted in the settings stays granted when
	// marketing is allowed again in place.
	click(t, ctx, "button[data-consentry-open]")
	click(t, ctx, `.cst-p input[data-i="2"]`)
	click(t, ctx, `.cst-p input[data-i="3"]`)
	click(t, ctx, `.cst-p button[data-a="save"]`)
	browsertest.WaitFor(t, ctx, "marketing withdrawn", `!Consentry.has("marketing") && Consentry.has("analytics")`)
	if got := eval[string](t, ctx, shown); got != "true" {
		t.Errorf("placeholder after marketing is withdrawn: %s", got)
	}
	// The withdrawn iframe no longer shows what it loaded; allowed again, it loads again.
	const ad = `(f => (f.getAttribute("src") || "none") + " " + f.contentWindow.location.href.replace(location.origin, ""))(document.querySelector("iframe[data-consent]"))`
	browsertest.WaitFor(t, ctx, "the iframe to have unloaded", ad+` == "none about:blank"`)
	history("marketing allowed, then withdrawn")
	if got := eval[string](t, ctx, errorShown); got != "" {
		t.Errorf("the placeholder, shown again, still says %q", got)
	}
	click(t, ctx, "[data-consentry-allow]")
	// Once seen to time out in a full parallel run, and not since: what the page and the
	// ledger hold then says whether the click or the decision went missing.
	if _, err := browsertest.Poll[chromedp.Void](ctx, `Consentry.has("marketing") && Consentry.has("analytics")`, 20*time.Millisecond, 15*time.Second); err != nil {
		t.Fatalf("marketing granted again: %v; the page %+v, the placeholder says %q, focus on %s, ledger %v",
			err, state(t, ctx), eval[string](t, ctx, errorShown), eval[string](t, ctx, focused), b.decisions(t))
	}
	browsertest.WaitFor(t, ctx, "the iframe to have loaded again", ad+` == "/static/ad.html /static/ad.html"`)
	history("marketing allowed again")
	// A placeholder the page adds later for granted content hides at once.
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`{
		const p = Object.assign(document.createElement("p"), {textContent: "later"});
		p.dataset.consentPlaceholder = "analytics marketing";
		document.querySelector("main").append(p);
	}`))
	browsertest.WaitFor(t, ctx, "the later placeholder hidden", `document.querySelectorAll("[data-consent-placeholder]:not([hidden])").length == 0`)
	// A page's own component may ask the same: Consentry.allow answers the choices then held.
	if got := eval[string](t, ctx, `Consentry.allow("preferences").then(c => JSON.stringify(c))`); got != `{"necessary":true,"preferences":true,"analytics":true,"marketing":true}` {
		t.Errorf("Consentry.allow answered %s", got)
	}
	if got := b.decisions(t); strings.Join(got, "; ") != "custom none necessary,marketing; custom none necessary,analytics; custom none necessary,analytics,marketing; custom none necessary,preferences,analytics,marketing" {
		t.Errorf("ledger: %v", got)
	}
}

// turboPages serves the demo pages as a site on Turbo Drive (Hotwire, from npm) would:
// links fetch the next page and swap the body. Like such sites (Rails), it keeps one CSP
// nonce across pages, since the document keeps its first CSP; and Turbo, which parses
// pages and re-creates their scripts, writes through a "default" Trusted Types policy.
func turboPages(pages http.Handler) http.Handler {
	const nonce = "turbo-session-nonce"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path, ok := strings.CutPrefix(r.URL.Path, "/npm/"); ok {
			http.ServeFile(w, r, "../scripts/browser/node_modules/"+path)
			return
		}
		servedPage(w, r, pages, func(rec *httptest.ResponseRecorder, csp string) string {
			was := cspNonce.FindStringSubmatch(csp)[1]
			rec.Header().Set("Content-Security-Policy", strings.Replace(strings.ReplaceAll(csp, was, nonce), "trusted-types consentry", "trusted-types consentry default", 1))
			next := "/next" + strings.TrimSuffix(r.URL.Path, "/")
			return strings.NewReplacer(
				"</head>", `<meta name="csp-nonce" content="`+nonce+`"><script nonce="`+nonce+`">trustedTypes.createPolicy("default", {createHTML: (s) => s, createScript: (s) => s, createScriptURL: (s) => s})</script>`+
					`<script type="module" nonce="`+nonce+`" src="/npm/@hotwired/turbo/dist/turbo.es2017-esm.js"></script></head>`,
				"<body>", `<body data-path="`+r.URL.Path+`"><p><a id="next" href="`+next+`">Next page</a></p>`,
			).Replace(strings.ReplaceAll(rec.Body.String(), was, nonce))
		})
	})
}

// On a site that swaps its body as it navigates (Turbo Drive here; Astro's view transitions
// and pjax do the same), the first layer or the note stays shown until answered, blocked
// content of each new body runs once granted, and each page is counted.
func TestBrowserBannerStaysThroughBodySwappingNavigation(t *testing.T) {
	nodeModule(t, "@hotwired/turbo/dist/turbo.es2017-esm.js")
	for _, gpc := range []bool{false, true} {
		t.Run(fmt.Sprintf("gpc=%v", gpc), func(t *testing.T) {
			b := newBrowserEnv(t, browserEnvOptions{wrap: turboPages})
			ctx := browsertest.New(t, browsertest.Options{GPC: gpc})
			b.open(t, ctx, "/")
			layer := ".cst"
			if gpc {
				layer = ".cst-n"
			}
			browsertest.WaitFor(t, ctx, layer+" shown", `document.querySelector("`+layer+`")`)
			browsertest.WaitFor(t, ctx, "Turbo", `!!window.Turbo`)
			visit := func(path string) {
				t.Helper()
				click(t, ctx, "#next")
				browsertest.WaitFor(t, ctx, "Turbo's visit to "+path, `document.body.dataset.path == "`+path+`"`)
				if got := eval[string](t, ctx, `performance.getEntriesByType("navigation").length + " " + location.pathname`); got != "1 "+path {
					t.Fatalf("not a Turbo visit: %s", got)
				}
			}
			visit("/next")
			browsertest.WaitFor(t, ctx, layer+" back after the visit", `document.querySelector(":popover-open > `+layer+`")`)
			if got := eval[[]string](t, ctx, reachable+`(document.querySelector("`+layer+`"))`); len(got) > 0 {
				t.Errorf("%s after the visit: %q", layer, got)
			}
			if n := eval[int](t, ctx, `document.querySelectorAll(".cst, .cst-n").length`); n != 1 {
				t.Errorf("%d layers after the visit", n)
			}
			if gpc {
				visit("/next/next")
				browsertest.WaitFor(t, ctx, "the note after a second visit", `document.querySelector(":popover-open > .cst-n")`)
				b.noPageviews(t, ctx, "GPC, pages visited by Turbo")
				if s := state(t, ctx); len(s.Ran) != 0 || s.Blocked != 3 || len(s.CSP) != 0 {
					t.Errorf("GPC, after two visits: %+v", s)
				}
				return
			}
			// Back, Turbo restores the page it cached, banner and all: one first layer still.
			browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.samePage = true; history.back()`))
			browsertest.WaitFor(t, ctx, "Turbo's restoration of /", `document.body.dataset.path == "/" && window.samePage && document.querySelector(":popover-open > .cst")`)
			if n := eval[int](t, ctx, `new Promise(r => setTimeout(() => r(document.querySelectorAll(".cst-o").length), 500))`); n != 1 {
				t.Errorf("%d layers after going back", n)
			}
			click(t, ctx, `.cst button[data-a="accept"]`)
			browsertest.WaitFor(t, ctx, "the new body's blocked scripts", `window.demoRan.length == 3`)
			// Turbo shows /next from its cache as a preview first: its tags run once, when
			// the page itself is there.
			visit("/next")
			browsertest.WaitFor(t, ctx, "the next body's blocked scripts", `window.demoRan.length >= 6 && !document.querySelector('script[type="text/plain"]')`)
			browsertest.WaitFor(t, ctx, "a moment for more to run", `new Promise(r => setTimeout(() => r(true), 500))`)
			if s := state(t, ctx); strings.Join(s.Ran, ",") != "analytics.js,inline-analytics,ads.js,analytics.js,inline-analytics,ads.js" || s.Blocked != 0 || s.Iframe != "/static/ad.html" || len(s.CSP) != 0 || s.Banner {
				t.Errorf("after accepting, and a second visit: %+v", s)
			}
			b.waitPageviews(t, "/ /next")
		})
	}
	// Astro's view transitions also drop head elements the next page does not have: the
	// banner's stylesheet goes back with its layer, and so does the settings button.
	t.Run("head swapped too", func(t *testing.T) {
		b := newBrowserEnv(t, browserEnvOptions{corner: true})
		ctx := browsertest.New(t, browsertest.Options{})
		b.open(t, ctx, "/")
		swap := chromedp.Evaluate[chromedp.Void](`for (const s of document.head.querySelectorAll("style")) s.remove();
			document.body.replaceWith(document.createElement("body"))`)
		browsertest.Do(t, ctx, swap)
		browsertest.WaitFor(t, ctx, "the first layer back, styled", `document.querySelector(":popover-open > .cst") && getComputedStyle(document.querySelector(".cst")).position == "fixed"`)
		click(t, ctx, `.cst button[data-a="reject"]`)
		browsertest.WaitFor(t, ctx, "the settings button", `document.querySelector(".cst-f")`)
		browsertest.Do(t, ctx, swap)
		browsertest.WaitFor(t, ctx, "the settings button back, styled", `document.querySelector(":popover-open > .cst-f") && getComputedStyle(document.querySelector(".cst-f")).position == "fixed"`)
	})
}

// Once they have chosen, visitors reach their own record from the settings: their consent
// id, a download of every decision under it, and its erasure, after which they hold no
// choice here (what was granted is withdrawn) and are asked again.
func TestBrowserVisitorDownloadsAndErasesTheirRecord(t *testing.T) {
	b, ctx := acceptAllOn(t, browserEnvOptions{}, "/")
	dir := t.TempDir()
	browsertest.Do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return err
	}))
	sub := eval[string](t, ctx, `JSON.parse(atob(document.cookie.match(/consentry=[^.]*\.([^.;]*)/)[1].replace(/-/g, "+").replace(/_/g, "/"))).sub`)
	click(t, ctx, "button[data-consentry-open]")
	if got := eval[string](t, ctx, `document.querySelector(".cst-p .cst-r code").textContent`); got != sub {
		t.Errorf("consent id shown: %q, want the receipt's %q", got, sub)
	}

	click(t, ctx, `.cst-p button[data-a="export"]`)
	var status consent.Status
	eventually(t, "the downloaded record", 100*time.Millisecond, "accept_all", func() string {
		data, err := os.ReadFile(filepath.Join(dir, "consent-"+sub+".json"))
		if err != nil || json.Unmarshal(data, &status) != nil || len(status.History) != 1 {
			return fmt.Sprint(err)
		}
		return string(status.History[0].Method)
	})
	if status.ConsentID != sub || status.Site != "demo" || len(status.Granted) != 4 {
		t.Errorf("downloaded record: %+v", status)
	}

	eraseRecord(t, ctx)
	browsertest.WaitFor(t, ctx, "the first layer, asked again", `document.querySelector(".cst") && !document.querySelector(".cst-p")`)
	s := state(t, ctx)
	if s.ConsentAPI != nil || strings.Contains(s.Cookies, "consentry=") || strings.Contains(s.Cookies, "_demo_") || s.Iframe != "" {
		t.Errorf("after erasure: %+v", s)
	}
	if last := s.DataLayer[len(s.DataLayer)-1]; strings.Count(last, "granted") != 1 {
		t.Errorf("Consent Mode after erasure: %s", last)
	}
	eventually(t, "the ledger rows of the erased consent id", 200*time.Millisecond, "", func() string {
		return strings.Join(b.decisions(t), "; ")
	})
}

// cornerButton describes the settings button (settings_button) as a visitor meets it.
type cornerButton struct {
	Shown    bool    `json:"shown"`
	Text     string  `json:"text"`
	TopLayer bool    `json:"top"`
	Left     float64 `json:"left"`  // from the viewport's left edge
	Right    float64 `json:"right"` // from its right edge
	Bottom   float64 `json:"bottom"`
}

const cornerJS = `(b => b ? (r => ({shown: b.checkVisibility(), text: b.textContent, top: b.parentNode.matches(":popover-open"),
	left: r.left, right: innerWidth - r.right, bottom: innerHeight - r.bottom}))(b.getBoundingClientRect()) : {})(document.querySelector(".cst-f"))`

// With settings_button, a visitor who has chosen keeps a "Cookie settings" button in a
// corner of every page, so that they can change or withdraw their choice where the page
// links to no settings: it opens the settings and has focus again when they close, it
// gives way to the first layer and to the signal note, it stands at the corner the
// page's language starts from, and it passes axe. Without the setting there is none.
func TestBrowserSettingsButton(t *testing.T) {
	corner := func(t *testing.T, ctx context.Context) cornerButton {
		t.Helper()
		return eval[cornerButton](t, ctx, cornerJS)
	}
	t.Run("off by default", func(t *testing.T) {
		b := newBrowserEnv(t, browserEnvOptions{})
		ctx := browsertest.New(t, browsertest.Options{})
		b.open(t, ctx, "/")
		click(t, ctx, `.cst button[data-a="reject"]`)
		browsertest.WaitFor(t, ctx, "the choice", `Consentry.get()`)
		b.open(t, ctx, "/again")
		if c := corner(t, ctx); c.Shown || c.Text != "" {
			t.Errorf("a settings button the site did not ask for: %+v", c)
		}
	})
	// After a first choice, in each theme: shown, where it should be, and passing axe.
	chosen := func(t *testing.T, b *browserEnv, theme string) context.Context {
		t.Helper()
		ctx := browsertest.New(t, browsertest.Options{Dark: theme == "dark"})
		b.open(t, ctx, "/")
		if c := corner(t, ctx); c.Text != "" {
			t.Fatalf("the button beside the first layer: %+v", c)
		}
		click(t, ctx, `.cst button[data-a="reject"]`)
		browsertest.WaitFor(t, ctx, "the settings button", `document.querySelector(".cst-f")`)
		c := corner(t, ctx)
		if want := shippedTexts(t, "en")["settings"]; !c.Shown || c.Text != want || !c.TopLayer {
			t.Errorf("%s, after the choice: %+v, want %q shown in the top layer", theme, c, want)
		}
		if c.Left < 0 || c.Left > 40 || c.Bottom < 0 || c.Bottom > 40 {
			t.Errorf("%s: not in the bottom left corner: %+v", theme, c)
		}
		browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](string(nodeModule(t, "axe-core/axe.min.js"))))
		res := runAxe(t, ctx, "document")
		for _, v := range res.Violations {
			t.Errorf("%s, axe: %s", theme, v)
		}
		for _, rule := range []string{"button-name", "color-contrast", "target-size"} {
			if !slices.Contains(res.Passes, rule) {
				t.Errorf("%s: axe rule %s did not pass (passes: %v)", theme, rule, res.Passes)
			}
		}
		browsertest.Screenshot(t, ctx, filepath.Join(screenshotDir(), "banner-settings-button-"+theme+".png"))
		return ctx
	}
	t.Run("on", func(t *testing.T) {
		b := newBrowserEnv(t, browserEnvOptions{corner: true})
		chosen(t, b, "dark")
		ctx := chosen(t, b, "light")
		// By keyboard: it comes after the page's own controls, opens the settings, and has
		// focus again when they close.
		tabTo(t, ctx, "custom", 20)
		if !eval[bool](t, ctx, `document.activeElement.matches(".cst-f")`) {
			t.Fatalf("Tab reached %s, not the settings button", eval[string](t, ctx, focused))
		}
		press(t, ctx, kb.Enter)
		browsertest.WaitFor(t, ctx, "the settings", `document.activeElement.matches(".cst-p")`)
		if got := press(t, ctx, kb.Escape); got != "custom" || !eval[bool](t, ctx, `document.activeElement.matches(".cst-f")`) {
			t.Errorf("after Escape focus is on %s, want the settings button", got)
		}
		// A changed choice made there, and a next page that shows the button at once.
		click(t, ctx, "button.cst-f")
		click(t, ctx, `.cst-p button[data-a="accept"]`)
		browsertest.WaitFor(t, ctx, "the new choice", `Consentry.has("marketing")`)
		if got := b.decisions(t); len(got) != 3 || got[2] != "accept_all none necessary,preferences,analytics,marketing" { // after two rejections, dark and light
			t.Errorf("ledger: %v", got)
		}
		if got := eval[string](t, ctx, focused); got != "custom" {
			t.Errorf("after saving focus is on %s, want the settings button", got)
		}
		b.open(t, ctx, "/?lang=ar")
		if c := corner(t, ctx); !c.Shown || state(t, ctx).Banner || c.Right < 0 || c.Right > 40 {
			t.Errorf("the next page, right to left: %+v, want the button in the bottom right corner and no banner", c)
		}
		// Erased, the visitor holds no choice: the first layer asks again, without the button.
		click(t, ctx, "button.cst-f")
		eraseRecord(t, ctx)
		browsertest.WaitFor(t, ctx, "the first layer", `document.querySelector(".cst")`)
		if c := corner(t, ctx); c.Text != "" {
			t.Errorf("the button beside the first layer after erasure: %+v", c)
		}
	})
	t.Run("after the signal note", func(t *testing.T) {
		b := newBrowserEnv(t, browserEnvOptions{corner: true})
		// Nor before the note, while the refusal is being recorded.
		ctx := browsertest.New(t, browsertest.Options{GPC: true, Init: `new MutationObserver(() => {
			if (document.querySelector(".cst-n")) window.noted = true;
			else if (!window.noted && document.querySelector(".cst-f")) window.early = true;
		}).observe(document, {childList: true, subtree: true})`})
		b.open(t, ctx, "/")
		browsertest.WaitFor(t, ctx, "the signal note", `document.querySelector(".cst-n")`)
		if c := corner(t, ctx); c.Text != "" || eval[bool](t, ctx, `!!window.early`) {
			t.Fatalf("the button beside the note, or before it: %+v", c)
		}
		click(t, ctx, `.cst-n button[data-a="dismiss"]`)
		browsertest.WaitFor(t, ctx, "the settings button", `document.querySelector(".cst-f")`)
		if c := corner(t, ctx); !c.Shown {
			t.Errorf("after the note is dismissed: %+v", c)
		}
	})
}

// declaration describes the first cookie declaration on the page: its language, each
// category's switch ("Name on|off", "EDITABLE" if it could be changed there), each vendor,
// what each category keeps in the browser, the consent id shown, and whether its settings
// button is there.
const declaration = `(d => d && d.firstChild && ({lang: d.firstChild.lang,
	cats: [...d.querySelectorAll("input[role=switch]")].map(i => i.parentNode.textContent.trim() + (i.checked ? " on" : " off") + (i.disabled ? "" : " EDITABLE")),
	vendors: [...d.querySelectorAll("li")].map(l => l.textContent),
	kept: [...d.querySelectorAll(".cst-c > p")].map(p => [...p.querySelectorAll("small")].map(s => s.textContent).join(" / ")),
	id: (d.querySelector("code") || {}).textContent || "",
	button: !!d.querySelector("button[data-consentry-open]")}))(document.querySelector("[data-consentry-declaration]"))`

type declared struct {
	Lang    string   `json:"lang"`
	Cats    []string `json:"cats"`
	Vendors []string `json:"vendors"`
	Kept    []string `json:"kept"`
	ID      string   `json:"id"`
	Button  bool     `json:"button"`
}

// A privacy policy lists the site's cookies and storage keys, by category and vendor
// (the settings too), and what the visitor
// holds (Cookiebot's cookie declaration): the banner writes it into the page's
// data-consentry-declaration element, keeps it in step with every choice, leaves it alone
// when nothing changed (what the visitor opened in it stays open), fills one added later,
// and its button opens the settings.
func TestBrowserCookieDeclaration(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	ctx := browsertest.New(t, browsertest.Options{})
	b.open(t, ctx, "/")
	vendors := []string{"Matomo: Visit statistics Cookies: _pk_id*", "Google Ads: Conversion measurement Cookies: _gcl_*", "Meta Pixel: Ad audiences Cookies: _fbp"}
	kept := []string{"", "Browser storage: demo_theme, demo_cart:*", "Cookies: _demo_analytics", "Cookies: _demo_ads"}
	check := func(when string, cats []string, id string) {
		t.Helper()
		d := eval[*declared](t, ctx, declaration)
		if d == nil || d.Lang != "en" || !slices.Equal(d.Cats, cats) || !slices.Equal(d.Vendors, vendors) || !slices.Equal(d.Kept, kept) || d.ID != id || !d.Button {
			t.Errorf("%s: the declaration %+v, want %v, consent id %q", when, d, cats, id)
		}
	}
	check("first visit", []string{"Necessary (always on) on", "Preferences off", "Analytics off", "Marketing off"}, "")
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](string(nodeModule(t, "axe-core/axe.min.js"))))
	for _, v := range runAxe(t, ctx, `document.querySelector("[data-consentry-declaration]")`).Violations {
		t.Errorf("axe, the declaration: %s", v)
	}

	click(t, ctx, `.cst button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the blocked scripts", `window.demoRan.length == 3`)
	id := chtest.Strings(t, b.conn, `SELECT consent_id FROM consents FINAL WHERE site = 'demo'`)
	if len(id) != 1 {
		t.Fatalf("consent ids: %v", id)
	}
	check("after Accept all", []string{"Necessary (always on) on", "Preferences on", "Analytics on", "Marketing on"}, id[0])

	// Blocked content added to the page makes the banner look again (the demo page enforces
	// Trusted Types, hence no markup here); the declaration, the same, is not written anew.
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("[data-consentry-declaration] details").open = true;
		const p = document.createElement("p"); p.id = "late"; p.dataset.consentPlaceholder = "marketing"; document.body.append(p)`))
	browsertest.WaitFor(t, ctx, "the placeholder added later, hidden", `document.getElementById("late").hidden`)
	if !eval[bool](t, ctx, `document.querySelector("[data-consentry-declaration] details").open`) {
		t.Error("the declaration was written anew though nothing it says changed")
	}

	// Its button, by keyboard, opens the settings; a withdrawal there shows in it.
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("[data-consentry-declaration] button").focus()`))
	press(t, ctx, kb.Enter)
	browsertest.WaitFor(t, ctx, "the settings", `!!document.querySelector(".cst-p")`)
	// The settings say the same of each category: what it keeps in the browser.
	if d := eval[*declared](t, ctx, strings.Replace(declaration, `"[data-consentry-declaration]"`, `".cst-p"`, 1)); d == nil || !slices.Equal(d.Kept, kept) || !slices.Equal(d.Vendors, vendors) {
		t.Errorf("the settings: %+v, want %q", d, kept)
	}
	click(t, ctx, `.cst-p button[data-a="withdraw"]`)
	browsertest.WaitFor(t, ctx, "the withdrawal", `Consentry.get() && !Consentry.has("analytics")`)
	check("after the withdrawal", []string{"Necessary (always on) on", "Preferences off", "Analytics off", "Marketing off"}, id[0])

	// One added later, as a single-page app shows its privacy page, beside the first: each
	// has ids of its own, and axe still finds nothing.
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`const s = document.createElement("section"); s.dataset.consentryDeclaration = ""; document.querySelector("main").append(s)`))
	browsertest.WaitFor(t, ctx, "the declaration added later, written", `!!document.querySelector("section[data-consentry-declaration] input")`)
	if dup := eval[[]string](t, ctx, `[...document.querySelectorAll("[id]")].map(e => e.id).filter((id, i, all) => all.indexOf(id) != i)`); len(dup) > 0 {
		t.Errorf("ids used twice on the page: %q", dup)
	}
	for _, v := range runAxe(t, ctx, "document").Violations {
		t.Errorf("axe, two declarations: %s", v)
	}
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("[data-consentry-declaration]").remove()`))
	check("added later", []string{"Necessary (always on) on", "Preferences off", "Analytics off", "Marketing off"}, id[0])
}

// queueEarlyCalls is a page's script that runs before the banner's (it loads async): it
// queues calls, a function, one that throws, a listener and a call that does not exist.
const queueEarlyCalls = `window.Consentry = window.Consentry || [];
	Consentry.push(["track", "queued", {at: "start"}], (c) => { window.seen = c.get() }, () => { throw new Error("a page's broken function") },
		["on", "change", (s) => (window.changes = window.changes || []).push(s)], ["nope"]);`

// A page's scripts may call the API before the banner has run, through a queue in
// window.Consentry (as Plausible's and Google Analytics' snippets do): the calls run in
// order once the receipt is read, under the consent it holds (a tracked event only once
// analytics is granted), and a call pushed later runs at once. A function that throws, or
// a call that does not exist (named in the console), stops nothing after it.
func TestBrowserCallsQueuedBeforeTheBanner(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{})
	ctx := browsertest.New(t, browsertest.Options{Init: queueEarlyCalls})
	warnings := browsertest.Console(t, ctx, "warning")
	b.open(t, ctx, "/")
	if !eval[bool](t, ctx, `window.seen === null`) {
		t.Errorf("a queued function, first visit: it saw %v, want null (no choice)", eval[any](t, ctx, `window.seen`))
	}
	if w := warnings(); !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, `no such call "nope"`) }) {
		t.Errorf("the unknown call is not named in the console: %q", w)
	}
	click(t, ctx, `.cst button[data-a="accept"]`)
	browsertest.WaitFor(t, ctx, "the queued listener to hear the choice", `window.changes && window.changes.length == 1 && changes[0].analytics`)
	browsertest.WaitFor(t, ctx, "the blocked scripts", `window.demoRan.length == 3`)
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`Consentry.push(["track", "pushed", {at: "later"}])`))
	names := func() string { // the test's writer flushes every 100 ms
		return strings.Join(chtest.Strings(t, b.conn, `SELECT name FROM events WHERE site = 'demo' AND type = 'event' ORDER BY ts, name`), " ")
	}
	eventually(t, "events tracked", 100*time.Millisecond, "pushed", names)

	// Back again with the choice made: the queue's event counts, its function sees the
	// choice, and its listener hears it as the page starts.
	b.open(t, ctx, "/next")
	browsertest.WaitFor(t, ctx, "the blocked scripts", `window.demoRan.length == 3`)
	if !eval[bool](t, ctx, `window.seen && window.seen.analytics === true && window.changes.length == 1`) {
		t.Errorf("the queue on a returning visit: seen %v, changes %v", eval[any](t, ctx, `window.seen`), eval[any](t, ctx, `window.changes`))
	}
	eventually(t, "events tracked", 100*time.Millisecond, "pushed queued", names)
}

// layerGeometry is where the first layer, its title, text and choices are, in CSS pixels,
// and the viewport's size (measureLayer).
type layerGeometry struct {
	Left, Right, Bottom, Width, Height, TitleLeft, TextRight, TextBottom, ChoicesLeft, ChoicesRight, ChoicesTop float64
}

const measureLayer = `(() => { const r = (s) => document.querySelector(s).getBoundingClientRect(), l = r(".cst"), p = r(".cst p"), c = r(".cst .cst-b");
	return {Left: l.left, Right: l.right, Bottom: l.bottom, Width: innerWidth, Height: innerHeight,
		TitleLeft: r(".cst h2").left, TextRight: p.right, TextBottom: p.bottom, ChoicesLeft: c.left, ChoicesRight: c.right, ChoicesTop: c.top} })()`

// layout: bar puts the first layer in a strip across the bottom edge of the viewport: on a
// wide screen its text beside its three equal choices, and the two no wider than 72em in
// its middle (lines a reader can follow); on a phone its choices under its text. axe
// finds nothing in it, light or dark. (Focus in the page is never hidden behind
// it: TestBrowserFocusNotObscuredByTheBanner.)
func TestBrowserBarLayout(t *testing.T) {
	dir := screenshotDir()
	axe := nodeModule(t, "axe-core/axe.min.js")
	b := newBrowserEnv(t, browserEnvOptions{layout: "bar"})
	for _, theme := range []string{"light", "dark"} {
		ctx := browsertest.New(t, browsertest.Options{Dark: theme == "dark", ReducedMotion: true})
		for _, width := range []int64{1280, 390} {
			what := fmt.Sprintf("%s, %d px", theme, width)
			viewport(t, ctx, width, 800)
			b.open(t, ctx, "/")
			browsertest.WaitFor(t, ctx, "the first layer", `!!document.querySelector(".cst")`)
			g := eval[layerGeometry](t, ctx, measureLayer)
			if math.Abs(g.Left) > 1 || math.Abs(g.Right-g.Width) > 1 || math.Abs(g.Bottom-g.Height) > 1 {
				t.Errorf("%s: the bar does not span the bottom edge: %+v", what, g)
			}
			if side := g.ChoicesLeft > g.TextRight; width == 1280 && !side {
				t.Errorf("%s: the choices are not beside the text: %+v", what, g)
			} else if width == 1280 && g.ChoicesRight-g.TitleLeft > 72*15+1 {
				t.Errorf("%s: the bar's content is wider than 72em, hard to read across: %+v", what, g)
			} else if width == 390 && g.ChoicesTop < g.TextBottom {
				t.Errorf("%s: the choices are not under the text: %+v", what, g)
			}
			equalChoices(t, ctx, what, ".cst")
			browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](string(axe)))
			for _, v := range runAxe(t, ctx, "document").Violations {
				t.Errorf("%s, axe: %s", what, v)
			}
			browsertest.Screenshot(t, ctx, filepath.Join(dir, fmt.Sprintf("banner-bar-%s-%d.png", theme, width)))
		}
		// Right to left, the text starts at the right and the choices are at its left.
		viewport(t, ctx, 1280, 800)
		b.open(t, ctx, "/?lang=ar")
		browsertest.WaitFor(t, ctx, "the first layer", `!!document.querySelector(".cst")`)
		if g := eval[layerGeometry](t, ctx, strings.Replace(measureLayer, "TextRight: p.right", "TextRight: p.left", 1)); g.ChoicesRight > g.TextRight {
			t.Errorf("%s, right to left: the choices are not at the text's left: %+v", theme, g)
		}
	}
}

// eraseRecord erases the visitor's record from the open settings as a visitor does: the
// first press only warns, in an alert, that erasure cannot be undone (WCAG 2.2, 3.3.4),
// and the next erases.
func eraseRecord(t *testing.T, ctx context.Context) {
	t.Helper()
	click(t, ctx, `.cst-p button[data-a="erase"]`)
	want := shippedTexts(t, "en")["erase_confirm"]
	browsertest.WaitFor(t, ctx, "the warning", `(p => p && p.getAttribute("role") == "alert" && p.textContent == `+strconv.Quote(want)+`)(document.querySelector(".cst-p .cst-e"))`)
	if eval[bool](t, ctx, `new Promise(r => setTimeout(() => r(Consentry.get() === null), 300))`) {
		t.Fatal("the first press erased the record")
	}
	click(t, ctx, `.cst-p button[data-a="erase"]`)
}

// A page may ask for the settings before its body exists (a queued open, run as soon as
// the receipt is read, while the rest of a slow page is still on its way): they open once
// there is a body, with focus in them, and the first layer does not come over them.
// Closed without a choice, they give way to it, focused.
func TestBrowserSettingsOpenedBeforeTheBody(t *testing.T) {
	b := newBrowserEnv(t, browserEnvOptions{wrap: func(pages http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := served(pages, r)
			head, body, ok := strings.Cut(rec.Body.String(), "<body>")
			if !ok {
				relay(w, rec, rec.Body.String())
				return
			}
			relay(w, rec, head) // the head, at once
			w.(http.Flusher).Flush()
			time.Sleep(time.Second)
			_, _ = io.WriteString(w, "<body>"+body)
		})
	}})
	ctx := browsertest.New(t, browsertest.Options{Init: `window.Consentry = [["open"], () => { window.bodyThen = !!document.body }]`})
	b.open(t, ctx, "/")
	if eval[bool](t, ctx, `window.bodyThen`) {
		t.Fatal("the queue ran once the body was there: this test would not cover an open before it")
	}
	browsertest.WaitFor(t, ctx, "the settings, focused", `document.activeElement && document.activeElement.matches(".cst-p")`)
	if eval[bool](t, ctx, `new Promise(r => setTimeout(() => r(!!document.querySelector(".cst") || !document.activeElement.matches(".cst-p")), 500))`) {
		t.Error("the first layer came over the settings, or took focus from them")
	}
	press(t, ctx, kb.Escape)
	browsertest.WaitFor(t, ctx, "the first layer, focused", `!document.querySelector(".cst-p") && document.activeElement.matches(".cst")`)
	click(t, ctx, `.cst button[data-a="reject"]`)
	browsertest.WaitFor(t, ctx, "the choice", `Consentry.get() && !document.querySelector(".cst")`)
}

// layout: corner puts the first layer in a smaller box in the bottom corner where lines
// end: bottom right, and bottom left right to left; on a phone it spans the width as the
// box does. Its three choices keep equal weight (stacked, each a whole row), and axe
// finds nothing in it.
func TestBrowserCornerLayout(t *testing.T) {
	dir := screenshotDir()
	axe := nodeModule(t, "axe-core/axe.min.js")
	b := newBrowserEnv(t, browserEnvOptions{layout: "corner"})
	ctx := browsertest.New(t, browsertest.Options{ReducedMotion: true})
	for _, tc := range []struct {
		width int64
		lang  string
		where func(g layerGeometry) bool
	}{
		{1280, "en", func(g layerGeometry) bool { return math.Abs(g.Width-15-g.Right) <= 1 && g.Right-g.Left <= 24*15+1 }},
		{1280, "ar", func(g layerGeometry) bool { return math.Abs(g.Left-15) <= 1 && g.Right-g.Left <= 24*15+1 }},
		{390, "en", func(g layerGeometry) bool { return math.Abs(g.Left-15) <= 1 && math.Abs(g.Width-15-g.Right) <= 1 }},
	} {
		what := fmt.Sprintf("%s, %d px", tc.lang, tc.width)
		viewport(t, ctx, tc.width, 800)
		b.open(t, ctx, "/?lang="+tc.lang)
		browsertest.WaitFor(t, ctx, "the first layer", `!!document.querySelector(".cst")`)
		if g := eval[layerGeometry](t, ctx, measureLayer); !tc.where(g) || math.Abs(g.Height-15-g.Bottom) > 1 {
			t.Errorf("%s: the box is not where it belongs: %+v", what, g)
		}
		equalChoices(t, ctx, what, ".cst")
		browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](string(axe)))
		for _, v := range runAxe(t, ctx, "document").Violations {
			t.Errorf("%s, axe: %s", what, v)
		}
		browsertest.Screenshot(t, ctx, filepath.Join(dir, fmt.Sprintf("banner-corner-%s-%d.png", tc.lang, tc.width)))
	}
}

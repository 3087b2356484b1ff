// Command banner measures a first visit to a page with Consentry's banner and to the same
// page with vanilla-cookieconsent 3.1.0 (from npm, configured alike: four categories, three
// vendors, one language), in one run, alternating cold loads in one headless Chromium. It
// prints the medians, the ratio ours/theirs, and whether each budget of the banner holds;
// it exits 1 if one does not. bench/banner.sh starts the service and runs it.
//
// A cold load is a visitor's first visit: a new tab (so a new renderer process) at a page
// host and a banner host the browser has never seen, so nothing is cached, no cookie is
// set, and the banner needs a new DNS lookup and a new connection. With --fresh-context
// each load also gets a new browser context, which is colder than any visitor's browser:
// Chromium then sets up a network context per load, and on this machine every
// subresource of the page waits about 30 ms for it before its request starts.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"

	"github.com/consentry/consentry/internal/browsertest"
)

// minimalShow adds one fixed line of text when the body is there, as ours shows its first
// layer; it ends the minimal banners below.
const minimalShow = `  const show = () => {
    const el = document.createElement("div");
    el.className = "cst";
    el.textContent = "We use cookies. Accept or reject them.";
    el.style.cssText = "position:fixed;left:1rem;right:1rem;bottom:1rem;padding:1rem;background:#fff;border:1px solid #888";
    document.body.append(el);
  };
  document.readyState == "loading" ? addEventListener("DOMContentLoaded", show) : show();
})();
`

// minimalBanner is the least a banner script can do: show one line. Its times are the floor
// for any banner script here.
const minimalBanner = "(() => {\n" + minimalShow

// minimalConsentBanner is the least a consent banner can do: it must first read the cookie
// that holds an earlier choice (as vanilla-cookieconsent does, synchronously), to ask only
// those who have not chosen. Its times are the floor for any consent banner here.
const minimalConsentBanner = `(() => {
  if (document.cookie.split("; ").some((c) => c.startsWith("consent="))) return;
` + minimalShow

// cdnHost stands for the origin vanilla-cookieconsent's files come from: its CDN host.
const cdnHost = "{{CDN}}"

// scheme is the scheme a request came in by.
func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// consentHost stands for the banner's origin in our page; each load gets its own.
const consentHost = "{{CONSENT}}"

// Budgets from the banner's issue.
const (
	maxGzipBytes = 8 * 1024
	maxNodes     = 20
	maxScriptMS  = 10.0
	maxVisibleMS = 100.0
	// Layout shifts are counted this long after the banner shows, and the trace runs on:
	// our first pageview leaves 250 ms after the banner's script starts, and its script time
	// must be in the trace (a traced load of ours fails without it).
	settleAfterHit = 400 * time.Millisecond
)

// observe is the first script of both test pages. It sums layout shifts and takes two
// times for the banner's first layer, in ms since navigation start: painted, when its text
// was first presented on screen (Element Timing, which counts no text at opacity 0 while
// vanilla-cookieconsent fades in: the budget's "visible"); and visible, the start of the
// first frame that renders it (visibility, opacity above 0), which comes before the
// frame is drawn and shown. It does nothing per frame until the banner is in the document,
// so that it does not slow the page it measures.
const observe = `window.__m = {cls: 0, visible: 0};
new PerformanceObserver(l => { for (const e of l.getEntries()) if (!e.hadRecentInput) __m.cls += e.value; }).observe({type: "layout-shift", buffered: true});
const banner = () => document.querySelector(".cst, #cc-main .cm");
const tick = () => {
  const el = banner();
  const cs = el && el.getClientRects().length && getComputedStyle(el);
  if (cs && cs.visibility != "hidden" && +cs.opacity > 0) __m.visible = performance.now();
  else requestAnimationFrame(tick);
};
new PerformanceObserver(l => { for (const e of l.getEntries()) if (e.identifier == "banner" && !__m.painted) __m.painted = e.renderTime || e.startTime; }).observe({type: "element", buffered: true});
const inserted = new MutationObserver(() => {
  const el = banner();
  if (!el) return;
  inserted.disconnect();
  for (const e of [el, ...el.querySelectorAll("*")]) e.setAttribute("elementtiming", "banner");
  requestAnimationFrame(tick);
});
inserted.observe(document, {childList: true, subtree: true});`

// count runs after the banner showed: what it added to the DOM and what the page loaded.
const count = `(() => {
  const ours = document.querySelector(".cst");
  const root = ours ? ours.closest(".cst-o") || ours : document.querySelector("#cc-main"); // with its top-layer holder
  const styles = ours ? 1 : 0; // our <style> element and its text
  let nodes = 0;
  for (const it = document.createNodeIterator(root); it.nextNode(); ) nodes++;
  const all = performance.getEntriesByType("resource");
  const res = all.filter(r => !/\/v1\/collect|\/favicon\.ico/.test(r.name));
  const nav = performance.getEntriesByType("navigation")[0];
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  const r0 = res[0] || {};
  return {doc: nav.responseEnd, dcl: nav.domContentLoadedEventStart, fetched: r0.responseEnd || 0, asked: r0.startTime || 0, connect: r0.connectStart || 0, tls: r0.secureConnectionStart || 0, sent: r0.requestStart || 0, first: r0.responseStart || 0, fcp: fcp ? fcp.startTime : 0,
    visible: __m.visible, painted: __m.painted || 0, cls: __m.cls, elements: root.getElementsByTagName("*").length + 1 + styles,
    nodes: nodes + 2 * styles, encoded: res.reduce((s, r) => s + r.encodedBodySize, 0), requests: res.length,
    beacons: all.filter(r => /\/v1\/collect/.test(r.name)).length,
    resources: res.map(r => r.name + " " + r.encodedBodySize + " B at " + r.startTime.toFixed(1))};
})()`

type sample struct {
	Visible  float64 `json:"visible"`
	Painted  float64 `json:"painted"` // the banner's first text presented (Element Timing)
	CLS      float64 `json:"cls"`
	Elements int     `json:"elements"`
	Nodes    int     `json:"nodes"`
	Encoded  int     `json:"encoded"`
	Requests int     `json:"requests"`
	Beacons  int     `json:"beacons"` // our pageviews sent by the time the load was counted
	// Resources lists what the page loaded, for --breakdown.
	Resources []string `json:"resources"`
	ScriptMS  float64  `json:"-"`
	// EvalMS is the main-thread time of the banner's own scripts, from a trace:
	// EvaluateScript and FunctionCall events (listeners, timers) of their URLs; EvalCPU
	// the same events' thread CPU time, which leaves out the time the thread waited
	// (descheduled on this shared machine, or blocked on a synchronous IPC).
	EvalMS  float64 `json:"-"`
	EvalCPU float64 `json:"-"`
	StyleMS float64 `json:"-"` // style recalculation and layout
	TaskMS  float64 `json:"-"` // all main-thread work
	// Timeline, ms after navigation start: the page's response end, DOMContentLoaded, the
	// banner script's (first non-page resource's) response end, first contentful paint.
	Doc     float64 `json:"doc"`
	DCL     float64 `json:"dcl"`
	Fetched float64 `json:"fetched"`
	Asked   float64 `json:"asked"`   // the banner script's request: queued, sent, first byte
	Connect float64 `json:"connect"` // its connection: TCP, then TLS
	TLS     float64 `json:"tls"`
	Sent    float64 `json:"sent"`
	First   float64 `json:"first"`
	FCP     float64 `json:"fcp"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "banner bench:", err)
		os.Exit(1)
	}
}

func run() error {
	consentURL := flag.String("consent", "http://127.0.0.1:18485", "the Consentry service")
	site := flag.String("site", "shop", "site whose banner is measured")
	listen := flag.String("listen", "127.0.0.1:18486", "address of the test pages (one of the site's origins)")
	vcc := flag.String("vcc", "scripts/browser/node_modules/vanilla-cookieconsent/dist", "vanilla-cookieconsent's dist directory")
	loads := flag.Int("loads", 15, "cold loads of each page")
	variantURL := flag.String("variant", "", "another Consentry service (a build of changed banner sources, say) whose banner is measured in the same run, to compare a change without the noise between runs")
	plainHTTP := flag.Bool("plain-http", false, "serve the pages and the banners over http (by default https, as nearly every site is: self-signed, which this Chromium is told to accept)")
	flag.Parse()

	texts, err := readTexts()
	if err != nil {
		return err
	}
	// The page server, and a TLS front for each Consentry service (which is meant to run
	// behind a proxy that terminates TLS).
	start := func(h http.Handler, ln net.Listener) *httptest.Server {
		srv := httptest.NewUnstartedServer(h)
		if ln != nil {
			srv.Listener.Close()
			srv.Listener = ln
		}
		if *plainHTTP {
			srv.Start()
		} else {
			srv.StartTLS()
		}
		return srv
	}
	services := map[string]*url.URL{}
	for page, service := range map[string]string{"/ours.html": *consentURL, "/variant.html": *variantURL} {
		if service == "" {
			continue
		}
		u, err := url.Parse(service)
		if err != nil {
			return fmt.Errorf("%s: %w", service, err)
		}
		front := start(httputil.NewSingleHostReverseProxy(u), nil)
		defer front.Close()
		if services[page], err = url.Parse(front.URL); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	base := &url.URL{Scheme: "https", Host: ln.Addr().String()}
	if *plainHTTP {
		base.Scheme = "http"
	}
	// The minimal banners come from the page server itself, at a banner host of their own.
	services["/minimal.html"], services["/minimal-read.html"] = base, base
	services["/first.html"] = services["/ours.html"]
	direct, err := url.Parse(*consentURL)
	if err != nil {
		return fmt.Errorf("--consent: %w", err)
	}
	pages, err := newPages(services, httputil.NewSingleHostReverseProxy(direct), *site, *vcc, texts)
	if err != nil {
		return err
	}
	srv := start(pages, ln)
	defer srv.Close()
	seq := 0
	// fresh is the URL of path at a page host never loaded before (see newPages for the
	// banner's host).
	fresh := func(path string) string {
		seq++
		return fmt.Sprintf("%s://l%d.shop.test:%s%s", base.Scheme, seq, base.Port(), path)
	}

	ours, err := gzipped(http.DefaultClient, *consentURL+"/s/"+*site+"/banner.js?lang=en")
	if err != nil {
		return err
	}
	theirs := 0
	for _, f := range []string{"/vcc/cookieconsent.umd.js", "/vcc/cookieconsent.css", "/vcc-config.js"} {
		n, err := gzipped(srv.Client(), srv.URL+f)
		if err != nil {
			return err
		}
		theirs += n
	}

	dir, err := os.MkdirTemp("", "banner-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	browser, stop, err := browsertest.Start(dir, browsertest.Options{})
	if err != nil {
		return fmt.Errorf("chromium: %w", err)
	}
	defer stop()
	// containing tells a page's banner scripts by a part of their URL.
	containing := func(part string) func(string) bool {
		return func(u string) bool { return strings.Contains(u, part) }
	}
	ourURL := containing("/banner.js")
	// Ours and vanilla-cookieconsent are reported in full; every other page in a table
	// against ours.
	contenders := []*contender{
		{path: "/ours.html", own: ourURL},
		{path: "/vcc.html", own: containing("/vcc")},
		{path: "/minimal.html", own: containing("/minimal.js"), what: "the least a banner script can do (minimal.js: one fixed line)"},
		{path: "/minimal-read.html", own: containing("/minimal-read.js"), what: "the least a consent banner can do (minimal-read.js: reads its cookie, then one line)"},
		{path: "/proxied.html", own: ourURL, what: "ours from the page's own origin (/consentry/, a reverse proxy to the service)"},
		{path: "/first.html", own: ourURL, what: "ours first in <head>, without async (the README's embed for Consent Mode)"},
	}
	if *variantURL != "" {
		contenders = append(contenders, &contender{path: "/variant.html", own: ourURL, what: "--variant " + *variantURL})
	}
	var floor []float64
	for i := range *loads + 1 {
		// Untraced loads give the timings; traced ones (tracing slows the page) give the
		// script time by URL.
		round := make([]sample, len(contenders))
		for _, trace := range []bool{false, true} {
			for j, c := range contenders {
				s, err := c.load(browser, fresh(c.path), trace)
				if err != nil {
					return err
				}
				if trace {
					round[j].EvalMS, round[j].EvalCPU = s.EvalMS, s.EvalCPU
				} else {
					round[j] = s
				}
			}
		}
		fcp, err := firstPaint(browser, fresh("/bare.html"))
		if err != nil {
			return fmt.Errorf("/bare.html: %w", err)
		}
		if i > 0 { // the first round warms the browser process up
			for j, c := range contenders {
				c.samples = append(c.samples, round[j])
			}
			floor = append(floor, fcp)
		}
	}
	for _, c := range contenders[2:] {
		compare(c.what, contenders[0].samples, c.samples)
	}
	least := contenders[slices.IndexFunc(contenders, func(c *contender) bool { return c.path == "/minimal-read.html" })]
	return report(ours, theirs, contenders[0].samples, contenders[1].samples, least.samples, floor)
}

// contender is one page of the run and its samples, one per round.
type contender struct {
	path    string
	own     func(url string) bool // whether a script URL is this page's banner
	what    string                // the title of its table against ours
	samples []sample
}

// load loads the page once at url, again when a trace comes back without the page's events.
func (c *contender) load(browser context.Context, url string, trace bool) (sample, error) {
	var s sample
	var err error
	for try := 0; try < 3 && (try == 0 || trace && s.EvalMS == 0); try++ {
		if s, err = load(browser, url, c.own, trace); err != nil {
			return s, fmt.Errorf("%s: %w", c.path, err)
		}
		// The example site counts pageviews without consent (exempt mode).
		if trace && c.own("/banner.js") && s.Beacons == 0 {
			return s, fmt.Errorf("%s: our pageview had not left when the trace ended, so its script time is missing", c.path)
		}
	}
	return s, nil
}

// firstPaint loads the page without a banner, cold, and returns its first contentful
// paint: the floor under "banner visible" on this machine.
func firstPaint(browser context.Context, url string) (float64, error) {
	tab, cancel, err := newTab(browser)
	if err != nil {
		return 0, err
	}
	defer cancel()
	ctx, stop := context.WithTimeout(tab, 30*time.Second)
	defer stop()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return 0, err
	}
	return browsertest.Poll[float64](ctx, `(performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime`, 10*time.Millisecond, 10*time.Second)
}

var freshContext = flag.Bool("fresh-context", false, "give each load a new tab in a new browser context (colder than a visitor's browser: a network context is set up per load)")

// newTab returns the tab of one cold load: the browser's one tab, left on about:blank so
// that nothing of the previous page runs meanwhile (as Lighthouse loads a page), or with
// --fresh-context a new one. Each page is at a new site, so it gets a new renderer
// process either way. One tab also keeps the browser's own window quiet: in Chromium's
// headless mode the browser UI is drawn too, and opening a tab animates its tab strip on
// the same two cores as the page.
func newTab(browser context.Context) (context.Context, context.CancelFunc, error) {
	if *freshContext {
		tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		// The first run opens the tab for the tab context's lifetime: not under a deadline.
		if err := chromedp.Do(tab); err != nil {
			cancel()
			return nil, nil, err
		}
		return tab, cancel, nil
	}
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		return nil, nil, err
	}
	return browser, func() {}, nil
}

var breakdown = flag.Bool("breakdown", false, "print what ran inside each banner's script events (traced loads)")

// ownScriptEvents picks a banner's main-thread script time from a trace: EvaluateScript
// and FunctionCall events (listeners, timers) of its URLs, and the microtasks that run on
// their own after its script has started. Promise reactions (after an await, say) run there
// and are traced without a URL; the page's own callbacks inside them are left out, the rest
// is counted as the banner's, which may count a little of the page's against it.
func ownScriptEvents(events []traceEvent, ownScript func(string) bool) []traceEvent {
	var own []traceEvent
	for _, te := range events {
		if (te.Name == "EvaluateScript" || te.Name == "FunctionCall") && ownScript(te.Args.Data.URL) {
			own = append(own, te)
		}
	}
	if len(own) == 0 {
		return nil
	}
	inside := func(te, o traceEvent) bool { return te.Tid == o.Tid && te.Ts >= o.Ts && te.Ts+te.Dur <= o.Ts+o.Dur }
	scripts := own
	for _, te := range events {
		if te.Name != "RunMicrotasks" || te.Tid != own[0].Tid || te.Ts < own[0].Ts || slices.ContainsFunc(scripts, func(o traceEvent) bool { return inside(te, o) }) {
			continue
		}
		for _, f := range events {
			if f.Name == "FunctionCall" && !ownScript(f.Args.Data.URL) && inside(f, te) {
				te.Dur -= f.Dur
				te.TDur -= f.TDur
			}
		}
		own = append(own, te)
	}
	return own
}

// load opens url in a fresh browser context (cold cache), waits for the banner, and reads
// the page's figures and Chromium's script time.
func load(browser context.Context, url string, ownScript func(string) bool, trace bool) (sample, error) {
	tab, cancel, err := newTab(browser)
	if err != nil {
		return sample{}, err
	}
	defer cancel()
	ctx, stop := context.WithTimeout(tab, 30*time.Second)
	defer stop()
	var complete iter.Seq2[tracing.EventTracingComplete, error]
	if trace {
		complete = chromedp.Events(ctx, tracing.TracingComplete)
	}
	categories := []string{"devtools.timeline", "v8.execute"} // v8.execute: RunMicrotasks
	if *breakdown {
		categories = append(categories, "disabled-by-default-v8.cpu_profiler", "disabled-by-default-devtools.timeline", "v8", "blink", "toplevel", "__metadata", "cc", "viz", "gpu")
	}
	err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, performance.Enable, performance.EnableParams{}); err != nil {
			return err
		}
		if !trace {
			return nil
		}
		// The trace stays in the browser until the load is over: streamed during the load,
		// its events would be encoded by Chromium and decoded here on the same two cores
		// as the page, slowing what it measures.
		if _, err := cdp.Call(ctx, t, tracing.Start, tracing.StartParams{TransferMode: tracing.StartTransferModeReturnAsStream,
			TraceConfig: &tracing.TraceConfig{IncludedCategories: categories}}); err != nil {
			return err
		}
		return nil
	}), chromedp.Navigate(url))
	if err != nil {
		return sample{}, err
	}
	if _, err := browsertest.Poll[chromedp.Void](ctx, `window.__m && __m.visible > 0`, 10*time.Millisecond, 10*time.Second); err != nil {
		dom, _ := chromedp.Run(tab, chromedp.Evaluate[string](`JSON.stringify({vis: document.visibilityState, cst: !!document.querySelector(".cst"), m: window.__m, rects: document.querySelector(".cst") && document.querySelector(".cst").getClientRects().length})`))
		return sample{}, fmt.Errorf("the banner never showed (%w); page: %s", err, dom)
	}
	time.Sleep(settleAfterHit)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[sample](count))
	if err != nil {
		return sample{}, err
	}
	if s.Painted == 0 {
		return sample{}, errors.New("the banner showed but Element Timing saw no paint of it")
	}
	metrics, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (performance.GetMetricsResult, error) {
		return cdp.Call(ctx, t, performance.GetMetrics, cdp.Empty{})
	})
	if err != nil {
		return sample{}, err
	}
	for _, m := range metrics.Metrics {
		switch m.Name {
		case "ScriptDuration":
			s.ScriptMS = m.Value * 1000
		case "RecalcStyleDuration", "LayoutDuration":
			s.StyleMS += m.Value * 1000
		case "TaskDuration":
			s.TaskMS = m.Value * 1000
		}
	}
	if !trace {
		return s, nil
	}
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, tracing.End, cdp.Empty{})
		return err
	})); err != nil {
		return sample{}, err
	}
	var done tracing.EventTracingComplete
	for ev, err := range complete {
		if err != nil {
			return sample{}, fmt.Errorf("trace: %w", err)
		}
		done = ev
		break
	}
	tr, err := readTrace(ctx, done.Stream)
	if err != nil {
		return sample{}, err
	}
	own := ownScriptEvents(tr.events, ownScript)
	for _, te := range own {
		s.EvalMS += te.Dur / 1000
		s.EvalCPU += te.TDur / 1000
	}
	if *breakdown {
		printBreakdown(url, s, own, tr)
	}
	return s, nil
}

func gzipped(client *http.Client, url string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return len(gzip9(body)), nil
}

// gzip9 is gzip -9, how the banners' sizes are compared.
func gzip9(data []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(data)
	_ = w.Close()
	return buf.Bytes()
}

func median[T int | float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func pick[T int | float64](ss []sample, f func(sample) T) []T {
	out := make([]T, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// report prints ours against vanilla-cookieconsent and checks the budgets; least is the
// least a consent banner can do (minimal-read.js), the floor under ours.
func report(ours, theirs int, us, them, least []sample, floor []float64) error {
	fmt.Printf("first visit, median of %d cold loads each, alternating, one headless Chromium (%s)\n", len(us), browsertest.Path())
	fmt.Printf("%-40s %14s %22s %8s\n", "", "consentry", "vanilla-cookieconsent", "ratio")
	row := func(name string, a, b float64, unit string) {
		fmt.Printf("%-40s %11.1f %-2s %19.1f %-2s %8.2f\n", name, a, unit, b, unit, a/b)
	}
	row("JS+CSS, gzip -9", float64(ours)/1024, float64(theirs)/1024, "KB")
	enc := func(s sample) int { return s.Encoded }
	row("bytes loaded (as served: br / gzip)", float64(median(pick(us, enc)))/1024, float64(median(pick(them, enc)))/1024, "KB")
	req := func(s sample) int { return s.Requests }
	row("requests besides the page", float64(median(pick(us, req))), float64(median(pick(them, req))), "")
	script := func(s sample) float64 { return s.EvalMS }
	row("banner script time (trace, by URL)", median(pick(us, script)), median(pick(them, script)), "ms")
	cpu := func(s sample) float64 { return s.EvalCPU }
	row("  of which on the CPU (thread time)", median(pick(us, cpu)), median(pick(them, cpu)), "ms")
	all := func(s sample) float64 { return s.ScriptMS }
	row("all page script (ScriptDuration)", median(pick(us, all)), median(pick(them, all)), "ms")
	for _, m := range []metric{
		{"style and layout", func(s sample) float64 { return s.StyleMS }},
		{"main-thread tasks", func(s sample) float64 { return s.TaskMS }},
		{"page response end", func(s sample) float64 { return s.Doc }},
		{"DOMContentLoaded", func(s sample) float64 { return s.DCL }},
		{"banner script requested", func(s sample) float64 { return s.Asked }},
		{"  connection started", func(s sample) float64 { return s.Connect }},
		{"  TLS handshake started", func(s sample) float64 { return s.TLS }},
		{"  request sent", func(s sample) float64 { return s.Sent }},
		{"  first byte", func(s sample) float64 { return s.First }},
		{"banner files fetched", func(s sample) float64 { return s.Fetched }},
		{"first contentful paint", func(s sample) float64 { return s.FCP }},
	} {
		row(m.name, median(pick(us, m.f)), median(pick(them, m.f)), "ms")
	}
	visible := func(s sample) float64 { return s.Visible }
	row("banner in a frame from (rAF)", median(pick(us, visible)), median(pick(them, visible)), "ms")
	painted := func(s sample) float64 { return s.Painted }
	row("banner visible: presented (Element Timing)", median(pick(us, painted)), median(pick(them, painted)), "ms")
	elems := func(s sample) int { return s.Elements }
	row("elements added (first layer)", float64(median(pick(us, elems))), float64(median(pick(them, elems))), "")
	nodes := func(s sample) int { return s.Nodes }
	row("DOM nodes added, text included", float64(median(pick(us, nodes))), float64(median(pick(them, nodes))), "")
	cls := func(s sample) float64 { return s.CLS }
	fmt.Printf("%-40s %14.4f %22.4f\n", "CLS (max over loads)", slices.Max(pick(us, cls)), slices.Max(pick(them, cls)))
	fmt.Printf("%-40s %11.1f ms (the same page without a banner: the floor here)\n", "first contentful paint, no banner", median(floor))
	fmt.Printf("script time per load (ms): %v\n", round(pick(us, script)))
	fmt.Printf("script CPU per load (ms):  %v\n", round(pick(us, cpu)))
	fmt.Printf("in a frame per load (ms):  %v\n", round(pick(us, visible)))
	fmt.Printf("presented per load (ms):   %v\n", round(pick(us, painted)))
	fmt.Printf("FCP per load (ms):         %v\n", round(pick(us, func(s sample) float64 { return s.FCP })))

	var failed []error
	check := func(name string, ok bool) {
		fmt.Printf("budget %-44s %s\n", name+":", map[bool]string{true: "yes", false: "NO"}[ok])
		if !ok {
			failed = append(failed, errors.New(name))
		}
	}
	check(fmt.Sprintf("JS+CSS gzip <= %d B (%d B)", maxGzipBytes, ours), ours <= maxGzipBytes)
	check(fmt.Sprintf("first layer <= %d DOM nodes (%d)", maxNodes, median(pick(us, elems))), median(pick(us, elems)) <= maxNodes)
	check("CLS 0", slices.Max(pick(us, cls)) == 0)
	check(fmt.Sprintf("script <= %.0f ms, wall (%.1f)", maxScriptMS, median(pick(us, script))), median(pick(us, script)) <= maxScriptMS)
	check(fmt.Sprintf("script <= %.0f ms, CPU (%.1f)", maxScriptMS, median(pick(us, cpu))), median(pick(us, cpu)) <= maxScriptMS)
	check(fmt.Sprintf("visible (presented) <= %.0f ms (%.1f)", maxVisibleMS, median(pick(us, painted))), median(pick(us, painted)) <= maxVisibleMS)
	fmt.Printf("  the floor in this run: a one-line consent banner is presented at %.1f ms, the page without a banner first paints at %.1f ms\n",
		median(pick(least, painted)), median(floor))
	check("smaller than vanilla-cookieconsent", ours < theirs)
	return errors.Join(failed...)
}

// metric is one row of a report: a name and how to read it from a load.
type metric struct {
	name string
	f    func(sample) float64
}

// compare prints our banner against another script measured in the same run.
func compare(what string, us, other []sample) {
	fmt.Printf("%-40s %14s %14s %8s\n", "", "consentry", "other", "ratio")
	fmt.Printf("other: %s\n", what)
	for _, m := range []metric{
		{"banner script time (trace, by URL)", func(s sample) float64 { return s.EvalMS }},
		{"  of which on the CPU (thread time)", func(s sample) float64 { return s.EvalCPU }},
		{"banner script requested", func(s sample) float64 { return s.Asked }},
		{"  connection started", func(s sample) float64 { return s.Connect }},
		{"  TLS handshake started", func(s sample) float64 { return s.TLS }},
		{"  request sent", func(s sample) float64 { return s.Sent }},
		{"  first byte", func(s sample) float64 { return s.First }},
		{"banner files fetched", func(s sample) float64 { return s.Fetched }},
		{"first contentful paint", func(s sample) float64 { return s.FCP }},
		{"banner in a frame from (rAF)", func(s sample) float64 { return s.Visible }},
		{"banner visible: presented (Element Timing)", func(s sample) float64 { return s.Painted }},
		{"bytes loaded", func(s sample) float64 { return float64(s.Encoded) }},
	} {
		a, b := median(pick(us, m.f)), median(pick(other, m.f))
		fmt.Printf("%-40s %14.1f %14.1f %8.2f\n", m.name, a, b, b/a)
	}
	fmt.Println()
}

func round(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(int(x*10)) / 10
	}
	return out
}

// readTexts loads the banner's English texts so both banners say the same things.
func readTexts() (map[string]string, error) {
	data, err := os.ReadFile("banner/i18n/en.json")
	if err != nil {
		return nil, err
	}
	t := map[string]string{}
	return t, json.Unmarshal(data, &t)
}

// newPages serves the two test pages, alike but for the banner, and vanilla-cookieconsent's
// files gzip-compressed once (as ours are).
// Our page loads the banner from the service at a host named after the page's own first
// label (l7.shop.test loads from l7.consentry.test), so each cold load also meets a new
// banner host. services maps our pages to their service: /ours.html, and /variant.html
// with --variant. /proxied.html embeds the banner from the page's own origin, where
// /consentry/ goes to proxy, as a site's reverse proxy would.
func newPages(services map[string]*url.URL, proxy http.Handler, site, vcc string, t map[string]string) (http.Handler, error) {
	body := `<main><h1>A page</h1><p>` + t["text"] + `</p><p>` + t["settings_text"] + `</p></main></body></html>`
	head := `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>bench</title><script>` + observe + `</script>`
	ours := head + `<script src="` + consentHost + `/s/` + site + `/banner.js" async></script></head><body>` + body
	// vanilla-cookieconsent from a CDN host, as its README's first example (jsDelivr) has
	// it, and its configuration from the site: two hosts, as ours has.
	theirs := head + `<link rel="stylesheet" href="` + cdnHost + `/vcc/cookieconsent.css"><script src="` + cdnHost + `/vcc/cookieconsent.umd.js" defer></script><script src="/vcc-config.js" defer></script></head><body>` + body
	config, err := vccConfig(t)
	if err != nil {
		return nil, err
	}
	least := head + `<script src="` + consentHost + `/minimal.js" async></script></head><body>` + body
	leastConsent := head + `<script src="` + consentHost + `/minimal-read.js" async></script></head><body>` + body
	proxied := head + `<script src="/consentry/s/` + site + `/banner.js" async></script></head><body>` + body
	// The README's embed for Consent Mode: first in <head> (after the bench's own observer),
	// without async, so that the page waits for it.
	first := strings.Replace(ours, `/banner.js" async>`, `/banner.js">`, 1)
	files := map[string][]byte{"/bare.html": []byte(head + "</head><body>" + body), "/ours.html": []byte(ours), "/variant.html": []byte(ours),
		"/minimal.html": []byte(least), "/proxied.html": []byte(proxied), "/first.html": []byte(first), "/minimal.js": []byte(minimalBanner), "/vcc.html": []byte(theirs), "/vcc-config.js": config,
		"/minimal-read.html": []byte(leastConsent), "/minimal-read.js": []byte(minimalConsentBanner)}
	for _, f := range []string{"cookieconsent.umd.js", "cookieconsent.css"} {
		data, err := os.ReadFile(filepath.Join(vcc, f))
		if err != nil {
			return nil, fmt.Errorf("vanilla-cookieconsent (npm --prefix scripts/browser install): %w", err)
		}
		files["/vcc/"+f] = data
	}
	packed := map[string][]byte{}
	for name, data := range files {
		packed[name] = gzip9(data)
	}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}
	proxy = http.StripPrefix("/consentry", proxy)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/consentry/") {
			proxy.ServeHTTP(w, r)
			return
		}
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", types[filepath.Ext(r.URL.Path)])
		w.Header().Set("Timing-Allow-Origin", "*") // minimal.js's size, seen from the page's origin
		gz := bytes.Contains([]byte(r.Header.Get("Accept-Encoding")), []byte("gzip"))
		label, _, named := strings.Cut(r.Host, ".shop.test:")
		if service := services[r.URL.Path]; service != nil || r.URL.Path == "/vcc.html" {
			if named && service != nil {
				data = bytes.Replace(data, []byte(consentHost), []byte(service.Scheme+"://"+label+".consentry.test:"+service.Port()), 1)
			}
			if named && r.URL.Path == "/vcc.html" {
				_, port, _ := strings.Cut(r.Host, ":")
				data = bytes.ReplaceAll(data, []byte(cdnHost), []byte(scheme(r)+"://"+label+".cdn.test:"+port))
			}
			data = bytes.ReplaceAll(data, []byte(cdnHost), nil) // the page's own origin
			if gz {
				w.Header().Set("Content-Encoding", "gzip")
				data = gzip9(data)
			}
		} else if gz {
			w.Header().Set("Content-Encoding", "gzip")
			data = packed[r.URL.Path]
		}
		_, _ = w.Write(data)
	}), nil
}

// vccConfig is vanilla-cookieconsent configured like the example shop: four categories
// (one read-only), three vendors in cookie tables, one language, the same texts, and
// hideFromBots off so that it shows to this headless browser as it does to visitors.
func vccConfig(t map[string]string) ([]byte, error) {
	section := func(id string, vendors ...[3]string) map[string]any {
		s := map[string]any{"title": t["cat."+id+".name"], "description": t["cat."+id+".description"], "linkedCategory": id}
		if len(vendors) > 0 {
			var rows []map[string]string
			for _, v := range vendors {
				rows = append(rows, map[string]string{"name": v[0], "domain": v[1], "desc": v[2]})
			}
			s["cookieTable"] = map[string]any{"headers": map[string]string{"name": t["cookies"], "domain": t["vendors"], "desc": "Purpose"}, "body": rows}
		}
		return s
	}
	cfg := map[string]any{
		"hideFromBots": false,
		"categories": map[string]any{
			"necessary": map[string]any{"enabled": true, "readOnly": true}, "preferences": map[string]any{},
			"analytics": map[string]any{}, "marketing": map[string]any{},
		},
		"language": map[string]any{"default": "en", "translations": map[string]any{"en": map[string]any{
			"consentModal": map[string]any{
				"title": t["title"], "description": t["text"] + ` <a href="https://shop.example/privacy">` + t["policy"] + `</a>`,
				"acceptAllBtn": t["accept"], "acceptNecessaryBtn": t["reject"], "showPreferencesBtn": t["customize"],
			},
			"preferencesModal": map[string]any{
				"title": t["settings_title"], "acceptAllBtn": t["accept"], "acceptNecessaryBtn": t["reject"],
				"savePreferencesBtn": t["save"], "closeIconLabel": t["close"],
				"sections": []any{
					map[string]any{"description": t["settings_text"]},
					section("necessary"), section("preferences"),
					section("analytics", [3]string{"_pk_id*", "Matomo", "Self-hosted visit statistics"}),
					section("marketing", [3]string{"_gcl_*", "Google Ads", "Ad conversion measurement"}, [3]string{"_fbp", "Meta Pixel", "Ad audiences and conversions"}),
				},
			},
		}}},
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return []byte("CookieConsent.run(" + string(js) + ");\n"), nil
}

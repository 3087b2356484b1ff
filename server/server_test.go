package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/consentry/consentry/banner"
	"github.com/consentry/consentry/collector"
	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/internal/chtest"
	"github.com/consentry/consentry/internal/fields"
	"github.com/consentry/consentry/schema"
)

const (
	chromeUA  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	shopOrig  = "https://shop.example"
)

const testSites = `
sites:
  - id: shop
    origins: ["https://shop.example", "http://localhost:8081"]
    policy_version: "2026-11-01"
    analytics_mode: exempt
    query_params: [utm_source, utm_medium, utm_campaign, utm_term, utm_content]
    categories:
      - {id: necessary, required: true}
      - {id: analytics, technologies: [beacon, cookie]}
  - id: blog
    origins: ["https://blog.example"]
    policy_version: "2026-10-15"
    analytics_mode: consent
    categories:
      - {id: necessary, required: true}
  - id: news
    origins: ["https://news.example"]
    policy_version: "v1"
    analytics_mode: consent
    consent_max_age: 30
    categories:
      - {id: necessary, required: true}
      - {id: preferences, technologies: [storage]}
      - {id: analytics, technologies: [beacon, cookie]}
      - {id: marketing, technologies: [pixel, cookie]}
  - id: forum
    origins: ["https://forum.example"]
    policy_version: "f1"
    analytics_mode: consent
    honor_signals: allow_explicit
    categories:
      - {id: necessary, required: true}
      - {id: analytics, technologies: [beacon]}
`

// testKeys signs every test replica's receipts unless a test brings its own.
var testKeys = func() *consent.KeySet {
	ks, err := consent.GenerateKeySet()
	if err != nil {
		panic(err)
	}
	return ks
}()

// syncBuffer collects everything the service logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// env is the real Fiber app over the real collector and a fresh ClickHouse database.
type env struct {
	app     *fiber.App
	conn    driver.Conn
	svc     *collector.Service
	consent *consent.Service
	banners *banner.Banners
	reg     *prometheus.Registry
	logs    *syncBuffer
	drained bool
}

func testConfig() Config {
	return Config{
		MaxBody: 4096, Limits: collector.DefaultLimits, DecisionLimits: consent.DefaultDecisionLimits, ConsentTimeout: 5 * time.Second,
		RateLimit: 1000, RateClients: 1000, BannerMaxAge: 5 * time.Minute,
	}
}

// envOptions vary a replica; the zero value is the usual test replica.
type envOptions struct {
	now     func() time.Time // clock of the HTTP layer and the consent service
	sites   string           // sites YAML; testSites if empty
	keys    *consent.KeySet  // testKeys if nil
	refresh time.Duration    // revocation refresh; an hour if zero (tests call Refresh)
	ledger  consent.LedgerConfig
	flush   time.Duration // the event writer's flush interval; an hour if zero (tests drain)
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	return newEnvClock(t, cfg, nil)
}

// newEnvClock is newEnv with the HTTP layer's clock (rate windows) injected.
func newEnvClock(t *testing.T, cfg Config, now func() time.Time) *env {
	t.Helper()
	_, conn := chtest.Open(t, true)
	return newEnvOn(t, conn, cfg, now)
}

// newEnvOn is one service replica on an existing database.
func newEnvOn(t *testing.T, conn driver.Conn, cfg Config, now func() time.Time) *env {
	t.Helper()
	return newEnvWith(t, conn, cfg, envOptions{now: now})
}

// newEnvWith is one service replica on an existing database, varied by o.
func newEnvWith(t *testing.T, conn driver.Conn, cfg Config, o envOptions) *env {
	t.Helper()
	if o.sites == "" {
		o.sites = testSites
	}
	if o.keys == nil {
		o.keys = testKeys
	}
	if o.refresh == 0 {
		o.refresh = time.Hour
	}
	if o.flush == 0 {
		o.flush = time.Hour
	}
	if o.ledger.MaxBatch == 0 {
		o.ledger = consent.DefaultLedgerConfig
	}
	sites, err := consent.ParseSites("test.yaml", []byte(o.sites))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	banners, err := banner.New(sites)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := banners.Versions()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := consent.Start(ctx, conn, sites, o.keys, consent.ServiceConfig{
		Issuer: "consentry-test", ReceiptCache: 100, Ledger: o.ledger, RevocationRefresh: o.refresh,
		ErasurePoll: 5 * time.Second, StatsInterval: time.Hour, StatsOverlap: 2 * time.Minute, Now: o.now, Banners: versions,
	}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := collector.Start(ctx, conn, collector.ServiceConfig{
		Writer:  collector.WriterConfig{QueueSize: 1000, BatchRows: 1000, FlushInterval: o.flush},
		UACache: 100,
		Permits: cs,
		Now:     o.now,
	}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := o.keys.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{conn: conn, svc: svc, consent: cs, banners: banners, reg: reg, logs: logs}
	e.app = New(cfg, Deps{Sites: sites, Banners: banners, Collector: svc, Consent: cs, AdminData: cs, Admin: consent.NewAdminTokens(o.keys, "consentry-test", o.now), JWKS: jwks, Ready: conn.Ping, Registry: reg, Log: log, Now: o.now})
	t.Cleanup(func() {
		_ = cs.Ledger.Close(context.Background())
		if !e.drained {
			_ = svc.Writer.Close(context.Background())
		}
	})
	return e
}

// drain writes everything queued into ClickHouse, as shutdown does.
func (e *env) drain(t *testing.T) {
	t.Helper()
	e.drained = true
	if err := e.svc.Writer.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// listen serves the app on a real loopback socket (for peer addresses and keep-alive).
func (e *env) listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	t.Cleanup(func() { _ = e.app.Shutdown() })
	return "http://" + ln.Addr().String()
}

type hdr map[string]string

// browser is what a real page's sendBeacon sends.
func browser(extra hdr) hdr {
	h := hdr{"Origin": shopOrig, "Content-Type": "text/plain;charset=UTF-8", "User-Agent": chromeUA, "Accept-Language": "en-GB,en;q=0.9"}
	for k, v := range extra {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

func (e *env) post(t *testing.T, body string, h hdr) *http.Response {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/collect", body, h)
}

// do sends one request through the real Fiber app.
func (e *env) do(t *testing.T, method, path, body string, h hdr) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// postHTTP sends over a real socket (needed where fasthttp itself answers, as for 413).
func postHTTP(t *testing.T, base, body string, h hdr) *http.Response {
	t.Helper()
	return sendHTTP(t, base, http.MethodPost, "/v1/collect", body, h)
}

// sendHTTP is postHTTP for any method and path.
func sendHTTP(t *testing.T, base, method, path, body string, h hdr) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func pageview(url string) string {
	return fmt.Sprintf(`{"site":"shop","type":"pageview","url":%q,"referrer":"https://www.google.com/search?q=x"}`, url)
}

func wantStatus(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, want %d (reason %q, body %s)", resp.StatusCode, status, resp.Header.Get("X-Consentry-Reason"), b)
	}
}

type eventRow struct {
	Site, Type, Name, Host, Path, Query, Referrer, UTMSource, UTMCampaign string
	Visitor                                                               uint64
	Browser, Version, OS, Device                                          string
	Keys, Values                                                          []string
}

func (e *env) events(t *testing.T) []eventRow {
	t.Helper()
	rows, err := e.conn.Query(context.Background(), `SELECT site, toString(type), name, host, path, query, referrer_host, utm_source, utm_campaign,
		visitor, browser, browser_version, os, device, prop_keys, prop_values FROM events ORDER BY ts, path`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []eventRow
	for rows.Next() {
		var r eventRow
		if err := rows.Scan(&r.Site, &r.Type, &r.Name, &r.Host, &r.Path, &r.Query, &r.Referrer, &r.UTMSource, &r.UTMCampaign,
			&r.Visitor, &r.Browser, &r.Version, &r.OS, &r.Device, &r.Keys, &r.Values); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestCollectStoresAnonymizedEvent(t *testing.T) {
	e := newEnv(t, testConfig())
	wantStatus(t, e.post(t, pageview("https://shop.example/products/42?utm_source=news&utm_campaign=bf&session=abc#top"), browser(nil)), 204)
	resp := e.post(t, `{"site":"shop","type":"event","url":"https://shop.example/checkout","name":"signup","props":{"plan":"pro","seats":3}}`, browser(hdr{"Content-Type": "application/json"}))
	wantStatus(t, resp, 204)
	if resp.Header.Get("Access-Control-Allow-Origin") != shopOrig {
		t.Errorf("CORS header %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	e.drain(t)
	rows := e.events(t)
	if len(rows) != 2 {
		t.Fatalf("want 2 rows, got %+v", rows)
	}
	pv, ev := rows[0], rows[1]
	if pv.Type != "pageview" {
		pv, ev = ev, pv
	}
	if pv.Path != "/products/42" || pv.Query != "" || pv.UTMSource != "news" || pv.UTMCampaign != "bf" || pv.Referrer != "www.google.com" ||
		pv.Host != "shop.example" || pv.Type != "pageview" || pv.Browser != "Chrome" || pv.Version != "131" || pv.OS != "Linux" || pv.Device != "desktop" || pv.Visitor == 0 {
		t.Errorf("pageview row: %+v", pv)
	}
	if ev.Name != "signup" || strings.Join(ev.Keys, ",") != "plan,seats" || strings.Join(ev.Values, ",") != "pro,3" || ev.Visitor != pv.Visitor {
		t.Errorf("event row: %+v", ev)
	}
}

// Privacy rules 2-4: nothing identifying reaches any table or any log line.
func TestPrivacyNothingIdentifyingStoredOrLogged(t *testing.T) {
	cfg := testConfig()
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	e := newEnv(t, cfg)
	base := e.listen(t)
	const (
		ip    = "203.0.113.77"
		email = "jane.doe@example.com"
		hex   = "a3f9c2e18b7d4f60a1b2c3d4e5f60718"
		jwt   = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	)
	secrets := []string{ip, email, hex, jwt, chromeUA}
	bodies := []string{
		pageview("https://shop.example/u/" + email + "/" + ip + "/" + hex + "?utm_source=" + email + "&utm_medium=" + ip + "&utm_campaign=" + jwt + "&token=" + hex),
		`{"site":"shop","type":"pageview","url":"https://shop.example/p?utm_content=` + jwt + `","referrer":"https://` + ip + `/from?e=` + email + `"}`,
		fmt.Sprintf(`{"site":"shop","type":"event","url":"https://shop.example/x","name":"sent to %s from %s","props":{"email":%q,"ip":%q,"ua":%q,"tok":%q,%q:"k"}}`, email, ip, email, ip, chromeUA, jwt, hex),
	}
	for _, b := range bodies {
		wantStatus(t, postHTTP(t, base, b, browser(hdr{"X-Forwarded-For": ip})), 204)
	}
	// The consent ledger sees the same visitor: a decision, a beacon with its receipt,
	// the visitor reading and erasing their records, and a second visitor who stays.
	decision := func() decisionAnswer {
		resp := sendHTTP(t, base, http.MethodPost, "/v1/consent", `{"site":"news","method":"accept_all","lang":"en-GB","banner_version":"1.2"}`,
			visitor(newsOrig, hdr{"X-Forwarded-For": ip}))
		wantStatus(t, resp, 200)
		var a decisionAnswer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	gone, kept := decision(), decision()
	for _, a := range []decisionAnswer{gone, kept} {
		for _, s := range secrets {
			if strings.Contains(a.Receipt, s) {
				t.Errorf("the receipt holds %q", s)
			}
		}
		body := fmt.Sprintf(`{"site":"news","type":"pageview","url":"https://news.example/%s","receipt":%q}`, email, a.Receipt)
		wantStatus(t, postHTTP(t, base, body, visitor(newsOrig, hdr{"X-Forwarded-For": ip})), 204)
	}
	wantStatus(t, sendHTTP(t, base, http.MethodGet, "/v1/consent/me", "", hdr{"Authorization": "Bearer " + gone.Receipt, "X-Forwarded-For": ip, "User-Agent": chromeUA}), 200)
	wantStatus(t, sendHTTP(t, base, http.MethodDelete, "/v1/consent/me", "", hdr{"Authorization": "Bearer " + gone.Receipt, "X-Forwarded-For": ip, "User-Agent": chromeUA}), 200)
	// Loading the banner (with the visitor's headers) leaves nothing behind either.
	wantStatus(t, sendHTTP(t, base, http.MethodGet, "/s/news/banner.js?lang="+email, "", hdr{"X-Forwarded-For": ip, "User-Agent": chromeUA, "Accept-Language": "en", "Sec-GPC": "1"}), 200)
	// A malformed request and a DNT request must not leak either.
	wantStatus(t, e.post(t, `{"site":"shop","type":"pageview","url":"https://shop.example/`+email+`","bogus":"`+ip+`"}`, browser(nil)), 400)
	wantStatus(t, e.post(t, pageview("https://shop.example/"+email), browser(hdr{"DNT": "1"})), 204)
	e.drain(t)
	if n := chtest.Count(t, e.conn, "SELECT count() FROM events"); n != 5 {
		t.Fatalf("want 5 stored events, got %d", n)
	}
	if n := chtest.Count(t, e.conn, "SELECT count() FROM consents"); n != 1 {
		t.Fatalf("want the kept visitor's decision, got %d rows", n)
	}
	cols, err := e.conn.Query(context.Background(), "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() AND type LIKE '%String%' AND type NOT LIKE 'AggregateFunction%'")
	if err != nil {
		t.Fatal(err)
	}
	scanned := 0
	for cols.Next() {
		var table, col, typ string
		if err := cols.Scan(&table, &col, &typ); err != nil {
			t.Fatal(err)
		}
		expr := col
		if strings.HasPrefix(typ, "Array(") {
			expr = fmt.Sprintf("arrayStringConcat(%s, '\\n')", col)
		}
		for _, s := range secrets {
			n := chtest.Count(t, e.conn, fmt.Sprintf("SELECT count() FROM %s WHERE position(%s, ?) > 0", table, expr), s)
			if n > 0 {
				t.Errorf("%s.%s holds %q in %d rows", table, col, s, n)
			}
		}
		scanned++
	}
	cols.Close()
	if scanned < 10 {
		t.Fatalf("scanned only %d string columns", scanned)
	}
	logs := e.logs.String()
	for _, s := range append(secrets, "Mozilla/5.0", "127.0.0.1") {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds %q", s)
		}
	}
}

func TestDNTAndGPCStoreOnlyACount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers hdr
		signals map[string]uint64
	}{
		{"DNT", hdr{"DNT": "1"}, map[string]uint64{"dnt": 2}},
		{"GPC", hdr{"Sec-GPC": "1"}, map[string]uint64{"gpc": 2}},
		{"both", hdr{"DNT": "1", "Sec-GPC": "1"}, map[string]uint64{"dnt": 2, "gpc": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, testConfig())
			for range 2 {
				resp := e.post(t, pageview("https://shop.example/a"), browser(tc.headers))
				wantStatus(t, resp, 204)
				if resp.Header.Get("X-Consentry-Not-Stored") == "" {
					t.Error("no X-Consentry-Not-Stored reason")
				}
			}
			wantStatus(t, e.post(t, pageview("https://shop.example/a"), browser(hdr{"DNT": "0"})), 204) // DNT: 0 is no signal
			e.drain(t)
			if n := chtest.Count(t, e.conn, "SELECT count() FROM events"); n != 1 {
				t.Fatalf("events = %d, want only the DNT: 0 one", n)
			}
			for sig, want := range tc.signals {
				if n := chtest.Count(t, e.conn, "SELECT sum(count) FROM signals WHERE site = 'shop' AND signal = ? AND day = today()", sig); n != want {
					t.Errorf("signals[%s] = %d, want %d", sig, n, want)
				}
			}
			if n := chtest.Count(t, e.conn, "SELECT count() FROM signals WHERE signal NOT IN ('dnt', 'gpc')"); n != 0 {
				t.Errorf("unexpected signal rows: %d", n)
			}
		})
	}
}

func TestBotsAreDroppedAndCounted(t *testing.T) {
	e := newEnv(t, testConfig())
	for _, h := range []hdr{
		{"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
		{"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"},
		{"User-Agent": "curl/8.5.0"},
		{"Accept-Language": ""}, // real browsers always send it
	} {
		resp := e.post(t, pageview("https://shop.example/"), browser(h))
		wantStatus(t, resp, 204)
		if resp.Header.Get("X-Consentry-Not-Stored") != "bot" {
			t.Errorf("%v: not-stored reason %q", h, resp.Header.Get("X-Consentry-Not-Stored"))
		}
	}
	e.drain(t)
	if n := chtest.Count(t, e.conn, "SELECT count() FROM events"); n != 0 {
		t.Fatalf("bots stored %d events", n)
	}
	if n := chtest.Count(t, e.conn, "SELECT sum(count) FROM signals WHERE signal = 'bot'"); n != 4 {
		t.Fatalf("bot count = %d, want 4", n)
	}
}

func TestConsentModeSiteStoresNothingWithoutReceipt(t *testing.T) {
	e := newEnv(t, testConfig())
	resp := e.post(t, `{"site":"blog","type":"pageview","url":"https://blog.example/"}`, browser(hdr{"Origin": "https://blog.example"}))
	wantStatus(t, resp, 204)
	if r := resp.Header.Get("X-Consentry-Not-Stored"); r != "no_receipt" {
		t.Fatalf("reason %q", r)
	}
	e.drain(t)
	if n := chtest.Count(t, e.conn, "SELECT count() FROM events"); n != 0 {
		t.Fatalf("stored %d events without consent", n)
	}
}

func TestRejectionsStoreNothingAndKeepGoodData(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBody = 1500
	cfg.Limits = collector.Limits{MaxURL: 100, MaxName: 10, MaxProps: 2, MaxPropKey: 8, MaxPropValue: 10}
	e := newEnv(t, cfg)
	base := e.listen(t)
	good := pageview("https://shop.example/good")
	ev := func(name, props string) string {
		return fmt.Sprintf(`{"site":"shop","type":"event","url":"https://shop.example/","name":%q,"props":%s}`, name, props)
	}
	tests := []struct {
		name    string
		body    string
		headers hdr
		status  int
		reason  string // JSON "error"
		field   string // a field the body must name
	}{
		{"origin of another site", good, hdr{"Origin": "https://blog.example"}, 403, "origin_not_allowed", ""},
		{"foreign origin", good, hdr{"Origin": "https://evil.example"}, 403, "origin_not_allowed", ""},
		{"no origin", good, hdr{"Origin": ""}, 403, "origin_not_allowed", ""},
		{"unknown site", `{"site":"nope","type":"pageview","url":"https://shop.example/"}`, nil, 404, "unknown_site", ""},
		{"malformed JSON", `{"site":"shop",`, nil, 400, "invalid", "body"},
		{"wrong content type", good, hdr{"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_content_type", ""},
		{"no content type", good, hdr{"Content-Type": ""}, 415, "unsupported_content_type", ""},
		{"body too large", `{"site":"shop","type":"pageview","url":"https://shop.example/` + strings.Repeat("a", 1600) + `"}`, nil, 413, "too_large", ""},
		{"url too long", pageview("https://shop.example/" + strings.Repeat("a", 100)), nil, 400, "invalid", "url"},
		{"referrer too long", `{"site":"shop","type":"pageview","url":"https://shop.example/","referrer":"https://` + strings.Repeat("r", 100) + `"}`, nil, 400, "invalid", "referrer"},
		{"name too long", ev("abcdefghijk", `{}`), nil, 400, "invalid", "name"},
		{"too many props", ev("n", `{"a":"1","b":"2","c":"3"}`), nil, 400, "invalid", "props"},
		{"prop key too long", ev("n", `{"abcdefghi":"1"}`), nil, 400, "invalid", "props"},
		{"prop value too long", ev("n", `{"a":"12345678901"}`), nil, 400, "invalid", "props.a"},
		{"bad type", `{"site":"shop","type":"click","url":"https://shop.example/"}`, nil, 400, "invalid", "type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := postHTTP(t, base, tc.body, browser(tc.headers))
			wantStatus(t, resp, tc.status)
			if resp.Header.Get("X-Consentry-Reason") == "" {
				t.Error("no X-Consentry-Reason header")
			}
			var body struct {
				Error  string        `json:"error"`
				Fields fields.Errors `json:"fields"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if body.Error != tc.reason {
				t.Errorf("error %q, want %q", body.Error, tc.reason)
			}
			if tc.field != "" && !body.Fields.Has(tc.field) {
				t.Errorf("fields %v do not name %q", body.Fields, tc.field)
			}
			// Good data beside bad data is kept.
			wantStatus(t, e.post(t, good, browser(nil)), 204)
		})
	}
	e.drain(t)
	if n := chtest.Count(t, e.conn, "SELECT count() FROM events"); n != uint64(len(tests)) {
		t.Fatalf("stored %d events, want only the %d good ones", n, len(tests))
	}
	if n := chtest.Count(t, e.conn, "SELECT count() FROM events WHERE path != '/good'"); n != 0 {
		t.Fatalf("a rejected request stored %d rows", n)
	}
}

func TestRateLimitPerClient(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 3
	frozen := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	e := newEnvClock(t, cfg, func() time.Time { return frozen }) // one window for all requests
	base := e.listen(t)
	statuses := map[int]int{}
	// The peer is untrusted, so a changing X-Forwarded-For must not dodge the limit.
	for i := range 6 {
		resp := postHTTP(t, base, pageview("https://shop.example/r"), browser(hdr{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)}))
		statuses[resp.StatusCode]++
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if statuses[204] != 3 || statuses[429] != 3 {
		t.Fatalf("no request was rate limited: %v", statuses)
	}
	// The budget is the client's, across routes: its decisions and its own records too.
	wantStatus(t, sendHTTP(t, base, http.MethodPost, "/v1/consent", `{"site":"news","method":"accept_all"}`, visitor(newsOrig, nil)), 429)
	wantStatus(t, sendHTTP(t, base, http.MethodGet, "/v1/consent/me", "", hdr{"Authorization": "Bearer x.y.z"}), 429)
	wantStatus(t, sendHTTP(t, base, http.MethodDelete, "/v1/consent/me", "", hdr{"Authorization": "Bearer x.y.z"}), 429)
}

func TestXForwardedForOnlyFromTrustedProxies(t *testing.T) {
	visitors := func(t *testing.T, trusted []netip.Prefix) int {
		cfg := testConfig()
		cfg.TrustedProxies = trusted
		e := newEnv(t, cfg)
		base := e.listen(t)
		for _, xff := range []string{"198.51.100.1", "198.51.100.2", "10.0.0.1, 198.51.100.3"} {
			wantStatus(t, postHTTP(t, base, pageview("https://shop.example/"), browser(hdr{"X-Forwarded-For": xff})), 204)
		}
		e.drain(t)
		return int(chtest.Count(t, e.conn, "SELECT uniqExact(visitor) FROM events"))
	}
	if n := visitors(t, nil); n != 1 {
		t.Errorf("untrusted peer: X-Forwarded-For made %d visitors, want 1 (the socket address)", n)
	}
	if n := visitors(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}); n != 3 {
		t.Errorf("trusted proxy: %d visitors, want 3", n)
	}
}

// Two service replicas on one ClickHouse give the same visitor the same daily hash.
func TestReplicasShareVisitorHash(t *testing.T) {
	cfg := testConfig()
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	dsn, conn := chtest.Open(t, true)
	conn2, err := schema.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn2.Close() })
	a, b := newEnvOn(t, conn, cfg, nil), newEnvOn(t, conn2, cfg, nil)
	for _, e := range []*env{a, b} {
		base := e.listen(t)
		wantStatus(t, postHTTP(t, base, pageview("https://shop.example/same"), browser(hdr{"X-Forwarded-For": "198.51.100.42"})), 204)
		wantStatus(t, postHTTP(t, base, pageview("https://shop.example/other"), browser(hdr{"X-Forwarded-For": "198.51.100.43"})), 204)
	}
	a.drain(t)
	b.drain(t)
	if n := chtest.Count(t, conn, "SELECT count() FROM events"); n != 4 {
		t.Fatalf("want 4 events, got %d", n)
	}
	if n := chtest.Count(t, conn, "SELECT uniqExact(visitor) FROM events"); n != 2 {
		t.Fatalf("two visitors across two replicas counted as %d", n)
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	peerProxy, peerOther := netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("192.0.2.9")
	tests := []struct {
		peer netip.Addr
		xff  string
		want string
	}{
		{peerOther, "198.51.100.7", "192.0.2.9"},
		{peerProxy, "", "10.1.1.1"},
		{peerProxy, "198.51.100.7", "198.51.100.7"},
		{peerProxy, "6.6.6.6, 198.51.100.7, 10.2.2.2", "198.51.100.7"},
		{peerProxy, "garbage, 10.2.2.2", "10.2.2.2"},
		{peerProxy, "::ffff:198.51.100.8", "198.51.100.8"},
	}
	for _, tc := range tests {
		if got := clientIP(tc.peer, tc.xff, trusted); got.String() != tc.want {
			t.Errorf("clientIP(%s, %q) = %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

// Fiber reuses request memory: an event waiting in the queue must not change when the
// next request on the same connection arrives.
func TestBufferedEventNotAlteredByNextRequest(t *testing.T) {
	e := newEnv(t, testConfig())
	base := e.listen(t)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	send := func(body, ua string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/collect", strings.NewReader(body))
		for k, v := range browser(hdr{"User-Agent": ua}) {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, resp, 204)
		resp.Body.Close()
	}
	send(`{"site":"shop","type":"event","url":"https://shop.example/first?utm_source=aaaa","name":"alpha","props":{"k":"one"}}`, chromeUA)
	send(`{"site":"shop","type":"event","url":"https://shop.example/2nd?utm_source=bbbb","name":"bravo","props":{"k":"two"}}`, firefoxUA)
	e.drain(t)
	rows := e.events(t)
	if len(rows) != 2 {
		t.Fatalf("want 2 rows, got %d", len(rows))
	}
	byName := map[string]eventRow{rows[0].Name: rows[0], rows[1].Name: rows[1]}
	a, b := byName["alpha"], byName["bravo"]
	if a.Path != "/first" || a.UTMSource != "aaaa" || a.Values[0] != "one" || a.Browser != "Chrome" || a.Version != "131" {
		t.Errorf("first event altered: %+v", a)
	}
	if b.Path != "/2nd" || b.UTMSource != "bbbb" || b.Values[0] != "two" || b.Browser != "Firefox" || b.Version != "133" {
		t.Errorf("second event wrong: %+v", b)
	}
}

func TestPreflight(t *testing.T) {
	e := newEnv(t, testConfig())
	req := httptest.NewRequest(http.MethodOptions, "/v1/collect", nil)
	req.Header.Set("Origin", "https://blog.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, _ := e.app.Test(req, -1)
	wantStatus(t, resp, 204)
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://blog.example" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight headers: %v", resp.Header)
	}
	req.Header.Set("Origin", "https://evil.example")
	resp, _ = e.app.Test(req, -1)
	wantStatus(t, resp, 403)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("foreign origin got CORS headers")
	}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	e := newEnv(t, testConfig())
	wantStatus(t, e.post(t, pageview("https://shop.example/m"), browser(nil)), 204)
	wantStatus(t, e.post(t, pageview("https://shop.example/m"), browser(hdr{"Sec-GPC": "1"})), 204)
	wantStatus(t, e.post(t, `{`, browser(nil)), 400)
	e.decide(t, newsOrig, `{"site":"news","method":"reject_all"}`, nil)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		resp, _ := e.app.Test(httptest.NewRequest(http.MethodGet, path, nil), -1)
		wantStatus(t, resp, want)
	}
	e.drain(t) // one insert happens, so batch and latency series exist
	resp, _ := e.app.Test(httptest.NewRequest(http.MethodGet, "/metrics", nil), -1)
	wantStatus(t, resp, 200)
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`consentry_events_accepted_total{site="shop"} 1`,
		`consentry_events_not_stored_total{reason="gpc"} 1`,
		`consentry_requests_rejected_total{reason="invalid"} 1`,
		`consentry_queue_depth 0`,
		`consentry_batch_rows_count{table="events"} 1`,
		`consentry_insert_seconds_bucket{table="events"`,
		`consentry_insert_errors_total 0`,
		`consentry_queue_full_total 0`,
		`consentry_decision_batch_rows_count 1`,
		`consentry_decision_commit_seconds_count 1`,
		`consentry_decision_insert_errors_total 0`,
		`consentry_revoked_consent_ids 0`,
		`consentry_revocations_refreshed_timestamp_seconds 1.`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestReadyzFailsWithoutClickHouse(t *testing.T) {
	sites, _ := consent.ParseSites("t.yaml", []byte(testSites))
	app := New(testConfig(), Deps{
		Sites: sites, Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Ready: func(ctx context.Context) error { return fmt.Errorf("dial tcp: connection refused") },
	})
	resp, _ := app.Test(httptest.NewRequest(http.MethodGet, "/readyz", nil), -1)
	wantStatus(t, resp, 503)
}

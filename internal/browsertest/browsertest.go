// Package browsertest starts a real headless Chromium for tests, with privacy signals set
// the way a browser sets them, and small helpers around chromedp.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// UserAgent is a desktop Chrome's: Chromium's own headless user agent is dropped as a bot
// by the collector, and the tests must see what a visitor's browser gets.
const UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// Options set up one browser.
type Options struct {
	// DNT turns on Chromium's own "Send a Do Not Track request" setting: the DNT header and
	// navigator.doNotTrack, as a visitor's browser sends them.
	DNT bool
	// GPC makes the browser behave like one with Global Privacy Control (Firefox, Brave):
	// the Sec-GPC header on every request and navigator.globalPrivacyControl, which
	// Chromium lacks natively.
	GPC bool
	// GPCHeaderOnly sends Sec-GPC without navigator.globalPrivacyControl, as a privacy
	// proxy or a header-only extension does: only the server can tell the page.
	GPCHeaderOnly bool
	// Dark asks for prefers-color-scheme: dark.
	Dark bool
	// ReducedMotion asks for prefers-reduced-motion: reduce.
	ReducedMotion bool
	// ForcedColors renders as Windows' contrast themes do (forced-colors: active): the
	// user's few system colours replace the page's, and backgrounds and shadows go.
	ForcedColors bool
	// Languages is the visitor's language list, as Accept-Language and
	// navigator.languages give it; "en-US,en" when empty.
	Languages string
	// Init is JavaScript run in every page before its own scripts (to take a browser
	// feature away, for example).
	Init string
}

// Path is the Chromium binary: $CONSENTRY_CHROMIUM, else chromium on PATH.
func Path() string {
	if p := os.Getenv("CONSENTRY_CHROMIUM"); p != "" {
		return p
	}
	p, _ := exec.LookPath("chromium")
	return p
}

// Required skips the test when Chromium is missing, unless CONSENTRY_TEST_BROWSER=1
// (CI) makes that a failure.
func Required(t testing.TB) {
	t.Helper()
	if Path() != "" {
		return
	}
	if os.Getenv("CONSENTRY_TEST_BROWSER") == "1" {
		t.Fatal("CONSENTRY_TEST_BROWSER=1 but no chromium: apt-get install chromium")
	}
	t.Skip("browser test needs chromium (apt-get install chromium); CI sets CONSENTRY_TEST_BROWSER=1 so it cannot skip")
}

// New starts a fresh headless Chromium with an empty profile; it stops when the test ends.
func New(t testing.TB, o Options) context.Context {
	t.Helper()
	Required(t)
	ctx, cancel, err := Start(t.TempDir(), o)
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(cancel)
	failOnBannerErrors(t, ctx)
	return ctx
}

// Console collects what the tab's pages log at a level ("warning", "error", "log"...)
// from now on; the function returned gives the messages so far, each its arguments
// joined by spaces.
func Console(t testing.TB, ctx context.Context, level string) func() []string {
	t.Helper()
	var mu sync.Mutex
	var logged []string
	err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*runtime.EventConsoleAPICalled)
		if !ok || string(e.Type) != level {
			return
		}
		var parts []string
		for _, a := range e.Args {
			var s string
			if json.Unmarshal(a.Value, &s) != nil {
				s = string(a.Value) + a.Description
			}
			parts = append(parts, s)
		}
		mu.Lock()
		logged = append(logged, strings.Join(parts, " "))
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("listen to the console: %v", err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(logged)
	}
}

// failOnBannerErrors fails the test, when it ends, for every exception the banner's script
// threw in the tab (uncaught, or a rejected promise no one handled): a test may pass on
// what the page shows while the banner broke on the way.
func failOnBannerErrors(t testing.TB, ctx context.Context) {
	var mu sync.Mutex
	var thrown []string
	err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*runtime.EventExceptionThrown)
		if !ok {
			return
		}
		// Where the error was made: an error of the page's that the banner reports goes
		// by the page's frame.
		d := e.ExceptionDetails
		where := d.URL
		if d.StackTrace != nil && len(d.StackTrace.CallFrames) > 0 {
			where = d.StackTrace.CallFrames[0].URL
		}
		if strings.Contains(where, "/banner.js") {
			what := d.Text
			if d.Exception != nil {
				what += " " + d.Exception.Description
			}
			mu.Lock()
			thrown = append(thrown, what)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listen for exceptions: %v", err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range thrown {
			t.Errorf("the banner threw: %s", e)
		}
	})
}

// Start launches headless Chromium with its profile in dir (empty, or new) and returns a
// chromedp context on its first tab; the benchmark in bench/banner uses it too.
func Start(dir string, o Options) (context.Context, context.CancelFunc, error) {
	if o.DNT {
		prefs, _ := json.Marshal(map[string]any{"enable_do_not_track": true})
		if err := os.MkdirAll(filepath.Join(dir, "Default"), 0o755); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "Default", "Preferences"), prefs, 0o644); err != nil {
			return nil, nil, err
		}
	}
	langs := o.Languages
	if langs == "" {
		langs = "en-US,en"
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Path()), chromedp.NoSandbox, chromedp.UserDataDir(dir), chromedp.UserAgent(UserAgent),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("accept-lang", langs), chromedp.WindowSize(1280, 800),
		// Names under .test (reserved, RFC 6761) reach the tests' loopback servers: cookie
		// domains need names, and the banner bench a new host per cold load. Their https
		// servers use httptest's self-signed certificate.
		chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	cancel := func() { cancelCtx(); cancelAlloc() }
	steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate("about:blank")}
	var init []string
	if o.GPC {
		init = append(init, `Object.defineProperty(Navigator.prototype, "globalPrivacyControl", {get: () => true})`)
	}
	if o.GPC || o.GPCHeaderOnly {
		steps = append(steps, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Sec-GPC": "1"}})
			return err
		}))
	}
	if o.Init != "" {
		init = append(init, o.Init)
	}
	for _, src := range init {
		steps = append(steps, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
			return err
		}))
	}
	var media []*emulation.MediaFeature
	if o.Dark {
		media = append(media, &emulation.MediaFeature{Name: "prefers-color-scheme", Value: "dark"})
	}
	if o.ReducedMotion {
		media = append(media, &emulation.MediaFeature{Name: "prefers-reduced-motion", Value: "reduce"})
	}
	if o.ForcedColors {
		media = append(media, &emulation.MediaFeature{Name: "forced-colors", Value: "active"})
	}
	if media != nil {
		steps = append(steps, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: media})
			return err
		}))
	}
	// The first run starts the browser: no deadline on it, or the deadline would end it.
	if err := chromedp.Do(ctx, steps...); err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, cancel, nil
}

// Tab opens another tab in the browser of ctx (same profile, same cookies); it closes
// when the test ends, and fails the test for every exception the banner threw in it.
func Tab(t testing.TB, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	// The first run opens the tab for the context's lifetime: a deadline on it would close
	// the tab with it.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	failOnBannerErrors(t, tab)
	return tab
}

// Do runs actions with a deadline, failing the test on error.
func Do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// Eval evaluates a JavaScript expression, awaiting a promise, and decodes its value.
func Eval[T any](t testing.TB, ctx context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("eval %s: %v", js, err)
	}
	return v
}

// WaitFor polls a JavaScript expression until it is truthy, also across a navigation
// (a reload the page makes itself).
func WaitFor(t testing.TB, ctx context.Context, what, js string) {
	t.Helper()
	if _, err := Poll[chromedp.Void](ctx, js, 20*time.Millisecond, 15*time.Second); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, js, err)
	}
}

// Poll evaluates js every interval until it is truthy, for up to timeout, and returns its
// value. It polls inside the page, in tries of at most two seconds, each asked of the
// page in the tab at the time: a navigation may replace the page meanwhile, and a page
// frozen into the back/forward cache never answers the try that was polling it.
// (chromedp.Poll keeps asking the JavaScript context it knew, which a page restored from
// that cache is not.)
func Poll[T any](ctx context.Context, js string, interval, timeout time.Duration) (T, error) {
	var v T
	deadline := time.Now().Add(timeout)
	for {
		try := min(time.Until(deadline), 2*time.Second)
		tryCtx, cancel := context.WithTimeout(ctx, try+time.Second)
		r, err := chromedp.Run(tryCtx, chromedp.Evaluate[polled](fmt.Sprintf(`new Promise((resolve, reject) => {
  const end = performance.now() + %d;
  const tick = () => {
    try {
      const v = (%s);
      if (v) resolve({ok: true, v});
      else if (performance.now() > end) resolve({ok: false});
      else setTimeout(tick, %d);
    } catch (e) { reject(e); }
  };
  tick();
})`, try.Milliseconds(), js, interval.Milliseconds()), chromedp.EvalAwaitPromise))
		cancel()
		if err == nil && r.OK {
			if _, void := any(v).(chromedp.Void); !void {
				err = json.Unmarshal(r.V, &v)
			}
			return v, err
		}
		if err == nil {
			err = errNotYet
		}
		again := errors.Is(err, errNotYet) || errors.Is(err, context.DeadlineExceeded) ||
			strings.Contains(err.Error(), "navigated or closed") || strings.Contains(err.Error(), "Cannot find context") ||
			strings.Contains(err.Error(), "context was destroyed")
		if !again || ctx.Err() != nil || time.Now().After(deadline) {
			if again {
				err = fmt.Errorf("not true within %v (the last try: %w)", timeout, err)
			}
			return v, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// errNotYet is a try of Poll that ended before the expression became truthy.
var errNotYet = errors.New("not true yet")

// polled is one try of Poll: whether the expression became truthy, and its value.
type polled struct {
	OK bool            `json:"ok"`
	V  json.RawMessage `json:"v"`
}

// Screenshot saves a PNG of the viewport to path.
func Screenshot(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Cookie returns the browser's cookie name for url, with its attributes; nil if none.
func Cookie(t testing.TB, ctx context.Context, url, name string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

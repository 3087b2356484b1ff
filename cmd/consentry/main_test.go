package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/consentry/consentry/banner"
	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/internal/chtest"
	"github.com/consentry/consentry/schema"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// writeKeys makes a key file with `keys generate` and returns its path.
func writeKeys(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	var out, errs bytes.Buffer
	if code := Main(context.Background(), []string{"keys", "generate", "--out", path}, env(nil), &out, &errs); code != 0 {
		t.Fatalf("keys generate: exit %d: %s", code, errs.String())
	}
	return path
}

func TestServeConfigFlagsBeatEnvAndEnvBeatsDefaults(t *testing.T) {
	dir := t.TempDir()
	keys := writeKeys(t)
	c, err := parseServe([]string{"--listen", "127.0.0.1:9999", "--sites", "../../sites.example.yaml", "--data-dir", dir, "--keys", keys}, env(map[string]string{
		"CONSENTRY_LISTEN":          "127.0.0.1:1111", // the flag wins
		"CONSENTRY_QUEUE_SIZE":      "77",
		"CONSENTRY_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1",
		"CONSENTRY_FLUSH_INTERVAL":  "250ms",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.Writer.QueueSize != 77 || c.Writer.FlushInterval != 250*time.Millisecond || len(c.trustedProxies) != 2 {
		t.Fatalf("config %+v", c)
	}
	if c.Writer.BatchRows != 10_000 || c.MaxBody != 8192 || c.sites.Lookup("shop") == nil {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestServeConfigReportsEveryErrorAtOnce(t *testing.T) {
	_, err := parseServe([]string{"--listen", "nowhere", "--max-body", "0", "--sites", "/nonexistent.yaml", "--clickhouse", "::bad"}, env(map[string]string{
		"CONSENTRY_TRUSTED_PROXIES": "300.1.1.1",
		"CONSENTRY_RATE_LIMIT":      "-1",
		"CONSENTRY_LOG_FORMAT":      "xml",
		"CONSENTRY_FLUSH_INTERVAL":  "0s",
	}), io.Discard)
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"--listen (CONSENTRY_LISTEN)", "--max-body (CONSENTRY_MAX_BODY)", "--sites (CONSENTRY_SITES)", "--clickhouse (CONSENTRY_CLICKHOUSE)",
		"--trusted-proxies (CONSENTRY_TRUSTED_PROXIES)", "--rate-limit", "--log-format", "--flush-interval", "--keys (CONSENTRY_KEYS): is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Banner texts are checked at start too, with the flags.
	sites := filepath.Join(t.TempDir(), "sites.yaml")
	if err := os.WriteFile(sites, []byte("sites:\n  - {id: a, origins: [\"https://a.example\"], policy_version: v1, banner: {texts: {en: {titel: x}}}, categories: [{id: necessary, required: true}, {id: social}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = parseServe([]string{"--sites", sites, "--banner-max-age", "0s"}, env(nil), io.Discard)
	for _, want := range []string{"--banner-max-age (CONSENTRY_BANNER_MAX_AGE): must be a positive duration", `banner.texts.en.titel: unknown text key`, `banner.texts.en.cat.social.name: missing`, "--keys"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := parseServe(nil, env(map[string]string{"CONSENTRY_QUEUE_SIZE": "many"}), io.Discard); err == nil || !strings.Contains(err.Error(), `CONSENTRY_QUEUE_SIZE="many"`) {
		t.Errorf("bad env value not named: %v", err)
	}
}

func TestMainUsageAndUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), nil, env(nil), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage") {
		t.Fatalf("no args: code %d, %q", code, errOut.String())
	}
	if code := Main(context.Background(), []string{"fly"}, env(nil), &out, &errOut); code != 2 {
		t.Fatalf("unknown command: code %d", code)
	}
}

func TestMigrateCommandTwice(t *testing.T) {
	dsn := chtest.DSN(t)
	for i, want := range []string{"applied migration 0001", "schema is up to date"} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), []string{"migrate", "--clickhouse", dsn}, env(nil), &out, &errOut)
		if code != 0 || !strings.Contains(out.String(), want) {
			t.Fatalf("run %d: code %d, stdout %q, stderr %q", i+1, code, out.String(), errOut.String())
		}
	}
}

// buildBinary builds cmd/consentry the way the README says, into a temp dir.
// serveLogs collects a server process's log; done closes when the process closes it
// (read it to done before cmd.Wait, which closes the pipe).
type serveLogs struct {
	mu   sync.Mutex
	b    bytes.Buffer
	done chan struct{}
}

func (l *serveLogs) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startServe runs `serve` from bin on a free loopback port with the example sites and
// returns the process, its base URL and its log.
func startServe(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *serveLogs) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--sites", "../../sites.example.yaml", "--data-dir", t.TempDir()}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	logs := &serveLogs{done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(logs.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.mu.Lock()
			logs.b.Write(sc.Bytes())
			logs.b.WriteByte('\n')
			logs.mu.Unlock()
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("server exited before listening:\n%s", logs.String())
		}
		return cmd, "http://" + a, logs
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start")
	}
	return nil, "", nil
}

// browserPost posts body to url as a browser on a page of origin would (sendBeacon).
func browserPost(url, origin, body string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	return http.DefaultClient.Do(req)
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "consentry")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// SIGTERM with a full queue: the server stops accepting, drains every accepted event
// into ClickHouse and exits 0.
func TestSIGTERMWithFullQueueLosesNothing(t *testing.T) {
	dsn := chtest.DSN(t)
	bin := buildBinary(t)
	const queue = 150
	cmd, base, logs := startServe(t, bin, "--clickhouse", dsn, "--keys", writeKeys(t),
		"--queue-size", fmt.Sprint(queue), "--batch-rows", "100000", "--flush-interval", "1h", "--rate-limit", "0")

	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				body := fmt.Sprintf(`{"site":"shop","type":"pageview","url":"https://shop.example/w%d/%d"}`, w, i)
				resp, err := browserPost(base+"/v1/collect", "https://shop.example", body)
				if err != nil {
					t.Error(err)
					return
				}
				if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if statuses[204] != queue || statuses[503] != 240-queue {
		t.Fatalf("statuses %v: want %d accepted and the rest 503 (queue full)", statuses, queue)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Read the log to its end before Wait, which closes the pipe and would lose its last lines.
	<-logs.done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
	conn, err := schema.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if n := chtest.Count(t, conn, "SELECT count() FROM events"); n != queue {
		t.Fatalf("%d rows in ClickHouse after SIGTERM, want all %d accepted", n, queue)
	}
	if !strings.Contains(logs.String(), "queue drained") {
		t.Errorf("no drain message in the log:\n%s", logs.String())
	}
	for _, s := range []string{"127.0.0.1:", "Mozilla", "Chrome/131"} {
		if strings.Contains(strings.ReplaceAll(logs.String(), `"addr":"127.0.0.1:`, ""), s) {
			t.Errorf("log holds %q:\n%s", s, logs.String())
		}
	}
}

func TestKeysAndTokenCommands(t *testing.T) {
	path := writeKeys(t)
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", info.Mode(), err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errs bytes.Buffer
		code := Main(context.Background(), args, env(nil), &out, &errs)
		return code, out.String(), errs.String()
	}
	if code, _, errs := run("keys", "generate", "--out", path); code == 0 || !strings.Contains(errs, "exists") {
		t.Fatalf("generate over an existing key file: exit %d, %s", code, errs)
	}
	if code, out, _ := run("keys", "generate", "--out", path, "--if-missing"); code != 0 || !strings.Contains(out, "kept") {
		t.Fatalf("--if-missing over an existing key file: exit %d, %s", code, out)
	}
	before, _ := consent.LoadKeySet(path)
	if code, _, errs := run("keys", "rotate", "--keys", path); code != 0 {
		t.Fatalf("rotate: %s", errs)
	}
	after, err := consent.LoadKeySet(path)
	if err != nil || len(after.Receipt) != 2 || after.Receipt[0].ID != before.Signer().ID || after.Signer().ID == before.Signer().ID || after.Admin.ID != before.Admin.ID {
		t.Fatalf("rotate must append a signing key and keep the rest: %v", err)
	}
	code, out, errs := run("token", "--keys", path, "--role", "analyst", "--ttl", "1h", "--issuer", "https://c.example")
	if code != 0 {
		t.Fatalf("token: %s", errs)
	}
	role, err := consent.NewAdminTokens(after, "https://c.example", nil).Check(strings.TrimSpace(out))
	if err != nil || role != consent.RoleAnalyst {
		t.Fatalf("printed token: role %q, %v", role, err)
	}
	for _, bad := range [][]string{{"token", "--keys", path, "--role", "root"}, {"token", "--keys", path, "--ttl", "0s"}, {"token"}, {"keys", "rotate"}, {"keys", "nope"}} {
		if code, _, _ := run(bad...); code == 0 {
			t.Errorf("%v succeeded", bad)
		}
	}
}

// Two service processes on one ClickHouse: a withdrawal taken by one stops the old
// receipt on the other within --revocation-refresh.
func TestWithdrawalSeenByASecondProcess(t *testing.T) {
	dsn, keys, bin := chtest.DSN(t), writeKeys(t), buildBinary(t)
	flags := []string{"--clickhouse", dsn, "--keys", keys, "--revocation-refresh", "300ms", "--rate-limit", "0"}
	_, a, _ := startServe(t, bin, flags...)
	_, b, _ := startServe(t, bin, flags...)
	post := func(base, path, body string) *http.Response {
		t.Helper()
		resp, err := browserPost(base+path, "http://localhost:8082", body) // the example blog, a consent-mode site
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	decide := func(body string) string {
		t.Helper()
		resp := post(a, "/v1/consent", body)
		var ans struct{ Receipt string }
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&ans) != nil {
			t.Fatalf("decision on process a: %d", resp.StatusCode)
		}
		return ans.Receipt
	}
	beaconOnB := func(receipt string) string {
		t.Helper()
		resp := post(b, "/v1/collect", fmt.Sprintf(`{"site":"blog","type":"pageview","url":"http://localhost:8082/p","receipt":%q}`, receipt))
		if resp.StatusCode != 204 {
			t.Fatalf("beacon on process b: %d", resp.StatusCode)
		}
		return resp.Header.Get("X-Consentry-Not-Stored")
	}
	receipt := decide(`{"site":"blog","method":"accept_all"}`)
	if r := beaconOnB(receipt); r != "" {
		t.Fatalf("process b must store with the receipt before the withdrawal: %q", r)
	}
	decide(fmt.Sprintf(`{"site":"blog","method":"withdraw","receipt":%q}`, receipt))
	start := time.Now()
	chtest.WaitFor(t, "process b refusing the withdrawn receipt", func() bool { return beaconOnB(receipt) == "withdrawn" })
	t.Logf("process b refused the replayed receipt %v after the withdrawal (--revocation-refresh 300ms)", time.Since(start).Round(time.Millisecond))
}

// An operator who reorders categories but keeps the policy version gets a refusal at
// start that says what to do, not receipts that grant the wrong things.
func TestServeRefusesChangedCategoriesUnderTheSamePolicyVersion(t *testing.T) {
	dsn := chtest.DSN(t)
	keys := writeKeys(t)
	example, err := os.ReadFile("../../sites.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(t.TempDir(), "sites.yaml")
	swapped := strings.Replace(string(example), "      - {id: necessary, required: true}\n      - {id: preferences,", "      - {id: preferences,", 1)
	swapped = strings.Replace(swapped, "cookies: [shop_lang]}\n", "cookies: [shop_lang]}\n      - {id: necessary, required: true}\n", 1)
	if swapped == string(example) {
		t.Fatal("the example sites file changed; update this test's edit")
	}
	if err := os.WriteFile(changed, []byte(swapped), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	serveWith := func(sites string) (int, string) {
		ctx, stop := context.WithTimeout(ctx, 5*time.Second) // a start that succeeds is stopped after 5 s
		defer stop()
		var out, errs bytes.Buffer
		code := Main(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--clickhouse", dsn, "--sites", sites, "--keys", keys,
			"--data-dir", t.TempDir(), "--log-level", "error"}, env(nil), &out, &errs)
		return code, errs.String()
	}
	if code, errs := serveWith("../../sites.example.yaml"); code != 0 {
		t.Fatalf("first start: exit %d: %s", code, errs)
	}
	// The start also kept every banner it serves: one per site and language.
	conn, err := schema.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sites, err := consent.LoadSites("../../sites.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	banners, err := banner.New(sites)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := banners.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if n, want := chtest.Count(t, conn, "SELECT uniqExact(site, banner_version, lang, script) FROM banner_versions"), len(versions); n != uint64(want) {
		t.Errorf("banner_versions holds %d banners after the start, want %d", n, want)
	}
	code, errs := serveWith(changed)
	if code != 1 || !strings.Contains(errs, `site "shop": policy_version "2026-11-24" was recorded with categories`) || !strings.Contains(errs, "new policy_version") {
		t.Fatalf("start with reordered categories: exit %d: %s", code, errs)
	}
}

// The service embeds the banner already minified (go generate), and renders no
// html/template (its reflection keeps every method of every type: +6.6 MB stripped, as
// measured when the demo page used it); esbuild and chromedp are for tests and tools.
func TestServiceBinaryCarriesNoMinifierOrTemplates(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/evanw/esbuild") || pkg == "html/template" || strings.HasPrefix(pkg, "github.com/chromedp") {
			t.Errorf("consentry links %s", pkg)
		}
	}
}

// finnishSite is the banner tests' site whose default language is not shipped, written
// before the banner texts storage and erase_confirm were added.
var finnishSite = func() string {
	data, err := os.ReadFile("../../banner/testdata/club.yaml")
	if err != nil {
		panic(err)
	}
	return string(data)
}()

// A sites file written before a banner text was added, for a language Consentry does not
// ship, still starts the service; the log names each text shown in English meanwhile.
func TestServeWarnsOfBannerTextsShownInEnglish(t *testing.T) {
	dsn := chtest.DSN(t)
	sites := filepath.Join(t.TempDir(), "sites.yaml")
	if err := os.WriteFile(sites, []byte(finnishSite), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // a start that succeeds is stopped
	defer cancel()
	var out, errs bytes.Buffer
	code := Main(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--clickhouse", dsn, "--sites", sites, "--keys", writeKeys(t),
		"--data-dir", t.TempDir(), "--log-level", "warn", "--log-format", "text"}, env(nil), &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, key := range []string{"erase_confirm", "storage"} {
		if want := `detail="site \"club\": banner.texts.fi.` + key + `: missing, shown in English (en)"`; !strings.Contains(errs.String(), want) {
			t.Errorf("the log: %s\nwant a warning %s", errs.String(), want)
		}
	}
}

// check validates a sites file as serve does, without ClickHouse: every error at once
// (exit 1), what serve would warn of, and a line per site.
func TestCheckValidatesASitesFile(t *testing.T) {
	check := func(sites string) (int, string, string) {
		var out, errs bytes.Buffer
		code := Main(context.Background(), []string{"check", "--sites", sites}, env(nil), &out, &errs)
		return code, out.String(), errs.String()
	}
	write := func(yaml string) string {
		p := filepath.Join(t.TempDir(), "sites.yaml")
		if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	code, out, errs := check("../../sites.example.yaml")
	if code != 0 || !strings.Contains(out, "site shop: policy_version 2026-11-24, exempt analytics, banner in 18 languages (default en)") ||
		!strings.HasSuffix(out, "sites.example.yaml: ok\n") || errs != "" {
		t.Errorf("the example: exit %d\n%s%s", code, out, errs)
	}
	bad := write(strings.Replace(finnishSite, "    banner:\n", "    banner:\n      layout: cloud\n", 1))
	code, out, errs = check(bad)
	if code != 1 || out != "" || !strings.Contains(errs, "banner.layout: must be one of box, bar, corner") {
		t.Errorf("a sites file with a bad layout: exit %d\n%s%s", code, out, errs)
	}
	bad = write(strings.Replace(finnishSite, "title: Sinun valintasi, ", "", 1))
	if code, _, errs = check(bad); code != 1 || !strings.Contains(errs, `banner.texts.fi.title: missing`) {
		t.Errorf("a sites file without a Finnish title: exit %d\n%s", code, errs)
	}
	code, out, errs = check(write(finnishSite))
	if code != 0 || !strings.Contains(out, "site club:") || errs != `warning: site "club": banner.texts.fi.erase_confirm: missing, shown in English (en)`+"\n"+
		`warning: site "club": banner.texts.fi.storage: missing, shown in English (en)`+"\n" {
		t.Errorf("the Finnish site: exit %d\n%s%s", code, out, errs)
	}
}

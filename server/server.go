// Package server is the Fiber app: routes, CORS per site, limits, client address and
// DNT/GPC extraction, and the central error handler. Handlers parse, call, answer.
package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/dchest/siphash"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/consentry/consentry/collector"
	"github.com/consentry/consentry/consent"
)

// Config holds the HTTP layer's limits.
type Config struct {
	MaxBody        int                    // bytes of a request body
	Limits         collector.Limits       // field limits of a beacon
	DecisionLimits consent.DecisionLimits // field limits of a consent decision
	ConsentTimeout time.Duration          // how long a decision may wait to become durable
	RateLimit      int                    // requests per second per client; 0 disables
	RateClients    int                    // clients tracked per rate window
	TrustedProxies []netip.Prefix         // peers whose X-Forwarded-For is believed
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
	// BannerMaxAge is how long browsers and CDNs may cache an unversioned banner URL.
	BannerMaxAge time.Duration
}

// Collector is what the collect handler needs of collector.Collector.
type Collector interface {
	Collect(ctx context.Context, site *consent.Site, r collector.Request) (collector.Outcome, error)
}

// Consent is what the consent routes need of consent.Service.
type Consent interface {
	Decide(ctx context.Context, site *consent.Site, req consent.DecisionRequest, sig consent.Signal) (consent.Issued, error)
	Me(ctx context.Context, site *consent.Site, rc consent.Receipt) (consent.Status, error)
	Subject(token string) (*consent.Site, consent.Receipt, error)
	Erase(ctx context.Context, site, consentID string) (consent.Erasure, error)
}

// Deps are the parts the app calls into.
type Deps struct {
	Sites     *consent.Sites
	Collector Collector
	Consent   Consent
	AdminData AdminData
	Admin     AdminAuth
	Banners   Banners
	JWKS      []byte                          // public receipt keys, served at /.well-known/jwks.json
	Ready     func(ctx context.Context) error // readiness: pings ClickHouse
	Registry  *prometheus.Registry
	Log       *slog.Logger
	Now       func() time.Time
}

type server struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	limiter  *rateLimiter
	rateKey  [2]uint64
	rejected *prometheus.CounterVec
	// bannerCache is the Cache-Control of unversioned banner URLs and their SRI listing.
	bannerCache string
}

// New builds the Fiber app with every route.
func New(cfg Config, deps Deps) *fiber.App {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &server{cfg: cfg, deps: deps, log: deps.Log, bannerCache: fmt.Sprintf("public, max-age=%d", int(cfg.BannerMaxAge.Seconds()))}
	var key [16]byte
	_, _ = rand.Read(key[:])
	s.rateKey = [2]uint64{binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:])}
	s.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "consentry_requests_rejected_total", Help: "Requests answered with an error status, by reason.",
	}, []string{"reason"})
	rateOverflow := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "consentry_rate_limit_overflow_total", Help: "Requests let through because the rate limiter's client table was full.",
	})
	deps.Registry.MustRegister(s.rejected, rateOverflow)
	s.limiter = newRateLimiter(cfg.RateLimit, cfg.RateClients, deps.Now, rateOverflow.Inc)

	app := fiber.New(fiber.Config{
		AppName:               "consentry",
		BodyLimit:             cfg.MaxBody,
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
	})
	app.Use(recover.New())
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/readyz", s.ready)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(deps.Registry, promhttp.HandlerOpts{})))
	app.Options("/v1/*", s.preflight)
	app.Post("/v1/collect", s.collect)
	app.Post("/v1/consent", s.decide)
	app.Get("/v1/consent/me", s.me)
	app.Delete("/v1/consent/me", s.eraseMe)
	app.Get("/.well-known/jwks.json", s.jwks)
	app.Get("/s/:site/banner.js", s.bannerScript)
	app.Get("/s/:site/banner.json", s.bannerEmbed)
	s.adminRoutes(app)
	return app
}

func (s *server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.deps.Ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		return reject(fiber.StatusServiceUnavailable, "not_ready", "clickhouse unreachable")
	}
	return c.SendString("ok")
}

// preflight answers CORS preflights; they carry no body, so no site id: any site's
// origin is accepted here and the POST itself is checked against its own site.
func (s *server) preflight(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" || !s.deps.Sites.AnyAllowsOrigin(origin) {
		return reject(fiber.StatusForbidden, "origin_not_allowed", "origin is not allowed")
	}
	c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
	c.Set(fiber.HeaderAccessControlAllowMethods, "GET, POST, DELETE")
	c.Set(fiber.HeaderAccessControlAllowHeaders, "Content-Type, Authorization")
	c.Set(fiber.HeaderAccessControlMaxAge, "86400")
	c.Set(fiber.HeaderVary, "Origin")
	return c.SendStatus(fiber.StatusNoContent)
}

// peerAndClient returns the client address per the trusted-proxy rule and a keyed hash of
// it for rate limiting (the address itself is never kept).
func (s *server) client(c *fiber.Ctx) (netip.Addr, uint64) {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	ip := clientIP(peer, c.Get(fiber.HeaderXForwardedFor), s.cfg.TrustedProxies)
	b := ip.As16()
	return ip, siphash.Hash(s.rateKey[0], s.rateKey[1], b[:])
}

// admit applies what every body-carrying public POST shares: the per-client rate
// limit, the content type (text/plain lets sendBeacon skip a preflight) and the body size.
func (s *server) admit(c *fiber.Ctx) (netip.Addr, error) {
	ip, err := s.rateLimit(c)
	if err != nil {
		return ip, err
	}
	if !acceptedContentType(c.Get(fiber.HeaderContentType)) {
		return ip, reject(fiber.StatusUnsupportedMediaType, "unsupported_content_type", "send text/plain or application/json")
	}
	if len(c.Body()) > s.cfg.MaxBody {
		return ip, reject(fiber.StatusRequestEntityTooLarge, "too_large", "body too large")
	}
	return ip, nil
}

// rateLimit counts the request against its client's per-second budget, shared by every
// public route.
func (s *server) rateLimit(c *fiber.Ctx) (netip.Addr, error) {
	ip, key := s.client(c)
	if !s.limiter.allow(key) {
		return ip, reject(fiber.StatusTooManyRequests, "rate_limited", "too many requests from this client")
	}
	return ip, nil
}

// siteFromOrigin looks the site up and requires the request to come from one of its
// origins, then allows that origin to read the answer.
func (s *server) siteFromOrigin(c *fiber.Ctx, id string) (*consent.Site, error) {
	site := s.deps.Sites.Lookup(id)
	if site == nil {
		return nil, reject(fiber.StatusNotFound, "unknown_site", "no site with this id")
	}
	return site, allowOrigin(c, site, true)
}

// allowOrigin lets a page of the site read the answer and refuses other origins; a
// request without Origin (not from a page) passes only if the origin is not required.
func allowOrigin(c *fiber.Ctx, site *consent.Site, required bool) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" && !required {
		return nil
	}
	if !site.AllowsOrigin(origin) {
		return reject(fiber.StatusForbidden, "origin_not_allowed", "origin is not allowed for this site")
	}
	c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
	c.Set(fiber.HeaderVary, "Origin")
	return nil
}

func (s *server) collect(c *fiber.Ctx) error {
	ip, err := s.admit(c)
	if err != nil {
		return err
	}
	b, err := collector.ParseBeacon(c.Body(), s.cfg.Limits)
	if err != nil {
		return err
	}
	site, err := s.siteFromOrigin(c, b.Site)
	if err != nil {
		return err
	}
	out, err := s.deps.Collector.Collect(c.UserContext(), site, collector.Request{
		Beacon:            b,
		ClientIP:          ip,
		UserAgent:         c.Get(fiber.HeaderUserAgent), // a view into Fiber's buffer: Collect keeps no reference
		HasAcceptLanguage: c.Get(fiber.HeaderAcceptLanguage) != "",
		DNT:               dnt(c),
		GPC:               gpc(c),
	})
	if err != nil {
		return err
	}
	if !out.Stored {
		c.Set("X-Consentry-Not-Stored", out.Reason)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func acceptedContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "text/plain" || mt == "application/json"
}

func dnt(c *fiber.Ctx) bool { return c.Get("DNT") == "1" }
func gpc(c *fiber.Ctx) bool { return c.Get("Sec-GPC") == "1" }

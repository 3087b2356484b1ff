package server

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/consentry/consentry/banner"
)

// Banners is what the banner routes need of banner.Banners.
type Banners interface {
	Choose(site, lang, acceptLanguage string, sig banner.Signal) (*banner.Bundle, bool, error)
	Languages(site string) []string
	Bundle(site, lang string) (*banner.Bundle, error)
}

// immutable caches a versioned URL for a year: its content never changes.
const immutable = "public, max-age=31536000, immutable"

// bannerScript serves a site's banner in the language asked for (lang), else the best
// match of Accept-Language, else the site's default, precompressed, with a strong ETag;
// the plain URL also carries the request's DNT and GPC signals into the script.
// Any page may load it (with SRI, crossorigin="anonymous" needs the CORS header).
func (s *server) bannerScript(c *fiber.Ctx) error {
	// A versioned URL (v) is pinned, perhaps by an SRI hash: always the same bytes. The
	// plain URL tells the script which privacy signals the request carried.
	versioned := c.Query("v") != ""
	var sig banner.Signal
	if !versioned {
		sig = banner.SignalOf(dnt(c), gpc(c))
	}
	b, ok, err := s.deps.Banners.Choose(c.Params("site"), c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage), sig)
	if err != nil {
		return fmt.Errorf("banner %s: %w", c.Params("site"), err)
	}
	if !ok {
		return reject(fiber.StatusNotFound, "unknown_site", "no site with this id")
	}
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	c.Set("Timing-Allow-Origin", "*") // sites' own performance monitoring may see its size and timing
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if versioned {
		c.Set(fiber.HeaderVary, "Accept-Encoding, Accept-Language")
	} else {
		c.Set(fiber.HeaderVary, "Accept-Encoding, Accept-Language, DNT, Sec-GPC")
	}
	if versioned && c.Query("v") == b.Version {
		c.Set(fiber.HeaderCacheControl, immutable)
	} else {
		c.Set(fiber.HeaderCacheControl, s.bannerCache)
	}
	coding, body := "", b.Raw
	switch {
	case c.Context().Request.Header.HasAcceptEncoding("br"):
		coding, body = "br", b.Brotli
	case c.Context().Request.Header.HasAcceptEncoding("gzip"):
		coding, body = "gzip", b.Gzip
	}
	etag := b.ETag(coding)
	c.Set(fiber.HeaderETag, etag)
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	if coding != "" {
		c.Set(fiber.HeaderContentEncoding, coding)
	}
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	return c.Send(body)
}

// etagMatches applies If-None-Match: a list of tags, or *.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// embedInfo is what a site owner pastes: per language, the versioned script URL and its
// SRI hash.
type embedInfo struct {
	Site      string        `json:"site"`
	Default   string        `json:"default_lang"`
	Languages []embedScript `json:"languages"`
}

type embedScript struct {
	Lang      string `json:"lang"`
	Src       string `json:"src"`
	Integrity string `json:"integrity"`
}

// bannerEmbed publishes each language's versioned URL and SRI hash (public: the hashes
// of a public script).
func (s *server) bannerEmbed(c *fiber.Ctx) error {
	site := c.Params("site")
	langs := s.deps.Banners.Languages(site)
	if langs == nil {
		return reject(fiber.StatusNotFound, "unknown_site", "no site with this id")
	}
	info := embedInfo{Site: site, Default: langs[0]}
	for _, l := range langs {
		b, err := s.deps.Banners.Bundle(site, l)
		if err != nil {
			return fmt.Errorf("banner %s/%s: %w", site, l, err)
		}
		src := fmt.Sprintf("%s/s/%s/banner.js?lang=%s&v=%s", c.BaseURL(), url.PathEscape(site), url.QueryEscape(l), b.Version)
		info.Languages = append(info.Languages, embedScript{Lang: l, Src: src, Integrity: b.Integrity})
	}
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	c.Set(fiber.HeaderCacheControl, s.bannerCache)
	return c.JSON(info)
}

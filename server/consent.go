package server

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/consentry/consentry/consent"
)

type decisionAnswer struct {
	Receipt   string    `json:"receipt"`
	ConsentID string    `json:"consent_id"`
	ExpiresAt time.Time `json:"expires_at"`
	Granted   []string  `json:"granted"`
	Signal    string    `json:"signal"`
	Override  bool      `json:"override"`
}

// decide records a consent decision and answers its receipt once it is durable.
func (s *server) decide(c *fiber.Ctx) error {
	if _, err := s.admit(c); err != nil {
		return err
	}
	req, err := consent.ParseDecision(c.Body(), s.cfg.DecisionLimits)
	if err != nil {
		return err
	}
	site, err := s.siteFromOrigin(c, req.Site)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.cfg.ConsentTimeout)
	defer cancel()
	out, err := s.deps.Consent.Decide(ctx, site, req, consent.SignalOf(dnt(c) || req.DNT, gpc(c) || req.GPC))
	if err != nil {
		return err
	}
	d := out.Decision
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(decisionAnswer{
		Receipt: out.Token, ConsentID: d.ConsentID, ExpiresAt: d.ExpiresAt, Granted: d.GrantedIDs,
		Signal: string(d.Signal), Override: d.Override,
	})
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(c *fiber.Ctx) (string, error) {
	scheme, token, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", reject(fiber.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <token>")
	}
	return strings.TrimSpace(token), nil
}

// subject authenticates a visitor by their receipt (Authorization: Bearer), expired or
// not, and allows a page of the receipt's site to read the answer.
func (s *server) subject(c *fiber.Ctx) (*consent.Site, consent.Receipt, error) {
	if _, err := s.rateLimit(c); err != nil {
		return nil, consent.Receipt{}, err
	}
	token, err := bearer(c)
	if err != nil {
		return nil, consent.Receipt{}, err
	}
	site, rc, err := s.deps.Consent.Subject(token)
	if err != nil {
		return nil, consent.Receipt{}, err
	}
	return site, rc, allowOrigin(c, site, false)
}

// me answers a visitor's own consent state and history, proven by their receipt.
func (s *server) me(c *fiber.Ctx) error {
	site, rc, err := s.subject(c)
	if err != nil {
		return err
	}
	st, err := s.deps.Consent.Me(c.UserContext(), site, rc)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(st)
}

// eraseMe erases a visitor's own decisions, proven by their receipt.
func (s *server) eraseMe(c *fiber.Ctx) error {
	site, rc, err := s.subject(c)
	if err != nil {
		return err
	}
	return s.answerErasure(c, site.ID, rc.ConsentID)
}

func (s *server) answerErasure(c *fiber.Ctx, site, consentID string) error {
	e, err := s.deps.Consent.Erase(c.UserContext(), site, consentID)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if !e.Complete {
		status = fiber.StatusAccepted
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(e)
}

func (s *server) jwks(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	return c.Send(s.deps.JWKS)
}

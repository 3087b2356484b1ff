package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/internal/fields"
)

// AdminAuth checks admin tokens; consent.AdminTokens implements it.
type AdminAuth interface {
	Check(token string) (consent.Role, error)
}

// AdminData is what the admin routes read and erase; consent.Service implements it.
type AdminData interface {
	Stats(ctx context.Context, site string, from, to time.Time) ([]consent.DayStats, error)
	Export(ctx context.Context, consentID string) ([]consent.Decision, error)
	Erase(ctx context.Context, site, consentID string) (consent.Erasure, error)
	Banner(ctx context.Context, site, version string) (consent.BannerVersion, bool, error)
}

// maxStatsDays bounds one stats request.
const maxStatsDays = 366

func (s *server) adminRoutes(app *fiber.App) {
	adm := app.Group("/admin/v1", s.adminAuth)
	adm.Get("/sites", s.adminSites)
	adm.Get("/stats/consents", s.adminConsentStats)
	adm.Get("/subjects/:consent_id", s.adminExport)
	adm.Delete("/subjects/:consent_id", requireRole(consent.RoleAdmin), s.adminErase)
	adm.Get("/banners/:site/:version", s.adminBanner)
}

// adminAuth lets a request through only with a valid admin token, and notes its role.
func (s *server) adminAuth(c *fiber.Ctx) error {
	token, err := bearer(c)
	if err != nil {
		return err
	}
	role, err := s.deps.Admin.Check(token)
	if err != nil {
		s.log.Info("admin token refused", "route", c.Path(), "err", err)
		return reject(fiber.StatusUnauthorized, "unauthorized", "admin token refused")
	}
	c.Locals("role", role)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

func requireRole(role consent.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if c.Locals("role") != role {
			return reject(fiber.StatusForbidden, "forbidden", "this route needs the "+string(role)+" role")
		}
		return c.Next()
	}
}

func (s *server) adminSites(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"sites": s.deps.Sites.All()})
}

func (s *server) adminConsentStats(c *fiber.Ctx) error {
	var chk fields.Checker
	site := c.Query("site")
	if s.deps.Sites.Lookup(site) == nil {
		chk.Add("site", "must be a configured site id")
	}
	to := s.deps.Now().UTC()
	from := to.AddDate(0, 0, -29)
	day := func(name string, into *time.Time) {
		if v := c.Query(name); v != "" {
			d, err := time.Parse(time.DateOnly, v)
			if err != nil {
				chk.Add(name, "must be a date, YYYY-MM-DD")
				return
			}
			*into = d
		}
	}
	day("from", &from)
	day("to", &to)
	if to.Before(from) || to.Sub(from) > maxStatsDays*24*time.Hour {
		chk.Add("to", "must be on or after from, at most %d days later", maxStatsDays)
	}
	if err := chk.Err(); err != nil {
		return err
	}
	days, err := s.deps.AdminData.Stats(c.UserContext(), site, from, to)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"site": site, "from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "days": days})
}

// subjectDecisions returns the route's consent id and its decisions; none is a 404.
func (s *server) subjectDecisions(c *fiber.Ctx) (string, []consent.Decision, error) {
	id := c.Params("consent_id")
	ds, err := s.deps.AdminData.Export(c.UserContext(), id)
	if err == nil && len(ds) == 0 {
		err = reject(fiber.StatusNotFound, "not_found", "no decisions for this consent id")
	}
	return id, ds, err
}

func (s *server) adminExport(c *fiber.Ctx) error {
	id, ds, err := s.subjectDecisions(c)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"consent_id": id, "decisions": ds})
}

func (s *server) adminErase(c *fiber.Ctx) error {
	id, _, err := s.subjectDecisions(c)
	if err != nil {
		return err
	}
	return s.answerErasure(c, "", id)
}

// adminBanner shows the banner a decision's banner_version names: what its visitor read
// (config) and ran (script, with its SRI hash).
func (s *server) adminBanner(c *fiber.Ctx) error {
	v, ok, err := s.deps.AdminData.Banner(c.UserContext(), c.Params("site"), c.Params("version"))
	if err != nil {
		return err
	}
	if !ok {
		return reject(fiber.StatusNotFound, "not_found", "no banner recorded under this site and version")
	}
	return c.JSON(fiber.Map{"site": v.Site, "banner_version": v.Version, "lang": v.Lang, "policy_version": v.PolicyVersion,
		"config": json.RawMessage(v.Config), "script": v.Script, "integrity": v.Integrity})
}

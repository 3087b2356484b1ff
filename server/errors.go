package server

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/consentry/consentry/collector"
	"github.com/consentry/consentry/consent"
	"github.com/consentry/consentry/internal/fields"
)

// apiError is an answer the HTTP layer chose itself (unknown site, bad origin, limits).
type apiError struct {
	status int
	reason string // machine-readable, also in X-Consentry-Reason
	msg    string
}

func (e *apiError) Error() string { return e.reason + ": " + e.msg }

func reject(status int, reason, msg string) error {
	return &apiError{status: status, reason: reason, msg: msg}
}

// domainErrors maps errors of the domain packages to answers, in one table.
var domainErrors = []struct {
	target error
	status int
	reason string
	msg    string
}{
	{collector.ErrQueueFull, fiber.StatusServiceUnavailable, "overloaded", "write queue is full; retry later"},
	{collector.ErrClosed, fiber.StatusServiceUnavailable, "shutting_down", "server is shutting down; retry later"},
	{collector.ErrNoSalt, fiber.StatusServiceUnavailable, "not_ready", "visitor salt not loaded yet; retry later"},
	{consent.ErrLedgerBusy, fiber.StatusServiceUnavailable, "overloaded", "too many decisions waiting; retry later"},
	{consent.ErrNotDurable, fiber.StatusServiceUnavailable, "not_durable", "decision could not be stored in time; retry later"},
	{consent.ErrLedgerClosed, fiber.StatusServiceUnavailable, "shutting_down", "server is shutting down; retry later"},
	{consent.ErrSubjectGone, fiber.StatusGone, "erased", "the decisions of this receipt were erased"},
	{consent.ErrReceiptInvalid, fiber.StatusUnauthorized, "invalid_receipt", "the receipt does not verify"},
	{consent.ErrMalformedID, fiber.StatusBadRequest, "invalid", "not a consent id (22 base64url characters)"},
	{consent.ErrMalformedBanner, fiber.StatusBadRequest, "invalid", consent.ErrMalformedBanner.Error()},
}

type errorBody struct {
	Error   string         `json:"error"`
	Message string         `json:"message"`
	Fields  []fields.Error `json:"fields,omitempty"`
}

// errorHandler answers every error with its status, an X-Consentry-Reason header and a
// short JSON body; only unexpected (5xx without a mapping) errors are logged.
func (s *server) errorHandler(c *fiber.Ctx, err error) error {
	status, body := fiber.StatusInternalServerError, errorBody{Error: "internal", Message: "internal error"}
	var (
		ae *apiError
		fe fields.Errors
		fb *fiber.Error
	)
	switch {
	case errors.As(err, &ae):
		status, body = ae.status, errorBody{Error: ae.reason, Message: ae.msg}
	case errors.As(err, &fe):
		status, body = fiber.StatusBadRequest, errorBody{Error: "invalid", Message: fe.Error(), Fields: fe}
	case errors.As(err, &fb):
		status, body = fb.Code, errorBody{Error: reasonFromStatus(fb.Code), Message: fb.Message}
	default:
		mapped := false
		for _, d := range domainErrors {
			if errors.Is(err, d.target) {
				status, body, mapped = d.status, errorBody{Error: d.reason, Message: d.msg}, true
				break
			}
		}
		if !mapped {
			s.log.Error("request failed", "method", c.Method(), "route", c.Route().Path, "err", err)
		}
	}
	s.rejected.WithLabelValues(body.Error).Inc()
	c.Set("X-Consentry-Reason", headerSafe(body.Message))
	if status == fiber.StatusServiceUnavailable || status == fiber.StatusTooManyRequests {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	return c.Status(status).JSON(body)
}

func reasonFromStatus(code int) string {
	switch code {
	case fiber.StatusRequestEntityTooLarge:
		return "too_large"
	case fiber.StatusNotFound:
		return "not_found"
	case fiber.StatusMethodNotAllowed:
		return "method_not_allowed"
	default:
		return strings.ToLower(strings.ReplaceAll(utils.StatusMessage(code), " ", "_"))
	}
}

// headerSafe keeps a header value printable ASCII and short.
func headerSafe(s string) string {
	b := []byte(s)
	if len(b) > 200 {
		b = b[:200]
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

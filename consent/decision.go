package consent

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/consentry/consentry/internal/fields"
)

// Method is how the visitor decided.
type Method string

// Methods a decision may name.
const (
	MethodAcceptAll Method = "accept_all"
	MethodRejectAll Method = "reject_all"
	MethodCustom    Method = "custom"
	MethodWithdraw  Method = "withdraw"
)

// Signal is the privacy signal a browser sent with a decision.
type Signal string

// Signals a decision may record.
const (
	SignalNone Signal = "none"
	SignalDNT  Signal = "dnt"
	SignalGPC  Signal = "gpc"
	SignalBoth Signal = "dnt_gpc"
)

// SignalOf names the signal of a request's DNT and Sec-GPC headers.
func SignalOf(dnt, gpc bool) Signal {
	switch {
	case dnt && gpc:
		return SignalBoth
	case dnt:
		return SignalDNT
	case gpc:
		return SignalGPC
	}
	return SignalNone
}

// DecisionLimits bounds the fields of a decision; all are configurable by the operator.
type DecisionLimits struct {
	MaxBannerVersion int // bytes of banner_version
	MaxReceipt       int // bytes of the previous receipt
}

// DefaultDecisionLimits are used when the operator sets none.
var DefaultDecisionLimits = DecisionLimits{MaxBannerVersion: 64, MaxReceipt: 1024}

// maxLang is the longest language tag RFC 5646 asks implementations to support.
const maxLang = 35

var (
	langPattern = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)
	// A version label, not free text: nothing personal can ride into the ledger in it.
	bannerVersionPattern = regexp.MustCompile(`^[A-Za-z0-9._:+-]*$`)
	idB64                = base64.RawURLEncoding
)

// DecisionRequest is a parsed POST /v1/consent body, not yet checked against its site.
type DecisionRequest struct {
	Site          string          `json:"site"`
	Choices       map[string]bool `json:"choices"`
	Method        Method          `json:"method"`
	Lang          string          `json:"lang"`
	BannerVersion string          `json:"banner_version"`
	Receipt       string          `json:"receipt"` // the previous receipt, to keep the consent id
	// DNT and GPC are signals the page saw in the browser (navigator.doNotTrack,
	// navigator.globalPrivacyControl). They only ever restrict, so they are believed
	// and added to the request's headers.
	DNT bool `json:"dnt"`
	GPC bool `json:"gpc"`
}

// ParseDecision decodes a decision body and checks every field's form and size,
// reporting every problem at once.
func ParseDecision(body []byte, lim DecisionLimits) (DecisionRequest, error) {
	var r DecisionRequest
	if err := fields.DecodeJSON(body, &r); err != nil {
		return DecisionRequest{}, err
	}
	var chk fields.Checker
	chk.Text("site", r.Site, 63, true)
	switch r.Method {
	case MethodAcceptAll, MethodRejectAll, MethodCustom, MethodWithdraw:
	case "":
		chk.Add("method", "is required")
	default:
		chk.Add("method", "must be one of accept_all, reject_all, custom, withdraw")
	}
	if len(r.Choices) >= MaxCategories {
		chk.Add("choices", "too many (%d, max %d)", len(r.Choices), MaxCategories-1)
	} else {
		for _, id := range slices.Sorted(maps.Keys(r.Choices)) {
			if !idPattern.MatchString(id) {
				chk.Add("choices", "category ids must match %s", idPattern)
				break
			}
		}
	}
	if r.Method == MethodCustom && r.Choices == nil {
		chk.Add("choices", "are required for a custom decision")
	}
	if chk.Text("lang", r.Lang, maxLang, false) && r.Lang != "" && !langPattern.MatchString(r.Lang) {
		chk.Add("lang", "must be a language tag such as en or zh-CN")
	}
	if chk.Text("banner_version", r.BannerVersion, lim.MaxBannerVersion, false) && !bannerVersionPattern.MatchString(r.BannerVersion) {
		chk.Add("banner_version", "may hold only letters, digits and . _ : + -")
	}
	chk.Text("receipt", r.Receipt, lim.MaxReceipt, false)
	if err := chk.Err(); err != nil {
		return DecisionRequest{}, err
	}
	return r, nil
}

// Decision is one recorded consent decision: an immutable row of the ledger.
type Decision struct {
	ID            string    `json:"decision_id"` // the receipt's jti
	ConsentID     string    `json:"consent_id"`  // the browser's random consent id, the receipt's sub
	Site          string    `json:"site"`
	PolicyVersion string    `json:"policy_version"`
	Granted       uint64    `json:"-"` // masks in the site's category order
	Denied        uint64    `json:"-"`
	GrantedIDs    []string  `json:"granted"`
	DeniedIDs     []string  `json:"denied"`
	Method        Method    `json:"method"`
	Signal        Signal    `json:"signal"`
	Override      bool      `json:"override"`
	BannerVersion string    `json:"banner_version"`
	Lang          string    `json:"lang"`
	DecidedAt     time.Time `json:"decided_at"` // the server's clock, never the client's
	ExpiresAt     time.Time `json:"expires_at"`
}

// Decide checks a request against its site and turns it into a decision. prev is the
// visitor's previous receipt if it verified for this site: only then is its consent id
// kept. The server's clock, not the client, dates the decision.
func Decide(site *Site, req DecisionRequest, prev *Receipt, sig Signal, now time.Time) (Decision, error) {
	var chk fields.Checker
	required, all := site.RequiredMask(), site.AllMask()
	var chosen, refused uint64
	for _, id := range slices.Sorted(maps.Keys(req.Choices)) {
		bit, ok := site.CategoryBit(id)
		if !ok {
			chk.Add("choices."+id, "unknown category for site %q", site.ID)
			continue
		}
		if req.Choices[id] {
			chosen |= bit
		} else if bit&required == 0 {
			refused |= bit
		}
	}
	var granted uint64
	switch req.Method {
	case MethodAcceptAll:
		if refused != 0 {
			chk.Add("choices", "accept_all contradicts the refused %v", site.CategoryIDs(refused))
		}
		granted = all
	case MethodRejectAll, MethodWithdraw:
		if extra := chosen &^ required; extra != 0 {
			chk.Add("choices", "%s contradicts the granted %v", req.Method, site.CategoryIDs(extra))
		}
		granted = required
	case MethodCustom:
		granted = required | chosen
	}
	if err := chk.Err(); err != nil {
		return Decision{}, err
	}
	override := false
	if sig != SignalNone && granted&^required != 0 {
		if site.HonorSignals == SignalsAllowExplicit && req.Method == MethodCustom {
			override = true
		} else {
			granted = required
		}
	}
	consentID := ""
	if prev != nil && prev.Site == site.ID {
		consentID = prev.ConsentID
	} else {
		consentID = NewID()
	}
	// Milliseconds order a browser's decisions within a second; the receipt's iat and
	// exp have whole seconds, and expires_at matches exp.
	now = now.UTC().Truncate(time.Millisecond)
	return Decision{
		ID:            NewID(),
		ConsentID:     consentID,
		Site:          site.ID,
		PolicyVersion: site.PolicyVersion,
		Granted:       granted,
		Denied:        all &^ granted,
		GrantedIDs:    site.CategoryIDs(granted),
		DeniedIDs:     site.CategoryIDs(all &^ granted),
		Method:        req.Method,
		Signal:        sig,
		Override:      override,
		BannerVersion: req.BannerVersion,
		Lang:          req.Lang,
		DecidedAt:     now,
		ExpiresAt:     now.Truncate(time.Second).AddDate(0, 0, site.ConsentMaxAge),
	}, nil
}

// NewID returns 128 random bits, base64url: consent and decision ids are random, never
// derived from the person.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // cannot happen on supported platforms
	}
	return idB64.EncodeToString(b[:])
}

// validID reports whether s has the form NewID produces.
func validID(s string) bool {
	if len(s) != 22 {
		return false
	}
	_, err := idB64.DecodeString(s)
	return err == nil
}

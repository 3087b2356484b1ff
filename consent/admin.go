package consent

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Role is what an admin token allows.
type Role string

// Roles: analysts read statistics and exports; admins may also erase.
const (
	RoleAdmin   Role = "admin"
	RoleAnalyst Role = "analyst"
)

// AdminAudience is the aud of admin tokens; receipts name a site instead, so neither
// can pass for the other even before the key ids differ.
const AdminAudience = "consentry-admin"

// MaxAdminTTL bounds an admin token's lifetime.
const MaxAdminTTL = 30 * 24 * time.Hour

// ErrAdminToken is any reason an admin token is refused.
var ErrAdminToken = errors.New("admin token refused")

type adminClaims struct {
	jwt.RegisteredClaims
	Role Role `json:"role"`
}

// AdminTokens mints and checks admin tokens with the key set's admin key.
type AdminTokens struct {
	key    Key
	issuer string
	parser *jwt.Parser
}

// NewAdminTokens returns a minter and checker of admin tokens for issuer; now is the
// clock used for expiry (time.Now if nil).
func NewAdminTokens(keys *KeySet, issuer string, now func() time.Time) *AdminTokens {
	if now == nil {
		now = time.Now
	}
	return &AdminTokens{key: keys.Admin, issuer: issuer, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithAudience(AdminAudience), jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(now),
	)}
}

// Mint returns a token for role, valid for ttl from now.
func (a *AdminTokens) Mint(role Role, ttl time.Duration, now time.Time) (string, error) {
	if role != RoleAdmin && role != RoleAnalyst {
		return "", fmt.Errorf("role must be %q or %q", RoleAdmin, RoleAnalyst)
	}
	if ttl <= 0 || ttl > MaxAdminTTL {
		return "", fmt.Errorf("ttl must be positive and at most %s", MaxAdminTTL)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, adminClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: a.issuer, Subject: "operator", Audience: jwt.ClaimStrings{AdminAudience}, ID: NewID(),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Role: role,
	})
	tok.Header["kid"] = a.key.ID
	s, err := tok.SignedString(a.key.Private)
	if err != nil {
		return "", fmt.Errorf("sign admin token: %w", err)
	}
	return s, nil
}

// Check verifies an admin token (algorithm pinned to EdDSA, the admin key only,
// audience, issuer, expiry) and returns its role.
func (a *AdminTokens) Check(token string) (Role, error) {
	var c adminClaims
	_, err := a.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != a.key.ID {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return a.key.Public(), nil
	})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrAdminToken, err)
	}
	if c.Role != RoleAdmin && c.Role != RoleAnalyst {
		return "", fmt.Errorf("%w: unknown role %q", ErrAdminToken, c.Role)
	}
	return c.Role, nil
}

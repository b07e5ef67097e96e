package store

import (
	"context"
	"time"
)

// FederationRule lets a tenancy trust an OpenID Connect issuer (a CI
// system, a Kubernetes cluster): a token the issuer signed, for the
// rule's audience, whose claims meet every condition, logs in as
// "<tenancy>/oidc" acting as the rule's group (docs/keyless.md).
type FederationRule struct {
	Tenancy string `json:"tenancy"`
	Name    string `json:"name"`
	// Issuer is the issuer URL the token's "iss" must equal exactly; its
	// keys are discovered under it (/.well-known/openid-configuration).
	Issuer string `json:"issuer"`
	// Audience is a value the token's "aud" must hold.
	Audience string `json:"audience"`
	// Claims are the conditions: claim name → value, exact or with '*'
	// globs. Every one must hold.
	Claims map[string]string `json:"claims"`
	// Group is the tenancy group whose policies apply to the login.
	Group string `json:"group"`
	// MaxLifetimeSeconds bounds the registry tokens issued under the
	// rule (the registry's own lifetime and the OIDC token's expiry
	// bound them too).
	MaxLifetimeSeconds int `json:"maxLifetimeSeconds"`
	// JWKSHosts are hosts besides the issuer's that the discovery
	// document's jwks_uri may name.
	JWKSHosts []string  `json:"jwksHosts,omitempty"`
	Updated   time.Time `json:"updated,omitzero"`
}

// FederationRules holds a tenancy's federation rules.
type FederationRules interface {
	// PutFederationRule creates or replaces a rule.
	PutFederationRule(ctx context.Context, r FederationRule) error
	// GetFederationRule returns a rule or ErrNotFound.
	GetFederationRule(ctx context.Context, tenancy, name string) (FederationRule, error)
	// ListFederationRules returns a tenancy's rules by name.
	ListFederationRules(ctx context.Context, tenancy string) ([]FederationRule, error)
	// DeleteFederationRule removes a rule; ErrNotFound if absent.
	DeleteFederationRule(ctx context.Context, tenancy, name string) error
}

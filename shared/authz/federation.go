package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/oidc"
	"github.com/berth-registry/berth/shared/store"
)

// Federation is how a keyless login was made: the OIDC token's issuer
// and subject, and the federation rules it met; or, for an AWS IAM
// login, the caller's ARN, its role and the role mappings it met (for
// the audit trail).
type Federation struct {
	Issuer, Subject string
	// Role is an AWS IAM login's role ARN (Subject is the caller's
	// session ARN); empty for OIDC.
	Role  string
	Rules []string
}

// String is the audit trail's detail of the login.
func (f *Federation) String() string {
	if f.Role != "" {
		return fmt.Sprintf("caller=%s role=%s mappings=%s", f.Subject, f.Role, strings.Join(f.Rules, ","))
	}
	return fmt.Sprintf("issuer=%s subject=%s rules=%s", f.Issuer, f.Subject, strings.Join(f.Rules, ","))
}

// WithFederation returns a copy of the Authorizer that accepts keyless
// logins ("<tenancy>/oidc" with an OIDC ID token), checking tokens with
// v. Without it, such logins are refused.
func (a *Authorizer) WithFederation(v *oidc.Verifier) *Authorizer {
	c := *a
	c.oidc = v
	return &c
}

// maxRules bounds the federation rules one tenancy holds (the admin API
// refuses more), and so the work of one keyless login.
const maxRules = 50

// Login checks a login and password: an auth token for a user, or for
// "<tenancy>/oidc" an OIDC ID token (or a registry token issued to that
// login, which the kubelet credential provider hands to containerd).
func (a *Authorizer) Login(ctx context.Context, login, password string) (Credentials, error) {
	tenancy, user, _ := strings.Cut(login, "/")
	if !auth.Keyless(user) {
		p, err := a.Basic(ctx, login, password)
		if err != nil {
			return Credentials{}, err
		}
		return Credentials{Principal: p, Via: "basic"}, nil
	}
	if (user == auth.FederatedUser && a.oidc == nil) || (user == auth.AWSUser && a.aws == nil) {
		return Credentials{}, &AuthError{Msg: "keyless logins (" + login + ") are not accepted here"}
	}
	if auth.CheckTenancy(tenancy) != nil {
		return Credentials{}, errBadCredentials
	}
	if a.verifier != nil {
		// A registry token issued to this login: it grants what it
		// grants, and /token reissues no more than that.
		if c, err := a.verifier.Verify(password); err == nil {
			if c.Subject != login {
				return Credentials{}, errBadCredentials
			}
			return Credentials{Principal: bearerPrincipal(c), Via: "bearer", Claims: c, Expires: c.ExpiresAt.Time}, nil
		}
	}
	if user == auth.AWSUser {
		return a.awsLogin(ctx, tenancy, password)
	}
	return a.federated(ctx, tenancy, password)
}

// bearerPrincipal is the principal a registry token names: its subject,
// and for a keyless login the groups the token carries (there is no
// stored user to read them from).
func bearerPrincipal(c *auth.Claims) auth.Principal {
	var p auth.Principal
	if c.Subject != "" {
		p.Tenancy, p.User, _ = strings.Cut(c.Subject, "/")
	}
	if auth.Keyless(p.User) {
		p.Groups = append([]string{}, c.Groups...)
	}
	return p
}

// cachedFederated is a checked keyless login.
type cachedFederated struct {
	c       Credentials
	expires time.Time
}

// federated checks an OIDC ID token against the tenancy's federation
// rules. The token's own issuer picks nothing: it is compared with the
// issuers the rules configure, and only a configured issuer's keys are
// fetched (shared/oidc).
func (a *Authorizer) federated(ctx context.Context, tenancy, token string) (Credentials, error) {
	login := tenancy + "/" + auth.FederatedUser
	cacheKey := "oidc\x00" + login + "\x00" + oidc.Fingerprint(token)
	if v, ok := a.cache.get(cacheKey); ok {
		if c := v.(cachedFederated); !a.now().After(c.expires) {
			return c.c, nil
		}
		return Credentials{}, &AuthError{Msg: "the OIDC token has expired"}
	}
	iss, err := oidc.Peek(token)
	if errors.Is(err, oidc.ErrAlgorithm) {
		return Credentials{}, &AuthError{Msg: "the OIDC token is signed with an algorithm Berth does not accept (RS256 and ES256 are)", Detail: err.Error()}
	} else if err != nil {
		return Credentials{}, &AuthError{Msg: "the password of " + login + " must be an OIDC ID token (a signed JWT)", Detail: err.Error()}
	}
	rules, err := a.federationRules(ctx, tenancy)
	if err != nil {
		return Credentials{}, err
	}
	var candidates []store.FederationRule
	for _, r := range rules {
		if r.Issuer == iss {
			candidates = append(candidates, r)
		}
	}
	if len(candidates) == 0 {
		return Credentials{}, &AuthError{Msg: "no federation rule of tenancy " + tenancy + " trusts the OIDC token's issuer", Detail: "iss " + clip(iss)}
	}
	now := a.now()
	var (
		matched  []store.FederationRule
		claims   *oidc.Claims
		audience bool
		why      []string
	)
	for _, r := range candidates {
		c, err := a.oidc.Verify(ctx, token, oidc.Trust{Issuer: r.Issuer, JWKSHosts: r.JWKSHosts}, now)
		if err != nil {
			return Credentials{}, tokenError(err)
		}
		claims = c
		if !c.HasAudience(r.Audience) {
			why = append(why, "rule "+r.Name+": audience")
			continue
		}
		audience = true
		if ok, failed := c.Meets(r.Claims); !ok {
			why = append(why, "rule "+r.Name+": claim "+failed)
			continue
		}
		matched = append(matched, r)
	}
	if len(matched) == 0 {
		detail := "subject " + clip(claims.Subject) + ": " + strings.Join(why, "; ")
		if !audience {
			return Credentials{}, &AuthError{Msg: "the OIDC token's audience is not one a federation rule of tenancy " + tenancy + " accepts", Detail: detail}
		}
		return Credentials{}, &AuthError{Msg: "the OIDC token's claims meet no federation rule of tenancy " + tenancy, Detail: detail}
	}
	p := auth.Principal{Tenancy: tenancy, User: auth.FederatedUser}
	f := &Federation{Issuer: iss, Subject: claims.Subject}
	expires := claims.Expires
	for _, r := range matched {
		f.Rules = append(f.Rules, r.Name)
		if !slices.Contains(p.Groups, r.Group) {
			p.Groups = append(p.Groups, r.Group)
		}
		if r.MaxLifetimeSeconds > 0 {
			if limit := now.Add(time.Duration(r.MaxLifetimeSeconds) * time.Second); limit.Before(expires) {
				expires = limit
			}
		}
	}
	slices.Sort(p.Groups)
	c := Credentials{Principal: p, Via: "oidc", Expires: expires, Federation: f}
	a.cache.put(cacheKey, cachedFederated{c: c, expires: claims.Expires}, policyTTL)
	return c, nil
}

// tokenError is what the client is told about a token that does not
// verify; an issuer whose keys cannot be fetched is an outage, not the
// client's fault, and is returned as it is (logged, answered 5xx).
func tokenError(err error) error {
	switch {
	case errors.Is(err, oidc.ErrUnavailable):
		return fmt.Errorf("keyless login: %w", err)
	case errors.Is(err, oidc.ErrExpired):
		return &AuthError{Msg: "the OIDC token has expired", Detail: err.Error()}
	case errors.Is(err, oidc.ErrNotYetValid):
		return &AuthError{Msg: "the OIDC token is not valid yet (is a clock wrong?)", Detail: err.Error()}
	}
	return &AuthError{Msg: "the OIDC token does not verify against its issuer's keys", Detail: err.Error()}
}

// federationRules returns a tenancy's federation rules (cached like
// policies: no storage read per request).
func (a *Authorizer) federationRules(ctx context.Context, tenancy string) ([]store.FederationRule, error) {
	return cachedRules(ctx, a, "federation\x00"+tenancy, tenancy, a.ids.ListFederationRules)
}

// cachedRules returns what list reads of a tenancy's trust rules
// (federation rules, AWS role mappings), at most maxRules of them,
// cached under key like policies.
func cachedRules[T any](ctx context.Context, a *Authorizer, key, tenancy string, list func(context.Context, string) ([]T, error)) ([]T, error) {
	if v, ok := a.cache.get(key); ok {
		return v.([]T), nil
	}
	rules, err := list(ctx, tenancy)
	if err != nil {
		return nil, err
	}
	if len(rules) > maxRules {
		rules = rules[:maxRules]
	}
	a.cache.put(key, rules, policyTTL)
	return rules, nil
}

// clip shortens a client-given value for a log line.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

package authz

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/iamlogin"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/oidc"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// MaxAuthorizationLength bounds the Authorization header considered (API
// Gateway's whole header block is at most 10,240 bytes anyway).
const MaxAuthorizationLength = 8192

// Authorizer authenticates requests and decides them by policy.
type Authorizer struct {
	ids      store.Identity
	repos    store.Repositories
	verifier *auth.Verifier
	oidc     *oidc.Verifier
	aws      *iamlogin.Verifier
	now      func() time.Time
	cache    *ttlCache
	refusals Refusals
	// console verifies console session tokens (WithConsole; nil: no
	// session is accepted).
	console *auth.Verifier
}

// NewAuthorizer returns an Authorizer over the identity store, the
// repository records (for visibility) and the registry token verifier
// (nil where only policy questions are asked, not tokens checked).
func NewAuthorizer(ids store.Identity, repos store.Repositories, v *auth.Verifier) *Authorizer {
	return &Authorizer{ids: ids, repos: repos, verifier: v, now: time.Now, cache: newTTLCache()}
}

// WithClock returns a copy of the Authorizer that checks auth token
// expiry against now (the process's one clock, shared/clock). The
// copy shares the cache, whose lifetimes stay on the wall clock.
func (a *Authorizer) WithClock(now func() time.Time) *Authorizer {
	c := *a
	c.now = now
	return &c
}

// Cache lifetimes: long enough to spare the table on a burst of requests
// (docker pushes a layer in three), short enough that a revoked token or
// a changed policy takes effect within seconds.
const (
	credentialTTL = 30 * time.Second
	policyTTL     = 10 * time.Second
)

// Request is what the authorizer sees of an HTTP request.
type Request struct {
	Method        string
	Path          string
	Query         url.Values
	Authorization string
	// Cookies are the request's cookies ("name=value"); only console
	// routes read them (the session cookie).
	Cookies []string
	// Host is the request's Host header: an AWS IAM login must be
	// signed for it (WithHost).
	Host string
	// Match is the route API Gateway chose; ok false for a path outside
	// the route table.
	Match route.Match
}

// Credentials are an authenticated caller.
type Credentials struct {
	Principal auth.Principal
	Via       string
	// Claims are the registry token's claims when Via is "bearer".
	Claims *auth.Claims
	// Expires, when set, bounds the registry tokens issued for these
	// credentials: a keyless login's OIDC token expiry or rule limit.
	Expires time.Time
	// Federation says how a keyless login (Via "oidc" or "aws") was
	// made.
	Federation *Federation
}

// AuthError is an authentication failure the client is told about
// (Msg); Detail, when set, is for the log only.
type AuthError struct{ Msg, Detail string }

// Error implements error.
func (e *AuthError) Error() string { return e.Msg }

// errBadCredentials is every Basic failure, with one message so that a
// caller learns nothing about which part was wrong.
var errBadCredentials = &AuthError{Msg: "invalid username or auth token"}

// Authenticate checks an Authorization header: none (anonymous), Basic
// "<tenancy>/<user>:<auth token>", or Bearer <registry token>.
func (a *Authorizer) Authenticate(ctx context.Context, header string) (Credentials, error) {
	if header == "" {
		return Credentials{Via: "none"}, nil
	}
	if len(header) > MaxAuthorizationLength {
		return Credentials{}, &AuthError{Msg: fmt.Sprintf("Authorization header is longer than %d bytes", MaxAuthorizationLength)}
	}
	scheme, value, _ := strings.Cut(header, " ")
	value = strings.TrimSpace(value)
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return Credentials{}, errBadCredentials
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return Credentials{}, errBadCredentials
		}
		return a.Login(ctx, user, pass)
	case "bearer":
		if a.verifier == nil {
			return Credentials{}, &AuthError{Msg: "registry tokens are not accepted here"}
		}
		c, err := a.verifier.Verify(value)
		if err != nil {
			return Credentials{}, &AuthError{Msg: "invalid or expired registry token"}
		}
		return Credentials{Principal: bearerPrincipal(c), Via: "bearer", Claims: c}, nil
	}
	return Credentials{}, &AuthError{Msg: "unsupported Authorization scheme; use Basic or Bearer"}
}

// Basic checks a login ("<tenancy>/<user>") and auth token, caching a
// success briefly.
func (a *Authorizer) Basic(ctx context.Context, login, token string) (auth.Principal, error) {
	// A login or token the grammar refuses names no record: it is
	// refused here, before any of it becomes a storage key.
	tenancy, user, ok := auth.SplitLogin(login)
	if !ok {
		return auth.Principal{}, errBadCredentials
	}
	id, secret, ok := auth.ParseAuthToken(token)
	if !ok {
		return auth.Principal{}, a.refused(ctx, tenancy)
	}
	cacheKey := "basic\x00" + login + "\x00" + string(auth.HashSecret(token))
	if v, ok := a.cache.get(cacheKey); ok {
		// The cache lives on the wall clock; the token's expiry is on
		// the registry's clock, and holds even within the cache's life.
		if c := v.(cachedLogin); c.expires.IsZero() || !a.now().After(c.expires) {
			return c.p, nil
		}
		return auth.Principal{}, a.refused(ctx, tenancy)
	}
	t, err := a.ids.GetToken(ctx, tenancy, user, id)
	if err != nil {
		if err = credentialLookup(err); err == errBadCredentials {
			return auth.Principal{}, a.refused(ctx, tenancy)
		}
		return auth.Principal{}, err
	}
	if !auth.SecretMatches(t.Hash, secret) || t.Revoked || (!t.Expires.IsZero() && a.now().After(t.Expires)) {
		return auth.Principal{}, a.refused(ctx, tenancy)
	}
	u, err := a.ids.GetUser(ctx, tenancy, user)
	if err != nil {
		return auth.Principal{}, credentialLookup(err)
	}
	p := auth.Principal{Tenancy: tenancy, User: user, Groups: u.Groups}
	a.cache.put(cacheKey, cachedLogin{p: p, expires: t.Expires}, credentialTTL)
	return p, nil
}

// cachedLogin is a checked login and its auth token's expiry.
type cachedLogin struct {
	p       auth.Principal
	expires time.Time
}

// credentialLookup maps a failed read of a credential's records: no
// record, or a key the store refuses (store.ErrInvalid), is a bad
// credential; anything else is an outage, answered 503 by the caller
// (the authorizer never fails open, nor with a 500).
func credentialLookup(err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return errBadCredentials
	}
	return err
}

// Statements returns a tenancy's parsed policy statements (cached).
// Statements were validated when written; one that no longer parses is
// skipped rather than failing every request.
func (a *Authorizer) Statements(ctx context.Context, tenancy string) ([]auth.Statement, error) {
	if v, ok := a.cache.get("policy\x00" + tenancy); ok {
		return v.([]auth.Statement), nil
	}
	pols, err := a.ids.ListPolicies(ctx, tenancy)
	if err != nil {
		return nil, err
	}
	var out []auth.Statement
	for _, p := range pols {
		for _, s := range p.Statements {
			if st, err := auth.ParseStatement(s); err == nil {
				out = append(out, st)
			}
		}
	}
	a.cache.put("policy\x00"+tenancy, out, policyTTL)
	return out, nil
}

// Public reports whether a repository is public (cached).
func (a *Authorizer) Public(ctx context.Context, name string) (bool, error) {
	if v, ok := a.cache.get("repo\x00" + name); ok {
		return v.(bool), nil
	}
	r, err := a.repos.GetRepository(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	a.cache.put("repo\x00"+name, r.Public, policyTTL)
	return r.Public, nil
}

// Verb is the access the credentials hold on a repository: from the
// token's grants for Bearer, from policy otherwise.
func (a *Authorizer) Verb(ctx context.Context, c Credentials, repo string) (auth.Verb, error) {
	if c.Via == "bearer" {
		var v auth.Verb
		for _, x := range []struct {
			action string
			verb   auth.Verb
		}{{route.ActionPull, auth.Read}, {route.ActionPush, auth.Use}, {route.ActionDelete, auth.Manage}} {
			if c.Claims.Allows("repository", repo, x.action) && x.verb > v {
				v = x.verb
			}
		}
		return v, nil
	}
	public, err := a.Public(ctx, repo)
	if err != nil {
		return 0, err
	}
	var stmts []auth.Statement
	if !c.Principal.Anonymous() {
		if stmts, err = a.Statements(ctx, c.Principal.Tenancy); err != nil {
			return 0, err
		}
	}
	return auth.RepoAccess(c.Principal, stmts, repo, public), nil
}

// scopeFor is the Docker token scope a route action asks for.
func scopeFor(name, action string) string {
	switch action {
	case route.ActionPush:
		return "repository:" + name + ":pull,push"
	case route.ActionDelete:
		return "repository:" + name + ":delete"
	case route.ActionCatalog:
		return "registry:catalog:*"
	}
	return "repository:" + name + ":" + action
}

// Decide authenticates a request and decides it.
func (a *Authorizer) Decide(ctx context.Context, r Request) (Decision, error) {
	m := r.Match
	if m.Route.Function == route.Console {
		return a.decideConsole(ctx, r)
	}
	action, name := m.Route.Action, m.Name()
	// The scope goes into the challenge: only a name the grammar allows
	// is put there (Challenge quotes it too).
	scope := ""
	// The name is checked once: the grammar is most of what deciding
	// a Bearer request costs once its token is cached.
	validName := name != "" && oci.ValidName(name) == nil
	if validName {
		scope = scopeFor(name, action)
	} else if action == route.ActionCatalog {
		scope = scopeFor("", action)
	}
	c, err := a.Authenticate(WithHost(ctx, r.Host), r.Authorization)
	var ae *AuthError
	if errors.As(err, &ae) {
		return unauthorized(scope, ae.Msg), nil
	} else if err != nil {
		return Decision{}, err
	}
	allow := Decision{Allow: true, Principal: c.Principal, Via: c.Via, Scope: scope}
	switch {
	case m.Route.Function == route.Admin:
		// Only an auth token opens the admin API: a registry token was
		// issued for pulls and pushes, and must not carry a user's
		// administrative rights to whoever holds it.
		if c.Principal.Anonymous() || c.Via != "basic" {
			return unauthorized("", "the admin API needs Basic credentials: <tenancy>/<user> and an auth token"), nil
		}
		return allow, nil
	case action == "":
		// GET /v2/ and unmatched /v2 paths: docker login probes /v2/ and
		// needs the challenge to find the token realm.
		if c.Principal.Anonymous() && c.Via != "bearer" {
			return unauthorized("", "authentication required"), nil
		}
		return allow, nil
	case action == route.ActionCatalog:
		if c.Principal.Anonymous() {
			return unauthorized(scope, "listing repositories needs credentials"), nil
		}
		if c.Via == "bearer" && !c.Claims.Allows("registry", "catalog", "*") {
			return unauthorized(scope, "the registry token does not grant the catalog"), nil
		}
		return allow, nil
	}
	if !validName {
		// Let the function answer NAME_INVALID; a bad name holds nothing.
		if c.Principal.Anonymous() && c.Via != "bearer" {
			return unauthorized(scope, "authentication required"), nil
		}
		return allow, nil
	}
	have, err := a.Verb(ctx, c, name)
	if err != nil {
		return Decision{}, err
	}
	if have < auth.VerbFor(action) {
		if c.Via != "basic" && c.Via != "oidc" && c.Via != "aws" {
			msg := fmt.Sprintf("authentication required to %s %s", action, name)
			if !c.Principal.Anonymous() {
				// Docker shows this after logging in with a token its
				// user's policy limits: say whose access falls short.
				msg = fmt.Sprintf("%s may not %s repository %s (the registry token grants only what policy allows)", c.Principal, action, name)
			}
			return unauthorized(scope, msg), nil
		}
		return deny(http.StatusForbidden, scope, fmt.Sprintf("%s may not %s repository %s", c.Principal, action, name)), nil
	}
	if from := r.Query.Get("from"); from != "" && r.Query.Get("mount") != "" && oci.ValidName(from) == nil {
		v, err := a.Verb(ctx, c, from)
		if err == nil && v < auth.Read && c.Via == "bearer" && !c.Principal.Anonymous() {
			// Clients do not always ask for the source's scope; a mount
			// is rare enough to consult policy for it.
			v, err = a.PrincipalVerb(ctx, c.Principal, from)
		}
		if err != nil {
			return Decision{}, err
		}
		allow.MountFrom = v >= auth.Read
	}
	return allow, nil
}

// ttlCache is a small in-memory cache that lives across warm invocations.
type ttlCache struct {
	mu sync.Mutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	v   any
	exp time.Time
}

func newTTLCache() *ttlCache { return &ttlCache{m: map[string]cacheEntry{}} }

func (c *ttlCache) get(k string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Now().After(e.exp) {
		return nil, false
	}
	return e.v, true
}

func (c *ttlCache) put(k string, v any, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		c.m = map[string]cacheEntry{}
	}
	c.m[k] = cacheEntry{v: v, exp: time.Now().Add(ttl)}
}

// PrincipalVerb is the strongest verb p holds on repo by policy and
// visibility (whatever token it came with).
func (a *Authorizer) PrincipalVerb(ctx context.Context, p auth.Principal, repo string) (auth.Verb, error) {
	if !p.Anonymous() && p.Groups == nil {
		// A registry token names its subject, not the subject's groups.
		g, err := a.groups(ctx, p.Tenancy, p.User)
		if err != nil {
			return 0, err
		}
		p.Groups = g
	}
	return a.Verb(ctx, Credentials{Principal: p, Via: "basic"}, repo)
}

// groups returns a user's groups (cached); none for a deleted user.
func (a *Authorizer) groups(ctx context.Context, tenancy, user string) ([]string, error) {
	if auth.Keyless(user) {
		// A keyless login has no stored user: its groups were its
		// rules', and a registry token does not carry them.
		return []string{}, nil
	}
	k := "groups\x00" + tenancy + "\x00" + user
	if v, ok := a.cache.get(k); ok {
		return v.([]string), nil
	}
	u, err := a.ids.GetUser(ctx, tenancy, user)
	if errors.Is(err, store.ErrNotFound) {
		return []string{}, nil
	} else if err != nil {
		return nil, err
	}
	g := append([]string{}, u.Groups...)
	a.cache.put(k, g, policyTTL)
	return g, nil
}

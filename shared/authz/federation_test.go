package authz

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/oidc"
	"github.com/berth-registry/berth/shared/oidc/oidctest"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// countingIDs counts the identity reads a keyless login makes.
type countingIDs struct {
	store.Identity
	rules, users, tokens atomic.Int64
}

func (c *countingIDs) ListFederationRules(ctx context.Context, t string) ([]store.FederationRule, error) {
	c.rules.Add(1)
	return c.Identity.ListFederationRules(ctx, t)
}

func (c *countingIDs) GetUser(ctx context.Context, t, u string) (store.User, error) {
	c.users.Add(1)
	return c.Identity.GetUser(ctx, t, u)
}

func (c *countingIDs) GetToken(ctx context.Context, t, u, id string) (store.AuthToken, error) {
	c.tokens.Add(1)
	return c.Identity.GetToken(ctx, t, u, id)
}

func TestKeylessLoginsReadRulesOncePerCacheLife(t *testing.T) {
	f := newFixture(t)
	srv := oidctest.NewServer(t)
	gh, elsewhere := srv.Issuer("/gh", "ES256"), srv.Issuer("/elsewhere", "ES256")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	must(f.meta.PutGroup(ctx, store.Group{Tenancy: "dev", Name: "ci"}))
	must(f.meta.PutPolicy(ctx, store.Policy{Tenancy: "dev", Name: "ci", Statements: []string{"allow group ci to use repos in tenancy"}}))
	must(f.meta.PutFederationRule(ctx, store.FederationRule{Tenancy: "dev", Name: "gha", Issuer: gh.URL, Audience: "berth",
		Claims: map[string]string{"repository": "acme/*"}, Group: "ci", MaxLifetimeSeconds: 600}))
	ids := &countingIDs{Identity: f.meta}
	a := NewAuthorizer(ids, f.meta, nil).WithFederation(oidc.NewVerifier(oidc.Options{AllowLoopback: true}))

	const n = 50
	for i := range n {
		// Each job's token is new: no cached login helps.
		tok := gh.Token(oidctest.GitHub("acme/app", "refs/heads/main", "berth"))
		d, err := a.Decide(ctx, Request{Method: "GET", Path: "/v2/dev/app/manifests/1",
			Authorization: basic("dev/oidc", tok), Match: mustFind(t, "GET", "/v2/dev/app/manifests/1")})
		if err != nil || !d.Allow || d.Via != "oidc" || d.Principal.String() != "dev/oidc" {
			t.Fatalf("login %d: %+v, %v", i, d, err)
		}
	}
	// Tokens naming an issuer no rule trusts cost no fetch of it.
	for range 5 {
		_, err := a.Login(ctx, "dev/oidc", elsewhere.Token(oidctest.GitHub("acme/app", "refs/heads/main", "berth")))
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("untrusted issuer: %v", err)
		}
	}
	if got := ids.rules.Load(); got != 1 {
		t.Errorf("%d keyless logins read the rules %d times, want once (cached like policies)", n, got)
	}
	if ids.users.Load() != 0 || ids.tokens.Load() != 0 {
		t.Errorf("keyless logins read %d users and %d auth tokens, want none", ids.users.Load(), ids.tokens.Load())
	}
	if gh.KeyFetches.Load() != 1 || gh.DiscoveryFetches.Load() != 1 {
		t.Errorf("the trusted issuer's documents were fetched %d+%d times, want once each", gh.DiscoveryFetches.Load(), gh.KeyFetches.Load())
	}
	if elsewhere.DiscoveryFetches.Load()+elsewhere.KeyFetches.Load() != 0 {
		t.Errorf("a token's own iss made the registry fetch from it")
	}
}

func TestKeylessLoginGroupsAndLifetime(t *testing.T) {
	f := newFixture(t)
	srv := oidctest.NewServer(t)
	k8s := srv.Issuer("/k8s", "RS256")
	ctx := context.Background()
	for _, r := range []store.FederationRule{
		{Tenancy: "dev", Name: "builders", Issuer: k8s.URL, Audience: "berth", Claims: map[string]string{"sub": "system:serviceaccount:ci:*"}, Group: "pushers", MaxLifetimeSeconds: 300},
		{Tenancy: "dev", Name: "builder", Issuer: k8s.URL, Audience: "berth", Claims: map[string]string{"sub": "system:serviceaccount:ci:builder"}, Group: "readers", MaxLifetimeSeconds: 60},
		{Tenancy: "dev", Name: "deployers", Issuer: k8s.URL, Audience: "berth", Claims: map[string]string{"sub": "system:serviceaccount:prod:*"}, Group: "managers", MaxLifetimeSeconds: 600},
	} {
		if err := f.meta.PutFederationRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	a := f.a.WithFederation(oidc.NewVerifier(oidc.Options{AllowLoopback: true}))
	start := time.Now()
	c, err := a.Login(ctx, "dev/oidc", k8s.Token(oidctest.Kubernetes("ci", "builder", "berth")))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Principal.Groups; len(got) != 2 || got[0] != "pushers" || got[1] != "readers" {
		t.Fatalf("groups %v, want the two matching rules' (pushers, readers)", got)
	}
	if c.Federation == nil || c.Federation.Subject != "system:serviceaccount:ci:builder" || len(c.Federation.Rules) != 2 {
		t.Fatalf("federation %+v", c.Federation)
	}
	if c.Expires.After(start.Add(61*time.Second)) || c.Expires.Before(start.Add(59*time.Second)) {
		t.Fatalf("expires %v, want the smaller rule limit, 60 s from now", c.Expires.Sub(start))
	}
	if v, err := a.Verb(ctx, c, "dev/app"); err != nil || v != auth.Use {
		t.Fatalf("verb on dev/app = %v, %v; want use (pushers)", v, err)
	}
	if v, _ := a.Verb(ctx, c, "other/secret"); v != 0 {
		t.Fatalf("verb on another tenancy's repository = %v", v)
	}
}

func mustFind(t *testing.T, method, path string) route.Match {
	t.Helper()
	m, ok := route.Find(method, path)
	if !ok {
		t.Fatalf("no route for %s %s", method, path)
	}
	return m
}

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/route"
)

// fn is the function under test.
const fn = route.Token

// adminToken is the auth token of dev/admin that the events present.
const adminToken = "bt_eventsadmin23456_abcdefghijklmnopqrstuvwxyz234567"

// TestEvents runs every events/token-*.json through the function as
// Lambda would, on a store bootstrapped with dev/admin and its token.
func TestEvents(t *testing.T) {
	cases := []eventtest.Case{
		// docker login: Basic credentials, no scope.
		{File: "token-get-login.json", Status: 200, Headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
			Check: grants("dev/admin", nil)},
		// docker push: pull and push asked, both granted to an administrator.
		{File: "token-get-scope.json", Status: 200, Check: grants("dev/admin", []auth.Access{{Type: "repository", Name: "dev/hello", Actions: []string{"pull", "push"}}})},
		// containerd's anonymous first try on a private repository: a
		// token granting nothing.
		{File: "token-get-anonymous.json", Status: 200, Check: grants("", nil)},
		{File: "token-get-wrong-token.json", Status: 401, Code: "UNAUTHORIZED"},
		// containerd (imagePullSecrets): the OAuth2 password grant.
		{File: "token-post-oauth.json", Status: 200, Check: grants("dev/admin", []auth.Access{{Type: "repository", Name: "dev/hello", Actions: []string{"pull"}}})},
	}
	eventtest.Covered(t, fn, cases)
	bootstrap(t)
	eventtest.Run(t, eventtest.Function(t, fn), cases)
}

// bootstrap creates tenancy dev with dev/admin holding adminToken, as
// `berth bootstrap` does.
func bootstrap(t *testing.T) {
	t.Helper()
	cfg := eventtest.Env(t)
	cfg.AdminToken = adminToken
	stores := eventtest.Stores(t, cfg)
	if _, err := app.Bootstrap(context.Background(), cfg, stores.IDs); err != nil {
		t.Fatal(err)
	}
}

// grants checks a token response: both token fields, and the registry
// token's subject and access (read without verifying; the authorizer's
// tests verify signatures).
func grants(subject string, access []auth.Access) func(*testing.T, events.APIGatewayV2HTTPResponse, []byte) {
	return func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body []byte) {
		var res struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
			IssuedAt    string `json:"issued_at"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		if res.AccessToken == "" || res.ExpiresIn <= 0 || res.IssuedAt == "" || (res.Token != "" && res.Token != res.AccessToken) {
			t.Fatalf("token response %s", body)
		}
		parts := strings.Split(res.AccessToken, ".")
		if len(parts) != 3 {
			t.Fatalf("access_token %q is not a JWT", res.AccessToken)
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Sub    string        `json:"sub"`
			Access []auth.Access `json:"access"`
		}
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		if c.Sub != subject {
			t.Errorf("sub %q, want %q", c.Sub, subject)
		}
		if !slices.EqualFunc(c.Access, access, func(a, b auth.Access) bool {
			return a.Type == b.Type && a.Name == b.Name && slices.Equal(a.Actions, b.Actions)
		}) {
			t.Errorf("access %+v, want %+v", c.Access, access)
		}
	}
}

// TestLinksOnlyWhatItServes: the token endpoint links the signing key
// (KMS) and the Lambda adapter, and no registry, admin API, retention,
// local gateway, embedded store or SDK credential chain.
func TestLinksOnlyWhatItServes(t *testing.T) {
	linktest.Check(t, slices.Concat(linktest.Every, []string{
		"github.com/berth-registry/berth/shared/registry", "github.com/berth-registry/berth/shared/admin",
		"github.com/berth-registry/berth/shared/retention", "github.com/aws/aws-sdk-go-v2/service/lambda",
	}), []string{"github.com/berth-registry/berth/shared/store/kmskey", "github.com/berth-registry/berth/shared/lambdahttp"})
}

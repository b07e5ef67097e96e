package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/authfn"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// fn is the function under test.
const fn = route.Authorizer

// Auth tokens the events present: dev/admin's (an administrator) and
// dev/ci's (in no group), which share a secret.
const (
	adminToken = "bt_eventsadmin23456_abcdefghijklmnopqrstuvwxyz234567"
	ciTokenID  = "eventsci23456723"
)

// want is the decision an event must produce.
type want struct {
	allow   bool
	status  int
	user    string
	groups  []string
	scope   string
	message string // a substring of the message
}

// TestEvents runs every events/authorizer-*.json through the authorizer
// as Lambda would (JSON in, JSON out) and decodes the decision it passes
// to the function. The authorizer always authorizes at the gateway: its
// verdict travels in the context (shared/authz).
func TestEvents(t *testing.T) {
	cases := []struct {
		file string
		want want
	}{
		{"authorizer-manifests-get-anonymous.json", want{status: 401, scope: "repository:dev/hello:pull"}},
		{"authorizer-manifests-put-basic.json", want{allow: true, user: "admin", groups: []string{auth.AdminGroup}, scope: "repository:dev/hello:pull,push"}},
		{"authorizer-manifests-get-wrong-token.json", want{status: 401, scope: "repository:dev/hello:pull", message: "invalid username or auth token"}},
		{"authorizer-manifests-get-bad-bearer.json", want{status: 401, scope: "repository:dev/hello:pull", message: "invalid or expired registry token"}},
		{"authorizer-manifests-delete-forbidden.json", want{status: 403, scope: "repository:dev/hello:delete", message: "dev/ci may not delete repository dev/hello"}},
		{"authorizer-admin-basic.json", want{allow: true, user: "admin", groups: []string{auth.AdminGroup}}},
	}
	files := make([]string, len(cases))
	for i, c := range cases {
		files[i] = c.file
	}
	eventtest.CoveredFiles(t, fn, files...)

	seed(t, eventtest.Env(t))
	h, err := authfn.Authorizer(context.Background())
	if err != nil {
		t.Fatalf("authfn.Authorizer: %v", err)
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			ev := eventtest.Decode[events.APIGatewayV2CustomAuthorizerV2Request](t, c.file)
			res, err := h(context.Background(), ev)
			if err != nil {
				t.Fatalf("authorizer: %v", err)
			}
			// What API Gateway receives is the JSON.
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var out events.APIGatewayV2CustomAuthorizerSimpleResponse
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			if !out.IsAuthorized {
				t.Fatalf("isAuthorized false: API Gateway would answer 403 itself, without the challenge")
			}
			d, ok := authz.FromContext(out.Context)
			if !ok {
				t.Fatalf("context %s holds no decision", b)
			}
			w := c.want
			if d.Allow != w.allow || d.Status != w.status || d.Principal.User != w.user || !slices.Equal(d.Principal.Groups, w.groups) ||
				d.Scope != w.scope || !strings.Contains(d.Message, w.message) {
				t.Errorf("decision %+v, want %+v", d, w)
			}
		})
	}
}

// seed bootstraps tenancy dev with dev/admin holding adminToken and adds
// dev/ci with its token.
func seed(t *testing.T, cfg config.Config) {
	t.Helper()
	cfg.AdminToken = adminToken
	ctx := context.Background()
	stores := eventtest.Stores(t, cfg)
	if _, err := app.Bootstrap(ctx, cfg, stores.IDs); err != nil {
		t.Fatal(err)
	}
	_, secret, _ := auth.ParseAuthToken(adminToken)
	now := time.Now()
	if err := stores.IDs.PutUser(ctx, store.User{Tenancy: "dev", Name: "ci", Created: now}); err != nil {
		t.Fatal(err)
	}
	if err := stores.IDs.PutToken(ctx, store.AuthToken{Tenancy: "dev", User: "ci", ID: ciTokenID, Hash: auth.HashSecret(secret), Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

// TestLinksOnlyWhatItServes: the authorizer links the signing key (KMS)
// and its Lambda adapter, and no registry, admin API, retention, local
// gateway, embedded store or SDK credential chain.
func TestLinksOnlyWhatItServes(t *testing.T) {
	linktest.Check(t, slices.Concat(linktest.Every, []string{
		"github.com/berth-registry/berth/shared/registry", "github.com/berth-registry/berth/shared/admin",
		"github.com/berth-registry/berth/shared/retention", "github.com/aws/aws-sdk-go-v2/service/lambda",
	}), []string{"github.com/berth-registry/berth/shared/store/kmskey", "github.com/berth-registry/berth/shared/lambdahttp"})
}

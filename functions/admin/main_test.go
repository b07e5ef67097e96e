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
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// fn is the function under test.
const fn = route.Admin

// TestEvents runs every events/admin-*.json through the function as
// Lambda would, on a store holding tenancy dev with dev/admin (an
// administrator) and dev/ci (in no group).
func TestEvents(t *testing.T) {
	cases := []eventtest.Case{
		{File: "admin-get-users.json", Status: 200, Headers: map[string]string{"Content-Type": "application/json"},
			Check: contains(`"login":"dev/admin"`, `"login":"dev/ci"`)},
		{File: "admin-get-users-denied.json", Status: 403, Code: "DENIED"},
		// The authorizer refused an anonymous caller; the middleware
		// answers with the challenge.
		{File: "admin-get-anonymous.json", Status: 401, Code: "UNAUTHORIZED", Headers: map[string]string{
			"WWW-Authenticate": `Bearer realm="https://k7q2v9xw1e.execute-api.eu-west-1.amazonaws.com/token",service="berth"`}},
		{File: "admin-get-repositories.json", Status: 200, Body: `{"tenancy":"dev","repositories":[]}`},
		{File: "admin-post-token.json", Status: 201, Check: func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body []byte) {
			var tok struct {
				Token, Login string
				Expires      time.Time
			}
			if err := json.Unmarshal(body, &tok); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok.Token, "bt_") || tok.Login != "dev/ci" || time.Until(tok.Expires) > 30*24*time.Hour {
				t.Errorf("created token %s", body)
			}
		}},
		{File: "admin-put-policy-invalid.json", Status: 400, Code: "INVALID", Check: contains(`column 24: unknown verb`)},
	}
	eventtest.Covered(t, fn, cases)
	seed(t, eventtest.Env(t))
	eventtest.Run(t, eventtest.Function(t, fn), cases)
}

// seed bootstraps tenancy dev (dev/admin) and adds dev/ci.
func seed(t *testing.T, cfg config.Config) {
	t.Helper()
	ctx := context.Background()
	stores := eventtest.Stores(t, cfg)
	if _, err := app.Bootstrap(ctx, cfg, stores.IDs); err != nil {
		t.Fatal(err)
	}
	if err := stores.IDs.PutUser(ctx, store.User{Tenancy: "dev", Name: "ci", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// contains checks that the body holds every substring.
func contains(subs ...string) func(*testing.T, events.APIGatewayV2HTTPResponse, []byte) {
	return func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body []byte) {
		for _, s := range subs {
			if !strings.Contains(string(body), s) {
				t.Errorf("body %s lacks %s", body, s)
			}
		}
	}
}

// TestLinksOnlyWhatItServes: the admin function links the admin and
// retention APIs and the Lambda adapter (and shared/store/kmskey for the
// pull-through cache's key, which seals upstream credentials through
// shared/awscall), and no registry function wiring, signing key, SDK KMS
// or Lambda client (runs go to retention through shared/awscall), local
// gateway, embedded store or SDK credential chain.
func TestLinksOnlyWhatItServes(t *testing.T) {
	linktest.Check(t, slices.Concat(linktest.Every, []string{
		"github.com/berth-registry/berth/shared/app/authfn", "github.com/berth-registry/berth/shared/app/registryfn",
		"github.com/aws/aws-sdk-go-v2/service/lambda",
	}), []string{
		"github.com/berth-registry/berth/shared/admin", "github.com/berth-registry/berth/shared/retention",
		"github.com/berth-registry/berth/shared/lambdahttp", "github.com/berth-registry/berth/shared/store/kmskey",
	})
}

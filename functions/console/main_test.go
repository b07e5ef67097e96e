package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/route"
)

// fn is the function under test.
const fn = route.Console

// csp is the start of the policy every console answer carries.
const csp = "default-src 'none'; script-src 'self'*"

// TestEvents runs every events/console-*.json through the function as
// Lambda would, on a store holding tenancy dev with dev/admin. The
// events carry the authorizer's decision: a session of dev/admin, or
// none.
func TestEvents(t *testing.T) {
	cases := []eventtest.Case{
		{File: "console-get-repositories.json", Status: 200,
			Headers: map[string]string{"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": csp, "X-Frame-Options": "DENY"},
			Check:   contains("<!doctype html>", "<h1>Repositories</h1>", `id="create-link"`)},
		// No session: to the sign-in page, and back here after.
		{File: "console-get-anonymous.json", Status: 303,
			Headers: map[string]string{"Location": "/console/sign-in?next=%2Fconsole%2Frepositories", "Content-Security-Policy": csp}},
		{File: "console-get-sign-in.json", Status: 200, Headers: map[string]string{"Content-Security-Policy": csp},
			Check: contains(`<form method="post" action="/console/sign-in"`, `name="token" type="password"`)},
		{File: "console-get-static.json", Status: 200, Headers: map[string]string{"Content-Type": "text/javascript*"},
			Check: contains("htmx")},
		// A form posted from another site is refused, whatever the
		// session; one from the console itself creates.
		{File: "console-post-cross-site.json", Status: 403, Check: contains("came from another site")},
		{File: "console-post-create.json", Status: 303,
			Headers: map[string]string{"Location": "/console/repositories/dev/web?notice=created"}},
	}
	eventtest.Covered(t, fn, cases)
	cfg := eventtest.Env(t)
	seed(t, cfg)
	eventtest.Run(t, eventtest.Function(t, fn), cases)
	stores := eventtest.Stores(t, cfg)
	if _, err := stores.Meta.GetRepository(context.Background(), "pwned"); err == nil {
		t.Error("the cross-site POST created a repository")
	}
}

// seed bootstraps tenancy dev with dev/admin, an administrator.
func seed(t *testing.T, cfg config.Config) {
	t.Helper()
	if _, err := app.Bootstrap(context.Background(), cfg, eventtest.Stores(t, cfg).IDs); err != nil {
		t.Fatal(err)
	}
}

// contains checks that the body holds every substring.
func contains(subs ...string) func(*testing.T, events.APIGatewayV2HTTPResponse, []byte) {
	return func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body []byte) {
		for _, s := range subs {
			if !strings.Contains(string(body), s) {
				t.Errorf("body lacks %s:\n%.2000s", s, body)
			}
		}
	}
}

// TestLinksOnlyWhatItServes: the console links the admin and retention
// services, the registry (it deletes images as the registry does) and
// the Lambda adapter, and no signing key (KMS: sessions are signed by
// the token function), Lambda client (it starts no runs), local
// gateway, embedded store or SDK credential chain.
func TestLinksOnlyWhatItServes(t *testing.T) {
	linktest.Check(t, slices.Concat(linktest.Every, linktest.NoKMS, []string{"github.com/aws/aws-sdk-go-v2/service/lambda"}),
		[]string{"github.com/berth-registry/berth/shared/console", "github.com/berth-registry/berth/shared/admin",
			"github.com/berth-registry/berth/shared/retention", "github.com/berth-registry/berth/shared/lambdahttp"})
}

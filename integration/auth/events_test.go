package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/authfn"
	"github.com/berth-registry/berth/shared/app/registryfn"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/route"
)

// TestCatchAllServesOnlyWhatTheAuthorizerDecided drives the authorizer
// and the base function with the events API Gateway sends when it hands a
// request to the catch-all route "ANY /v2/{proxy+}" although its decoded
// rawPath names a repository route — as for "/v2/dev%2Fapp%2Fmanifests%2Fv1",
// whose encoded slashes keep it one segment for routing while Lambda gets
// rawPath percent-decoded (docs/gateway-facts.md §3). The local gateway
// decodes before routing, so this is reachable only with events. The
// authorizer decides the catch-all (any signed-in caller may reach it);
// the function must not then serve a delete it was never asked about.
func TestCatchAllServesOnlyWhatTheAuthorizerDecided(t *testing.T) {
	onBackends(t, catchAllServesOnlyWhatTheAuthorizerDecided)
}

func catchAllServesOnlyWhatTheAuthorizerDecided(t *testing.T, backend string) {
	w := newWorld(t, backend)
	r := w.r
	ctx := context.Background()
	// The base function and the authorizer as their mains build them
	// (registryfn, authfn), over the registry's stores.
	quiet := slog.New(slog.DiscardHandler)
	env := app.Env{Config: r.cfg, Log: quiet, Clock: r.local.Clock}
	a, err := authfn.New(ctx, env, authfn.Stores{IDs: r.local.Stores.IDs, Repos: r.local.Stores.Meta})
	if err != nil {
		t.Fatal(err)
	}
	reg := registryfn.Registry(env, r.local.Stores, nil, nil)
	base := lambdahttp.Handler(registryfn.Handler(env, reg, route.Base), quiet)
	authorize := lambdahttp.Authorizer(a.Authorizer, quiet)

	callers := map[string]string{
		"dev/nobody (Basic)":       r.as("dev/nobody").basic(),
		"anonymous registry token": "Bearer " + r.token("", who{}),
	}
	for _, tc := range []struct {
		method, rawPath, caller string
	}{
		{"DELETE", "/v2/dev/app/manifests/" + w.app.digest.String(), "dev/nobody (Basic)"},
		{"DELETE", "/v2/dev/app/manifests/v1", "anonymous registry token"},
		{"GET", "/v2/dev/app/manifests/v1", "anonymous registry token"},
		{"GET", "/v2/dev/app/blobs/" + w.app.layerD.String(), "dev/nobody (Basic)"},
		{"PUT", "/v2/dev/app/manifests/v9", "dev/nobody (Basic)"},
		{"POST", "/v2/dev/made-up/blobs/uploads", "anonymous registry token"},
	} {
		headers := map[string]string{"authorization": callers[tc.caller], "host": "registry.example"}
		aev := events.APIGatewayV2CustomAuthorizerV2Request{
			Version: "2.0", Type: "REQUEST", RouteKey: "ANY /v2/{proxy+}", RawPath: tc.rawPath,
			Headers: headers, PathParameters: map[string]string{"proxy": tc.rawPath[len("/v2/"):]},
		}
		aev.RequestContext.HTTP.Method = tc.method
		decision, err := authorize(ctx, aev)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(decision.Context)
		var lambdaCtx map[string]any
		_ = json.Unmarshal(b, &lambdaCtx)
		fev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: aev.RouteKey, RawPath: tc.rawPath, Headers: headers, PathParameters: aev.PathParameters,
			Body: string(w.app.manifest),
		}
		fev.RequestContext.HTTP.Method = tc.method
		fev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
		res, err := base(ctx, fev)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode < 400 {
			t.Errorf("%s %s through the catch-all as %s: %d %s; want a refusal", tc.method, tc.rawPath, tc.caller, res.StatusCode, res.Body)
		}
	}
	if res := r.admin().do("GET", "/v2/dev/app/manifests/v1", nil, nil); res.Status != http.StatusOK {
		t.Errorf("dev/app:v1 after the attempts: %v", res)
	}
	if res := r.admin().do("GET", "/v2/dev/app/manifests/v9", nil, nil); res.Status != http.StatusNotFound {
		t.Errorf("dev/app:v9 after the attempts: %v, want 404", res)
	}
}

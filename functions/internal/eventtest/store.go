package eventtest

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/route"
)

// Env sets the environment a function is built from (config.FromEnv)
// for the length of t: an embedded store in dir, API Gateway's limits,
// and auth on, so the function enforces the authorizer's decision the
// events carry.
func Env(t testing.TB, dir string) {
	t.Helper()
	t.Setenv("BERTH_BACKEND", "embedded")
	t.Setenv("BERTH_DATA", dir)
	t.Setenv("BERTH_LIMITS", "aws")
	t.Setenv("BERTH_AUTH", "on")
}

// Function returns the Lambda handler app.Function builds for function
// (a route function name) in the environment [Env] sets for dir. It opens
// the store's bbolt file, so call it once per dir.
func Function(t testing.TB, function, dir string) lambdahttp.HandlerFunc {
	t.Helper()
	Env(t, dir)
	h, err := app.Function(context.Background(), function)
	if err != nil {
		t.Fatalf("app.Function: %v", err)
	}
	return h
}

// Seed pushes content into the embedded store in dir by running event
// files through the registry functions their route keys name, failing t
// on any response that is not a success. It closes the store before it
// returns, so that [Function] can open it.
func Seed(t testing.TB, dir string, files ...string) {
	t.Helper()
	stores, err := backend.Open(context.Background(), config.Config{Backend: "embedded", Data: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer stores.Close()
	reg := registry.New(stores.Meta.(registry.Store), stores.Blobs, registry.DefaultConfig())
	id := ""
	for _, f := range files {
		ev := Load(t, f, id)
		m, ok := route.FromKey(ev.RouteKey, nil)
		if !ok {
			t.Fatalf("%s: route key %q is not in the table", f, ev.RouteKey)
		}
		res, err := lambdahttp.Handler(reg.Handler(m.Route.Function))(context.Background(), ev)
		if err != nil || res.StatusCode >= 300 {
			t.Fatalf("seed %s: %d %s (%v)", f, res.StatusCode, res.Body, err)
		}
		if u := Header(res, "Docker-Upload-UUID"); u != "" && res.StatusCode == 202 {
			id = u
		}
	}
}

package eventtest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/adminfn"
	"github.com/berth-registry/berth/shared/app/authfn"
	"github.com/berth-registry/berth/shared/app/fillfn"
	"github.com/berth-registry/berth/shared/app/registryfn"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/route"
)

// Env sets the environment a function is built from (config.FromEnv) for
// the length of t, as the stack sets it on AWS: the aws backend on a
// fresh table and bucket (created by the first function that opens
// them, BERTH_INIT=1) against emulators — dynalite and gofakes3, so the
// test skips without dynalite (fails under CI=true): see
// harness.OnAWS — API Gateway's limits, auth on, and a token-signing
// key. It returns that configuration.
func Env(t testing.TB) config.Config {
	t.Helper()
	cfg := harness.OnAWS(t, config.Config{})
	key, err := auth.NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"BERTH_BACKEND": "aws", "BERTH_TABLE": cfg.Table, "BERTH_BUCKET": cfg.Bucket, "BERTH_INIT": "1",
		"BERTH_DATA": cfg.Data, "BERTH_LIMITS": "aws", "BERTH_AUTH": "on", "BERTH_SIGNING_KEY": string(key),
		"BERTH_SIGNING_KEY_ID": "", "BERTH_ADMIN_TOKEN": "", "BERTH_TEST_CLOCK": "", "BERTH_LOG_LEVEL": "warn",
	} {
		t.Setenv(k, v)
	}
	cfg, err = config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Function returns the Lambda handler that function's main builds
// (registryfn.New, authfn.Token or adminfn.New) in the environment [Env]
// set.
func Function(t testing.TB, function string) lambdahttp.HandlerFunc {
	t.Helper()
	ctx := context.Background()
	var (
		h   lambdahttp.HandlerFunc
		err error
	)
	switch function {
	case route.Token:
		h, err = authfn.Token(ctx)
	case route.Admin:
		h, err = adminfn.New(ctx)
	case route.Manifests, route.Blobs: // the functions that fill the pull-through cache
		h, err = registryfn.New(ctx, function, fillfn.Open)
	default:
		h, err = registryfn.New(ctx, function, nil)
	}
	if err != nil {
		t.Fatalf("build the %s function: %v", function, err)
	}
	return h
}

// Stores opens the table and bucket of cfg, for a test to seed.
func Stores(t testing.TB, cfg config.Config) *backend.Stores {
	t.Helper()
	awsCfg, err := backend.LambdaSDK(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stores, err := backend.AWS(context.Background(), awsCfg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return stores
}

// Seed pushes content into the stores of cfg by running event files
// through the registry functions their route keys name (without the
// enforcement point), failing t on any response that is not a success.
func Seed(t testing.TB, cfg config.Config, files ...string) {
	t.Helper()
	open := cfg
	open.Auth = false
	env := app.NewEnv(open, slog.New(slog.DiscardHandler))
	reg := registryfn.Registry(env, Stores(t, cfg), nil, nil)
	id := ""
	for _, f := range files {
		ev := Load(t, f, id)
		m, ok := route.FromKey(ev.RouteKey, nil)
		if !ok {
			t.Fatalf("%s: route key %q is not in the table", f, ev.RouteKey)
		}
		res, err := lambdahttp.Handler(reg.Handler(m.Route.Function), env.Log)(context.Background(), ev)
		if err != nil || res.StatusCode >= 300 {
			t.Fatalf("seed %s: %d %s (%v)", f, res.StatusCode, res.Body, err)
		}
		if u := Header(res, "Docker-Upload-UUID"); u != "" && res.StatusCode == 202 {
			id = u
		}
	}
}

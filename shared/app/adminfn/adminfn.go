// Package adminfn wires the admin function (functions/admin): the admin
// API and retention's under /api, on one api.Mux, behind the enforcement
// point. Retention runs started through the API go to the retention
// function (BERTH_RETENTION_FUNCTION) on AWS.
package adminfn

import (
	"context"
	"errors"
	"net/http"
	"os"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/api"
	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/fillfn"
	"github.com/berth-registry/berth/shared/app/retentionfn"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/pullthrough"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/scrub"
	"github.com/berth-registry/berth/shared/store/kmskey"
)

// Sealer returns what seals (and opens) upstream credentials on AWS:
// the KMS key BERTH_CACHE_KEY_ID through shared/store/kmskey
// (kms:Encrypt when a rule is written), or nil (rules with credentials
// are refused, and a warning says why) when the stack gave none. The
// functions that only open credentials use fillfn.Opener, which links
// no kmskey.
func Sealer(ctx context.Context, env app.Env) (pullthrough.Sealer, error) {
	if env.Config.CacheKeyID == "" {
		env.Log.Warn("no key to seal pull-through cache credentials with (set BERTH_CACHE_KEY_ID): rules with credentials are refused")
		return nil, nil
	}
	awsCfg, err := env.SDK(ctx)
	if err != nil {
		return nil, err
	}
	return kmskey.NewSealer(kmskey.Client(awsCfg), env.Config.CacheKeyID), nil
}

// Handler is the admin function's http.Handler over opened stores, the
// retention service and the pull-through cache's rules (nil where the
// store keeps none): /api/retention/ is retention's, the rest the admin
// API's, behind the enforcement point.
func Handler(env app.Env, stores *backend.Stores, svc *retention.Service, rules *pullthrough.Rules) http.Handler {
	cfg := env.Config
	m := api.NewMux(env.Log)
	API(env, stores, rules).Routes(m)
	retention.NewAPI(svc, stores.IDs, retention.APIConfig{Tenancy: cfg.Tenancy, Clock: env.Clock}).Routes(m)
	m.NotFound(retention.Prefix, "docs/retention.md")
	m.NotFound("/api/", "docs/auth.md")
	return metrics.Handler(env.Metrics, route.Admin, authz.Enforce(m, cfg.Service))
}

// API is the admin API's services over opened stores: the admin
// function serves them as JSON, the console (shared/app/consolefn)
// calls them in process. rules are the pull-through cache's (nil where
// the store keeps none, and in the console, which manages none).
func API(env app.Env, stores *backend.Stores, rules *pullthrough.Rules) *admin.API {
	cfg := env.Config
	// Image details read config blobs and large manifest bodies.
	opts := []admin.Option{admin.WithContent(stores.Blobs)}
	if sc := scrubber(stores, env); sc != nil {
		opts = append(opts, admin.WithScrub(sc))
	}
	acfg := admin.Config{Tenancy: cfg.Tenancy, Now: env.Clock.Now, OIDCLoopback: cfg.OIDCLoopback, Stats: stores.Meta, Usage: stores.Meta, CacheRules: rules}
	return admin.New(stores.IDs, stores.Meta, acfg, env.Log, opts...)
}

// scrubber builds blob verification where the stores allow it: records
// the collector can list, objects that stream (nil otherwise).
func scrubber(stores *backend.Stores, env app.Env) *scrub.Scrubber {
	rec, ok := stores.Meta.(scrub.Records)
	objs, ok2 := stores.Blobs.(scrub.Objects)
	if !ok || !ok2 {
		return nil
	}
	return scrub.New(rec, objs, env.Log)
}

// New returns the admin function's Lambda handler, with its stores
// opened from the environment.
func New(ctx context.Context) (lambdahttp.HandlerFunc, error) {
	env, stores, err := app.LoadAWS(ctx)
	if err != nil {
		return nil, err
	}
	if !env.Config.Auth {
		return nil, errors.New("the admin function needs authentication on (BERTH_AUTH=on, as the stack sets it)")
	}
	svc, err := retentionfn.Service(ctx, env, stores, os.Getenv("BERTH_RETENTION_FUNCTION"))
	if err != nil {
		return nil, err
	}
	sealer, err := Sealer(ctx, env)
	if err != nil {
		return nil, err
	}
	cache, err := fillfn.OpenWith(ctx, env, stores, sealer)
	if err != nil {
		return nil, err
	}
	var rules *pullthrough.Rules
	if cache != nil {
		rules = cache.Rules
	}
	return lambdahttp.Handler(Handler(env, stores, svc, rules), env.Log), nil
}

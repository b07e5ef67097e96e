// Package registryfn wires the registry functions (functions/base,
// manifests, blobs, uploads, tags, referrers, catalog): the OCI
// distribution API over the aws backend, behind the enforcement point.
// A registry function links no admin API, retention service, local
// gateway, embedded store or KMS (each function's main_test.go pins
// that).
package registryfn

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/cachefn"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/usage"
)

// Config derives the registry's tunables from the configuration, on the
// environment's clock.
func Config(env app.Env) registry.Config {
	rc := registry.DefaultConfig()
	rc.PresignTTL = env.Config.PresignTTL
	rc.Now = env.Clock.Now
	if !env.Config.Limits {
		// Without the gateway's limits any chunk size fits one request.
		rc.ChunkMax = 0
	}
	return rc
}

// Registry builds the registry over opened stores: pulls counted for
// retention, pushes checked against tenancies' quotas, a pull-through
// cache where up is set (nil: none) and, with authentication on
// (cfg.Auth), policy asked of policy (nil: the function's own
// authorizer, which only answers policy questions and never touches the
// signing key) and pushes audited.
func Registry(env app.Env, stores *backend.Stores, policy registry.Policy, up registry.Upstream) *registry.Registry {
	opts := []registry.Option{
		registry.WithLogger(env.Log),
		registry.WithPulls(registry.PullTracker{Stats: stores.Meta, Now: env.Clock.Now}),
		registry.WithQuota(usage.NewChecker(stores.Meta)),
	}
	if up != nil {
		opts = append(opts, registry.WithUpstream(up))
	}
	if env.Config.Auth {
		if policy == nil {
			policy = authz.NewAuthorizer(stores.IDs, stores.Meta, nil).WithClock(env.Clock.Now)
		}
		opts = append(opts, registry.WithPolicy(policy), registry.WithAudit(stores.IDs))
	}
	return registry.New(stores.Meta, stores.Blobs, Config(env), opts...)
}

// Handler is one registry function's http.Handler over reg, behind the
// enforcement point when authentication is on, logging its metrics.
func Handler(env app.Env, reg *registry.Registry, function string) http.Handler {
	h := reg.Handler(function)
	if env.Config.Auth {
		h = authz.Enforce(h, env.Config.Service)
	}
	return metrics.Handler(env.Metrics, function, h)
}

// CacheOpener builds a function's pull-through cache over its stores
// (shared/app/fillfn's Open, for the functions that fill).
type CacheOpener func(ctx context.Context, env app.Env, stores *backend.Stores) (*cachefn.Cache, error)

// New returns the Lambda handler of a registry function, with its
// stores opened from the environment. The functions that fill the
// pull-through cache (manifests, blobs) pass open; the others guard
// cached repositories against pushes with a cache that never fills
// (and so links no KMS and no Lambda client).
func New(ctx context.Context, function string, open CacheOpener) (lambdahttp.HandlerFunc, error) {
	if !slices.Contains(route.RegistryFunctions, function) {
		return nil, fmt.Errorf("%q is not a registry function (%v)", function, route.RegistryFunctions)
	}
	env, stores, err := app.LoadAWS(ctx)
	if err != nil {
		return nil, err
	}
	var cache *cachefn.Cache
	if open != nil {
		if cache, err = open(ctx, env, stores); err != nil {
			return nil, err
		}
	} else {
		cache = cachefn.New(env, stores, nil, cachefn.NoFillFunction)
	}
	reg := Registry(env, stores, nil, cache.Upstream())
	return lambdahttp.Handler(Handler(env, reg, function), env.Log), nil
}

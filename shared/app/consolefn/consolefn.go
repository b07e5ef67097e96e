// Package consolefn wires the console function (functions/console): the
// web console under /console over the same services the admin function
// serves as JSON, called in process (docs/console.md).
package consolefn

import (
	"context"
	"errors"
	"net/http"
	"os"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/registryfn"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/console"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/route"
)

// Handler is the console function's http.Handler over opened stores.
// The console enforces the authorizer's decision itself (its refusals
// are pages and redirects to sign in, not the registry's JSON).
func Handler(env app.Env, stores *backend.Stores, svc *retention.Service) (http.Handler, error) {
	cfg := env.Config
	// The admin API's services as the admin function builds them
	// (shared/app/adminfn), without blob verification, which the console
	// does not offer: image details read config blobs and large
	// manifests' bodies.
	adm := admin.New(stores.IDs, stores.Meta, admin.Config{Tenancy: cfg.Tenancy, Now: env.Clock.Now, OIDCLoopback: cfg.OIDCLoopback,
		Stats: stores.Meta, Usage: stores.Meta}, env.Log, admin.WithContent(stores.Blobs))
	c, err := console.New(console.Config{
		IDs: stores.IDs, Tenancy: cfg.Tenancy, Now: env.Clock.Now, Log: env.Log,
		Admin: adm, Repos: adm, Images: adm,
		Retention: retention.NewAPI(svc, stores.IDs, retention.APIConfig{Tenancy: cfg.Tenancy, Clock: env.Clock}),
		// Images are deleted as DELETE /v2/<name>/manifests/<digest>
		// deletes them, once the admin API's decision allows it.
		Deleter: registryfn.Registry(env, stores, nil, nil),
	})
	if err != nil {
		return nil, err
	}
	return metrics.Handler(env.Metrics, route.Console, c), nil
}

// New returns the console function's Lambda handler, with its stores
// opened from the environment.
func New(ctx context.Context) (lambdahttp.HandlerFunc, error) {
	env, stores, err := app.LoadAWS(ctx)
	if err != nil {
		return nil, err
	}
	if !env.Config.Auth {
		return nil, errors.New("the console function needs authentication on (BERTH_AUTH=on, as the stack sets it)")
	}
	// The console previews and restores; it starts no runs, so it
	// needs no dispatcher (and links no Lambda client).
	svc, err := retention.Open(retention.Stores{Meta: stores.Meta, Ret: stores.Meta, Blobs: stores.Blobs, Tenancies: stores.IDs, Usage: stores.Meta},
		os.Getenv, env.Clock, env.Log)
	if err != nil {
		return nil, err
	}
	h, err := Handler(env, stores, svc)
	if err != nil {
		return nil, err
	}
	return lambdahttp.Handler(h, env.Log), nil
}

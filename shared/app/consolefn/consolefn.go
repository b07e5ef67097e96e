// Package consolefn wires the console function (functions/console): the
// web console under /console over the same services the admin function
// serves as JSON, called in process (docs/console.md).
package consolefn

import (
	"context"
	"errors"
	"net/http"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/console"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/route"
)

// Handler is the console function's http.Handler over opened stores.
// The console enforces the authorizer's decision itself (its refusals
// are pages and redirects to sign in, not the registry's JSON).
func Handler(env app.Env, stores *backend.Stores) (http.Handler, error) {
	c, err := console.New(console.Config{
		IDs: stores.IDs, Tenancy: env.Config.Tenancy, Now: env.Clock.Now, Log: env.Log,
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
	h, err := Handler(env, stores)
	if err != nil {
		return nil, err
	}
	return lambdahttp.Handler(h, env.Log), nil
}

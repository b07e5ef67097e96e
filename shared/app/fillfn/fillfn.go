// Package fillfn wires the parts of the pull-through cache
// (docs/pull-through.md) that need AWS beyond the table and bucket: the
// KMS key that seals upstream credentials (BERTH_CACHE_KEY_ID) and the
// fill function (functions/fill, BERTH_FILL_FUNCTION) that runs fills
// too long for a request. The functions that fill (manifests, blobs, the
// fill function) and the one that writes rules (admin) link it; the
// other registry functions only guard cached repositories
// (shared/app/cachefn) and link no KMS.
package fillfn

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/cachefn"
	"github.com/berth-registry/berth/shared/app/invoke"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/pullthrough"
	"github.com/berth-registry/berth/shared/store/kmskey"
)

// Sealer returns what seals upstream credentials on AWS: the KMS key
// BERTH_CACHE_KEY_ID, or nil (rules with credentials are refused, and a
// warning says why) when the stack gave none.
func Sealer(ctx context.Context, env app.Env) (pullthrough.Sealer, error) {
	if env.Config.CacheKeyID == "" {
		env.Log.Warn("no key to seal pull-through cache credentials with (set BERTH_CACHE_KEY_ID): rules with credentials are refused")
		return nil, nil
	}
	awsCfg, err := env.SDK(ctx)
	if err != nil {
		return nil, err
	}
	return kmskey.NewSealer(kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		if ep := backend.Endpoint("KMS"); ep != nil {
			o.BaseEndpoint = ep
		}
	}), env.Config.CacheKeyID), nil
}

// Dispatcher returns where fills too long for a request go: the fill
// function BERTH_FILL_FUNCTION names, else nowhere (cachefn.NoFillFunction).
func Dispatcher(ctx context.Context, env app.Env) (pullthrough.Dispatcher, error) {
	if env.Config.FillFunction == "" {
		return cachefn.NoFillFunction, nil
	}
	awsCfg, err := env.SDK(ctx)
	if err != nil {
		return nil, err
	}
	return Invoker{invoke.New(awsCfg, env.Config.FillFunction)}, nil
}

// Invoker hands fills to the fill function as asynchronous invocations.
type Invoker struct{ *invoke.Async }

// DispatchFill implements pullthrough.Dispatcher.
func (i Invoker) DispatchFill(ctx context.Context, j pullthrough.Job) error {
	if err := i.Invoke(ctx, j); err != nil {
		return fmt.Errorf("dispatch fill of %s@%s: %w", j.Repo, j.Digest, err)
	}
	return nil
}

// Open builds a function's pull-through cache over its stores: the KMS
// sealer and the fill function from the environment. A function's fills
// run in the fill function, never in a goroutine that would freeze with
// the invocation.
func Open(ctx context.Context, env app.Env, stores *backend.Stores) (*cachefn.Cache, error) {
	sealer, err := Sealer(ctx, env)
	if err != nil {
		return nil, err
	}
	d, err := Dispatcher(ctx, env)
	if err != nil {
		return nil, err
	}
	return cachefn.New(env, stores, sealer, d), nil
}

// Filler is the fill function: one asynchronous fill
// (events/fill-job.json) per invocation.
type Filler struct {
	// Stores are the stores it fills, opened from the environment.
	Stores *backend.Stores
	cache  *cachefn.Cache
}

// Handle runs one fill; an error makes Lambda retry the job (twice).
func (f *Filler) Handle(ctx context.Context, j pullthrough.Job) error {
	return f.cache.Fills.Fill(ctx, j)
}

// Function returns the fill function with its stores opened from the
// environment.
func Function(ctx context.Context) (*Filler, error) {
	env, stores, err := app.LoadAWS(ctx)
	if err != nil {
		return nil, err
	}
	sealer, err := Sealer(ctx, env)
	if err != nil {
		stores.Close()
		return nil, err
	}
	// A fill never dispatches another: its blob is filled here.
	c := cachefn.New(env, stores, sealer, cachefn.NoFillFunction)
	if c == nil {
		stores.Close()
		return nil, fmt.Errorf("the %s backend keeps no pull-through cache state", env.Config.Backend)
	}
	return &Filler{Stores: stores, cache: c}, nil
}

// Package fillfn wires the parts of the pull-through cache
// (docs/pull-through.md) that need AWS beyond the table and bucket: the
// KMS key that opens upstream credentials (BERTH_CACHE_KEY_ID) and the
// fill function (functions/fill, BERTH_FILL_FUNCTION) that runs fills
// too long for a request. The functions that fill (manifests, blobs, the
// fill function) and the one that writes rules (admin) link it; the
// other registry functions only guard cached repositories
// (shared/app/cachefn). It calls KMS and Lambda through shared/awscall,
// so it links neither SDK client: the admin function brings the KMS
// client that seals (adminfn.Sealer).
package fillfn

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/cachefn"
	"github.com/berth-registry/berth/shared/app/invoke"
	"github.com/berth-registry/berth/shared/awscall"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/pullthrough"
)

// Opener returns what opens upstream credentials in the functions that
// fill: kms:Decrypt with the key BERTH_CACHE_KEY_ID, sent through
// shared/awscall rather than the SDK's KMS client (bootstrap size and
// init time); or nil (rules with credentials cannot be used, and a
// warning says why) when the stack gave no key. It never seals: rules
// are written through the admin function, whose sealer
// (adminfn.Sealer) encrypts with the same key and context.
func Opener(ctx context.Context, env app.Env) (pullthrough.Sealer, error) {
	if env.Config.CacheKeyID == "" {
		env.Log.Warn("no key to open pull-through cache credentials with (set BERTH_CACHE_KEY_ID): rules with credentials cannot be used")
		return nil, nil
	}
	awsCfg, err := env.SDK(ctx)
	if err != nil {
		return nil, err
	}
	return opener{kms: awscall.NewKMS(awsCfg), keyID: env.Config.CacheKeyID}, nil
}

// ErrNoSealing is what an Opener's Seal returns.
var ErrNoSealing = errors.New("this function opens pull-through cache credentials but never seals them: rules are written through the admin API")

// opener implements pullthrough.Sealer with kms:Decrypt alone.
type opener struct {
	kms   *awscall.KMS
	keyID string
}

// Seal implements pullthrough.Sealer: ErrNoSealing.
func (opener) Seal(context.Context, []byte, map[string]string) ([]byte, error) {
	return nil, ErrNoSealing
}

// Open implements pullthrough.Sealer (kms:Decrypt, with the key named
// so that a ciphertext of another key is refused).
func (o opener) Open(ctx context.Context, sealed []byte, context map[string]string) ([]byte, error) {
	return o.kms.Decrypt(ctx, o.keyID, sealed, context)
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

// Open builds a registry function's pull-through cache over its stores:
// the Opener and the fill function from the environment. A function's
// fills run in the fill function, never in a goroutine that would freeze
// with the invocation.
func Open(ctx context.Context, env app.Env, stores *backend.Stores) (*cachefn.Cache, error) {
	o, err := Opener(ctx, env)
	if err != nil {
		return nil, err
	}
	return OpenWith(ctx, env, stores, o)
}

// OpenWith is Open with sealer in place of the Opener: the admin
// function's, which seals the credentials of the rules it writes.
func OpenWith(ctx context.Context, env app.Env, stores *backend.Stores, sealer pullthrough.Sealer) (*cachefn.Cache, error) {
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
	o, err := Opener(ctx, env)
	if err != nil {
		stores.Close()
		return nil, err
	}
	// A fill never dispatches another: its blob is filled here.
	c := cachefn.New(env, stores, o, cachefn.NoFillFunction)
	if c == nil {
		stores.Close()
		return nil, fmt.Errorf("the %s backend keeps no pull-through cache state", env.Config.Backend)
	}
	return &Filler{Stores: stores, cache: c}, nil
}

// Package cachefn builds a deployment's pull-through cache
// (docs/pull-through.md) over opened stores: the rules, which the admin
// API writes and the registry reads, and the cache that fills from
// them. It links no KMS and no Lambda client: what seals credentials and
// where long fills run are given to it (shared/app/fillfn builds those
// on AWS), so a registry function that only guards cached repositories
// against pushes stays lean.
package cachefn

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/pullthrough"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/store"
)

// Cache is the pull-through cache: its rules and its fills.
type Cache struct {
	Rules *pullthrough.Rules
	Fills *pullthrough.Cache
}

// NoFillFunction is a Lambda function's dispatcher where no fill function
// is deployed or the function never fills a blob: a goroutine would
// freeze with the invocation, so such fills are refused (a redirect still
// reaches the client; a blob too large for the request is answered with
// an error).
var NoFillFunction pullthrough.Dispatcher = noFill{}

type noFill struct{}

func (noFill) DispatchFill(context.Context, pullthrough.Job) error {
	return errors.New("no fill function is deployed (BERTH_FILL_FUNCTION)")
}

// New builds the cache over stores, or returns nil when the store keeps
// no cache state. sealer opens upstream credentials (nil: rules with
// credentials are refused); fills too long for a request go to d (nil:
// this process's goroutines, which only berth serve may use).
func New(env app.Env, stores *backend.Stores, sealer pullthrough.Sealer, d pullthrough.Dispatcher) *Cache {
	cs, ok := stores.Meta.(store.Cache)
	if !ok {
		return nil
	}
	cfg := env.Config
	rules := pullthrough.NewRules(cs, sealer, env.Clock.Now, cfg.CacheInsecure)
	st := pullthrough.Stores{Meta: stores.Meta, Fills: cs, Blobs: stores.Blobs, Audit: stores.IDs}
	if t, ok := stores.Meta.(store.BlobTouches); ok {
		st.Touch = t // as the registry's commits touch
	}
	pc := pullthrough.Config{InlineManifestMax: registry.DefaultConfig().InlineManifestMax, Insecure: cfg.CacheInsecure, Now: env.Clock.Now}
	return &Cache{Rules: rules, Fills: pullthrough.New(st, rules, d, pc, env.Log)}
}

// Upstream is the cache as the registry's hook (nil when c is).
func (c *Cache) Upstream() registry.Upstream {
	if c == nil {
		return nil
	}
	return c.Fills
}

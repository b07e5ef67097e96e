package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/clock"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/pullthrough"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/kmskey"
	"github.com/berth-registry/berth/shared/store/local"
)

// Cache is a deployment's pull-through cache (docs/pull-through.md):
// the rules, which the admin API writes and the registry reads, and the
// cache that fills from them.
type Cache struct {
	Rules *pullthrough.Rules
	Fills *pullthrough.Cache
}

// NewCache builds the pull-through cache of a long-running process
// (berth serve) over stores, on clk (nil when the store keeps no cache
// state). Fills that do not fit a request run in the function
// BERTH_FILL_FUNCTION names, else in this process.
func NewCache(ctx context.Context, cfg config.Config, stores *backend.Stores, clk *clock.Clock, log *slog.Logger) (*Cache, error) {
	return newCache(ctx, cfg, stores, clk, log, true)
}

// noFillFunction is a Lambda function's dispatcher when the stack gave it
// no fill function: a goroutine would freeze with the invocation, so
// such fills are refused (a redirect still reaches the client; a blob
// too large for the request is answered with an error).
type noFillFunction struct{}

func (noFillFunction) DispatchFill(context.Context, pullthrough.Job) error {
	return errors.New("no fill function is deployed (BERTH_FILL_FUNCTION)")
}

// newCache is NewCache; inProcess lets fills run in this process's
// goroutines when no fill function is configured.
func newCache(ctx context.Context, cfg config.Config, stores *backend.Stores, clk *clock.Clock, log *slog.Logger, inProcess bool) (*Cache, error) {
	cs, ok := stores.Meta.(store.Cache)
	if !ok {
		return nil, nil
	}
	sealer, err := CacheSealer(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	rules := pullthrough.NewRules(cs, sealer, clk.Now, cfg.CacheInsecure)
	var d pullthrough.Dispatcher
	switch {
	case cfg.FillFunction != "":
		if d, err = backend.NewAsyncInvoker(ctx, cfg.FillFunction); err != nil {
			return nil, err
		}
	case !inProcess:
		d = noFillFunction{}
	}
	st := pullthrough.Stores{Meta: stores.Meta, Fills: cs, Blobs: stores.Blobs, Audit: stores.IDs}
	if ret, ok := stores.Meta.(store.Retention); ok {
		st.Touch = ret // as the registry's commits touch (Handlers)
	}
	pc := pullthrough.Config{InlineManifestMax: RegistryConfig(cfg).InlineManifestMax, Insecure: cfg.CacheInsecure, Now: clk.Now}
	return &Cache{Rules: rules, Fills: pullthrough.New(st, rules, d, pc, log)}, nil
}

// CacheSealer returns what seals upstream credentials: the KMS key
// BERTH_CACHE_KEY_ID (on AWS), else a key file in the data directory
// (created on first use), on either backend. Where neither is possible
// (a Lambda function without the key: its directory is read-only) it
// returns nil, and rules with credentials are refused.
func CacheSealer(ctx context.Context, cfg config.Config, log *slog.Logger) (pullthrough.Sealer, error) {
	if cfg.CacheKeyID != "" {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		return kmskey.NewSealer(kms.NewFromConfig(awsCfg), cfg.CacheKeyID), nil
	}
	s, err := local.OpenSealer(filepath.Join(cfg.Data, "cache-credentials.key"))
	if err != nil {
		if cfg.Backend == "embedded" {
			return nil, err
		}
		log.Warn("no key to seal pull-through cache credentials with (set BERTH_CACHE_KEY_ID): rules with credentials are refused", "error", err.Error())
		return nil, nil
	}
	return s, nil
}

// Filler is the fill function: one asynchronous fill
// (events/fill-job.json) per invocation.
type Filler struct {
	// Stores are the stores it fills, opened from the environment.
	Stores *backend.Stores
	cache  *Cache
}

// Handle runs one fill; an error makes Lambda retry the job (twice).
func (f *Filler) Handle(ctx context.Context, j pullthrough.Job) error {
	return f.cache.Fills.Fill(ctx, j)
}

// FillFunction returns the fill function with its stores opened from
// the environment.
func FillFunction(ctx context.Context) (*Filler, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	log := Logger(cfg.LogLevel)
	slog.SetDefault(log)
	stores, err := backend.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	clk := Clock(cfg)
	UseClock(stores, clk)
	// A fill never dispatches another: its blob is filled here.
	cfg.FillFunction = ""
	c, err := newCache(ctx, cfg, stores, clk, log, false)
	if err != nil || c == nil {
		stores.Close()
		if err == nil {
			err = fmt.Errorf("the %s backend keeps no pull-through cache state", cfg.Backend)
		}
		return nil, err
	}
	return &Filler{Stores: stores, cache: c}, nil
}

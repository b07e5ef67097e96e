// Package inprocess is the local composition (`berth serve`, `make
// run`): the local gateway invoking every function's Lambda handler in
// one process, over the embedded backend (bbolt and files) or the aws
// backend. It builds each function with the same constructors the
// function mains use (shared/app/...), wrapped in the same Lambda
// adapter (shared/lambdahttp); only the gateway passes the events as
// values rather than JSON (shared/gateway's HTTPFunc).
package inprocess

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/adminfn"
	"github.com/berth-registry/berth/shared/app/authfn"
	"github.com/berth-registry/berth/shared/app/cachefn"
	"github.com/berth-registry/berth/shared/app/fillfn"
	"github.com/berth-registry/berth/shared/app/registryfn"
	"github.com/berth-registry/berth/shared/app/retentionfn"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/clock"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/gateway"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/pullthrough"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
	"github.com/berth-registry/berth/shared/webhook"
)

// Local is the whole registry in one process: the local gateway invoking
// every function's Lambda handler in-process, over the configured
// stores.
type Local struct {
	Gateway *gateway.Gateway
	Stores  *backend.Stores
	// AdminToken is the bootstrap admin's auth token (login
	// "<tenancy>/admin") when authentication is on.
	AdminToken string
	// Retention applies retention policies; serve runs it hourly.
	Retention *retention.Service
	// Clock is the one clock every function reads (a test clock with
	// BERTH_TEST_CLOCK=1).
	Clock *clock.Clock
	// stopWebhook ends the webhook sender (BERTH_WEBHOOK_URL), and
	// webhookDone is closed when it has.
	// Cache is the pull-through cache (nil when the store keeps no
	// cache state); its fills run in this process unless
	// BERTH_FILL_FUNCTION names a fill function.
	Cache       *cachefn.Cache
	stopWebhook context.CancelFunc
	webhookDone chan struct{}
}

// SDK loads the AWS SDK's configuration as the SDK's users expect on
// their own machine: AWS_REGION, credentials, profiles, SSO and
// AWS_ENDPOINT_URL (LocalStack, emulators), by the SDK's own loader.
func SDK(ctx context.Context) (aws.Config, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return awsCfg, fmt.Errorf("aws configuration: %w", err)
	}
	return awsCfg, nil
}

// Open opens the stores of cfg.Backend: "embedded" (bbolt and files
// under cfg.Data) or "aws" (backend.AWS, with the SDK's whole
// configuration chain).
func Open(ctx context.Context, cfg config.Config) (*backend.Stores, error) {
	switch cfg.Backend {
	case "embedded":
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		meta, err := local.OpenMetadata(filepath.Join(cfg.Data, "metadata.db"))
		if err != nil {
			return nil, err
		}
		objs, err := local.OpenObjects(filepath.Join(cfg.Data, "blobs"))
		if err != nil {
			meta.Close()
			return nil, err
		}
		return &backend.Stores{Meta: meta, Blobs: objs, IDs: meta, Objects: objs, ObjectPrefix: local.ObjectPathPrefix, Closer: meta.Close}, nil
	case "aws":
		awsCfg, err := SDK(ctx)
		if err != nil {
			return nil, err
		}
		return backend.AWS(ctx, awsCfg, cfg)
	}
	return nil, fmt.Errorf("unknown backend %q", cfg.Backend)
}

// Option configures New.
type Option func(*app.Env)

// WithMetrics makes every function log its metrics as EMF lines to w,
// as on AWS (docs/metrics.md); without it the local registry logs none.
func WithMetrics(w io.Writer, namespace string) Option {
	return func(e *app.Env) { e.Metrics = metrics.New(w, namespace) }
}

// New opens the stores of cfg and builds the gateway and every function.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*Local, error) {
	env := app.NewEnv(cfg, log)
	env.SDK = SDK
	for _, o := range opts {
		o(&env)
	}
	stores, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	l, err := compose(ctx, env, stores)
	if err == nil && cfg.WebhookURL != "" {
		err = l.startWebhook(cfg, log)
	}
	if err != nil {
		stores.Close()
		return nil, err
	}
	return l, nil
}

// compose builds the functions over opened stores, as each function's
// main does, and the gateway in front of them.
func compose(ctx context.Context, env app.Env, stores *backend.Stores) (*Local, error) {
	cfg := env.Config
	env.UseClock(stores)
	l := &Local{Stores: stores, Clock: env.Clock}
	var err error
	// berth serve hands runs to no other function: they run here.
	if l.Retention, err = retentionfn.Service(ctx, env, stores, ""); err != nil {
		return nil, err
	}
	if l.Cache, err = cache(ctx, env, stores); err != nil {
		return nil, err
	}
	handlers := map[string]http.Handler{}
	var a *authfn.Auth
	if cfg.Auth {
		// One process signs and verifies: the authorizer is also the
		// registry's policy, so they share its caches.
		if a, err = authfn.New(ctx, env, authfn.Stores{IDs: stores.IDs, Repos: stores.Meta}); err != nil {
			return nil, err
		}
		if l.AdminToken, err = app.Bootstrap(ctx, cfg, stores.IDs); err != nil {
			return nil, err
		}
		handlers[route.Token] = metrics.Handler(env.Metrics, route.Token, a.Tokens)
		var rules *pullthrough.Rules
		if l.Cache != nil {
			rules = l.Cache.Rules
		}
		handlers[route.Admin] = adminfn.Handler(env, stores, l.Retention, rules)
	}
	var policy registry.Policy // nil: registryfn's own
	if a != nil {
		policy = a.Authorizer
	}
	reg := registryfn.Registry(env, stores, policy, l.Cache.Upstream())
	for _, f := range route.RegistryFunctions {
		handlers[f] = registryfn.Handler(env, reg, f)
	}
	fns := map[string]gateway.Invoker{}
	for name, h := range handlers {
		fns[name] = gateway.HTTPFunc(lambdahttp.Handler(h, env.Log))
	}
	limits := gateway.NoLimits()
	if cfg.Limits {
		limits = gateway.AWSLimits()
	}
	gw := gateway.New(fns, limits, env.Log)
	if a != nil {
		gw.Authorizer = gateway.AuthorizerFunc(authfn.AuthorizerHandler(env, a.Authorizer))
	}
	if stores.Objects != nil {
		gw.Objects, gw.ObjectPrefix = stores.Objects, stores.ObjectPrefix
	}
	l.Gateway = gw
	return l, nil
}

// startWebhook queues events in the embedded store's outbox and starts
// the sender that posts them to cfg.WebhookURL (docs/events.md).
func (l *Local) startWebhook(cfg config.Config, log *slog.Logger) error {
	ob, ok := l.Stores.Meta.(interface {
		store.Outbox
		EnableOutbox()
	})
	if !ok {
		return errors.New("BERTH_WEBHOOK_URL needs the embedded backend's outbox")
	}
	ob.EnableOutbox()
	ctx, stop := context.WithCancel(context.Background())
	l.stopWebhook, l.webhookDone = stop, make(chan struct{})
	go func() {
		defer close(l.webhookDone)
		webhook.New(ob, cfg.WebhookURL, []byte(cfg.WebhookSecret), log).Run(ctx)
	}()
	return nil
}

// Close stops the webhook sender and releases the stores.
func (l *Local) Close() error {
	if l.Cache != nil {
		l.Cache.Fills.Close()
	}
	if l.stopWebhook != nil {
		l.stopWebhook()
		<-l.webhookDone
	}
	return l.Stores.Close()
}

// cache builds berth serve's pull-through cache: credentials sealed with
// the KMS key BERTH_CACHE_KEY_ID names, else with a key file in the data
// directory (created on first use, on either backend; where the
// directory cannot hold one, rules with credentials are refused); fills
// too long for a request run in this process's goroutines unless
// BERTH_FILL_FUNCTION names a fill function (Lambda mode).
func cache(ctx context.Context, env app.Env, stores *backend.Stores) (*cachefn.Cache, error) {
	cfg := env.Config
	var sealer pullthrough.Sealer
	if cfg.CacheKeyID != "" {
		s, err := adminfn.Sealer(ctx, env)
		if err != nil {
			return nil, err
		}
		sealer = s
	} else if s, err := local.OpenSealer(filepath.Join(cfg.Data, "cache-credentials.key")); err == nil {
		sealer = s
	} else if cfg.Backend == "embedded" {
		return nil, err
	} else {
		env.Log.Warn("no key to seal pull-through cache credentials with (set BERTH_CACHE_KEY_ID): rules with credentials are refused", "error", err.Error())
	}
	var d pullthrough.Dispatcher // nil: fills run here
	if cfg.FillFunction != "" {
		var err error
		if d, err = fillfn.Dispatcher(ctx, env); err != nil {
			return nil, err
		}
	}
	return cachefn.New(env, stores, sealer, d), nil
}

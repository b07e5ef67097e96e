package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/clock"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/gateway"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/scrub"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
	"github.com/berth-registry/berth/shared/usage"
	"github.com/berth-registry/berth/shared/webhook"
)

// Local is the whole registry in one process: the local gateway invoking
// every function's Lambda handler in-process, over the configured stores.
type Local struct {
	Gateway *gateway.Gateway
	Stores  *backend.Stores
	// AdminToken is the bootstrap admin's auth token (login
	// "<tenancy>/admin") when authentication is on.
	AdminToken string
	// Retention applies retention policies (nil when the store keeps no
	// retention state); serve runs it hourly.
	Retention *retention.Service
	// Clock is the one clock every function reads (a test clock with
	// BERTH_TEST_CLOCK=1).
	Clock *clock.Clock
	// stopWebhook ends the webhook sender (BERTH_WEBHOOK_URL), and
	// webhookDone is closed when it has.
	stopWebhook context.CancelFunc
	webhookDone chan struct{}
	// Cache is the pull-through cache (nil when the store keeps no
	// cache state); its fills run in this process.
	Cache *Cache
}

// Clock returns the process's one clock (shared/clock): a test clock
// that stands still until POST /api/retention/clock moves it when
// cfg.TestClock (BERTH_TEST_CLOCK=1), else the wall clock. Every
// component that records a time reads it: the metadata store (links,
// touches, upload expiry), the registry (push, tag, upload), the token
// issuer and verifier, the authorizer (auth token expiry), the admin
// API and retention (pulls, runs, bin, restores, collection).
func Clock(cfg config.Config) *clock.Clock {
	if cfg.TestClock {
		return clock.NewTest(time.Now())
	}
	return clock.Wall()
}

// UseClock makes the metadata store stamp its times (blob links,
// touches, upload expiry) with clk.
func UseClock(stores *backend.Stores, clk *clock.Clock) {
	if s, ok := stores.Meta.(interface{ SetClock(func() time.Time) }); ok {
		s.SetClock(clk.Now)
	}
}

// Retention builds the retention service on clk when the store keeps
// retention state (nil otherwise).
func Retention(stores *backend.Stores, clk *clock.Clock, log *slog.Logger, opts ...retention.Option) (*retention.Service, error) {
	ret, ok := stores.Meta.(store.Retention)
	if !ok {
		return nil, nil
	}
	rcfg, err := retention.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	rcfg.TestClock = clk.Test()
	us, _ := stores.Meta.(store.UsageStore)
	svc := retention.New(retention.Stores{Meta: stores.Meta, Ret: ret, Blobs: stores.Blobs, Tenancies: stores.IDs, Usage: us}, rcfg, log, opts...)
	svc.Now = clk.Now
	if fn := os.Getenv("BERTH_RETENTION_FUNCTION"); fn != "" {
		// On AWS the admin function hands runs started through the API
		// to the retention function, as the hourly run fans out.
		d, err := backend.NewLambdaDispatcher(context.Background(), fn)
		if err != nil {
			return nil, err
		}
		svc.Dispatch = d
	}
	return svc, nil
}

// Handlers builds every function's http.Handler over opened stores:
// the registry functions (behind the enforcement middleware when auth is
// on), the token endpoint and the admin API (with retention's under
// /api/retention/), every one reading the time from clk. auth is nil
// when authentication is off (and with it the token endpoint and admin
// API); svc and cache are nil where the store keeps no retention or
// pull-through cache state.
func Handlers(cfg config.Config, stores *backend.Stores, a *Auth, svc *retention.Service, cache *Cache, clk *clock.Clock, log *slog.Logger) map[string]http.Handler {
	rc := RegistryConfig(cfg)
	rc.Now = clk.Now
	var ropts []registry.Option
	acfg := admin.Config{Tenancy: cfg.Tenancy, Now: clk.Now, OIDCLoopback: cfg.OIDCLoopback}
	if us, ok := stores.Meta.(store.UsageStore); ok {
		ropts = append(ropts, registry.WithQuota(usage.NewChecker(us)))
		acfg.Usage = us
	}
	if cache != nil {
		ropts = append(ropts, registry.WithUpstream(cache.Fills))
		acfg.CacheRules = cache.Rules
	}
	reg := registry.New(stores.Meta, stores.Blobs, rc, log, ropts...)
	if svc != nil {
		ret := stores.Meta.(store.Retention)
		reg.Pulls = retention.PullTracker{Stats: ret, Now: clk.Now}
		reg.Touch = ret
		acfg.Stats = ret
	}
	hs := map[string]http.Handler{}
	if a != nil {
		reg.Policy = a.Authorizer
		reg.Audit = stores.IDs
		if a.Tokens != nil {
			hs[route.Token] = a.Tokens
		}
		var opts []admin.Option
		if sc := scrubber(stores, log); sc != nil {
			opts = append(opts, admin.WithScrub(sc))
		}
		var api http.Handler = admin.New(stores.IDs, stores.Meta, acfg, log, opts...)
		if svc != nil {
			adminAPI := api
			retentionAPI := retention.API(svc, stores.IDs, retention.APIConfig{Tenancy: cfg.Tenancy, Clock: clk})
			api = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, retention.Prefix) {
					retentionAPI.ServeHTTP(w, r)
					return
				}
				adminAPI.ServeHTTP(w, r)
			})
		}
		hs[route.Admin] = authz.Enforce(api, cfg.Service)
	}
	for _, f := range route.RegistryFunctions {
		h := reg.Handler(f)
		if a != nil {
			h = authz.Enforce(h, cfg.Service)
		}
		hs[f] = h
	}
	return hs
}

// scrubber builds blob verification where the stores allow it: records
// the collector can list, objects that stream (nil otherwise).
func scrubber(stores *backend.Stores, log *slog.Logger) *scrub.Scrubber {
	rec, ok := stores.Meta.(scrub.Records)
	objs, ok2 := stores.Blobs.(scrub.Objects)
	if !ok || !ok2 {
		return nil
	}
	return scrub.New(rec, objs, log)
}

// LocalOption configures NewLocal.
type LocalOption func(*localOptions)

type localOptions struct{ metrics *metrics.Emitter }

// WithMetrics makes every function log its metrics as EMF lines to w,
// as on AWS (docs/metrics.md); without it the local registry logs none.
func WithMetrics(w io.Writer, namespace string) LocalOption {
	return func(o *localOptions) { o.metrics = metrics.New(w, namespace) }
}

// NewLocal opens the stores of cfg and builds the gateway and functions.
func NewLocal(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...LocalOption) (*Local, error) {
	var o localOptions
	for _, opt := range opts {
		opt(&o)
	}
	stores, err := backend.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	l := &Local{Stores: stores, Clock: Clock(cfg)}
	UseClock(stores, l.Clock)
	var a *Auth
	if cfg.Auth {
		if a, err = NewAuth(ctx, cfg, stores, l.Clock); err != nil {
			stores.Close()
			return nil, err
		}
		if l.AdminToken, err = Bootstrap(ctx, cfg, stores.IDs); err != nil {
			stores.Close()
			return nil, err
		}
	}
	fns := map[string]gateway.Invoker{}
	var ropts []retention.Option
	if o.metrics != nil {
		ropts = append(ropts, retention.WithMetrics(o.metrics))
	}
	svc, err := Retention(stores, l.Clock, log, ropts...)
	if err != nil {
		stores.Close()
		return nil, err
	}
	l.Retention = svc
	if l.Cache, err = NewCache(ctx, cfg, stores, l.Clock, log); err != nil {
		stores.Close()
		return nil, err
	}
	for name, h := range Handlers(cfg, stores, a, svc, l.Cache, l.Clock, log) {
		fns[name] = gateway.HTTPFunc(lambdahttp.Handler(metrics.Handler(o.metrics, name, h)))
	}
	limits := gateway.NoLimits()
	if cfg.Limits {
		limits = gateway.AWSLimits()
	}
	gw := gateway.New(fns, limits, log)
	if a != nil {
		gw.Authorizer = gateway.AuthorizerFunc(countDenials(o.metrics, a.Authorizer.Lambda(log)))
	}
	if stores.Objects != nil {
		gw.Objects = stores.Objects
		gw.ObjectPrefix = local.ObjectPathPrefix
	}
	l.Gateway = gw
	if cfg.WebhookURL != "" {
		if err := l.startWebhook(cfg, log); err != nil {
			stores.Close()
			return nil, err
		}
	}
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

// Close stops the webhook sender and the pull-through fills running in
// the process, then releases the stores.
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

package app

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/gateway"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
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
}

// Retention builds the retention service when the store keeps retention
// state (nil otherwise), with its test clock when BERTH_TEST_CLOCK=1.
func Retention(stores *backend.Stores, log *slog.Logger) (*retention.Service, *retention.Clock, error) {
	ret, ok := stores.Meta.(store.Retention)
	if !ok {
		return nil, nil, nil
	}
	rcfg, err := retention.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	svc := retention.New(retention.Stores{Meta: stores.Meta, Ret: ret, Blobs: stores.Blobs, Tenancies: stores.IDs}, rcfg, log)
	if fn := os.Getenv("BERTH_RETENTION_FUNCTION"); fn != "" {
		// On AWS the admin function hands runs started through the API
		// to the retention function, as the hourly run fans out.
		d, err := backend.NewLambdaDispatcher(context.Background(), fn)
		if err != nil {
			return nil, nil, err
		}
		svc.Dispatch = d
	}
	var clock *retention.Clock
	if rcfg.TestClock {
		clock = &retention.Clock{}
		svc.Now = clock.Now
	}
	return svc, clock, nil
}

// Handlers builds every function's http.Handler over opened stores:
// the registry functions (behind the enforcement middleware when auth is
// on), the token endpoint and the admin API (with retention's under
// /api/retention/). auth is nil when authentication is off (and with it
// the token endpoint and admin API); svc is nil where the store keeps no
// retention state.
func Handlers(cfg config.Config, stores *backend.Stores, a *Auth, svc *retention.Service, clock *retention.Clock, log *slog.Logger) map[string]http.Handler {
	reg := registry.New(stores.Meta, stores.Blobs, RegistryConfig(cfg), log)
	if svc != nil {
		ret := stores.Meta.(store.Retention)
		reg.Pulls = retention.PullTracker{Stats: ret, Now: svc.Now}
		reg.Touch = ret
	}
	hs := map[string]http.Handler{}
	if a != nil {
		reg.Policy = a.Authorizer
		reg.Audit = stores.IDs
		if a.Tokens != nil {
			hs[route.Token] = a.Tokens
		}
		var api http.Handler = admin.New(stores.IDs, stores.Meta, admin.Config{Tenancy: cfg.Tenancy}, log)
		if svc != nil {
			adminAPI := api
			retentionAPI := retention.API(svc, stores.IDs, retention.APIConfig{Tenancy: cfg.Tenancy, Clock: clock})
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

// NewLocal opens the stores of cfg and builds the gateway and functions.
func NewLocal(ctx context.Context, cfg config.Config, log *slog.Logger) (*Local, error) {
	stores, err := backend.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	l := &Local{Stores: stores}
	var a *Auth
	if cfg.Auth {
		if a, err = NewAuth(ctx, cfg, stores); err != nil {
			stores.Close()
			return nil, err
		}
		if l.AdminToken, err = Bootstrap(ctx, cfg, stores.IDs); err != nil {
			stores.Close()
			return nil, err
		}
	}
	fns := map[string]gateway.Invoker{}
	svc, clock, err := Retention(stores, log)
	if err != nil {
		stores.Close()
		return nil, err
	}
	l.Retention = svc
	for name, h := range Handlers(cfg, stores, a, svc, clock, log) {
		fns[name] = gateway.HTTPFunc(lambdahttp.Handler(h))
	}
	limits := gateway.NoLimits()
	if cfg.Limits {
		limits = gateway.AWSLimits()
	}
	gw := gateway.New(fns, limits, log)
	if a != nil {
		gw.Authorizer = gateway.AuthorizerFunc(a.Authorizer.Lambda())
	}
	if stores.Objects != nil {
		gw.Objects = stores.Objects
		gw.ObjectPrefix = local.ObjectPathPrefix
	}
	l.Gateway = gw
	return l, nil
}

// Close releases the stores.
func (l *Local) Close() error { return l.Stores.Close() }

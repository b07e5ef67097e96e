package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/gateway"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/route"
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
}

// Handlers builds every function's http.Handler over opened stores:
// the registry functions (behind the enforcement middleware when auth is
// on), the token endpoint and the admin API. auth is nil when
// authentication is off (and with it the token endpoint and admin API).
func Handlers(cfg config.Config, stores *backend.Stores, a *Auth, log *slog.Logger) map[string]http.Handler {
	reg := registry.New(stores.Meta, stores.Blobs, RegistryConfig(cfg), log)
	hs := map[string]http.Handler{}
	if a != nil {
		reg.Policy = a.Authorizer
		reg.Audit = stores.IDs
		if a.Tokens != nil {
			hs[route.Token] = a.Tokens
		}
		hs[route.Admin] = authz.Enforce(admin.New(stores.IDs, stores.Meta, admin.Config{Tenancy: cfg.Tenancy}, log), cfg.Service)
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
	for name, h := range Handlers(cfg, stores, a, log) {
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

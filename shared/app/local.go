package app

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda"

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
}

// NewLocal opens the stores of cfg and builds the gateway and functions.
func NewLocal(ctx context.Context, cfg config.Config, log *slog.Logger) (*Local, error) {
	stores, err := backend.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	reg := registry.New(stores.Meta, stores.Blobs, RegistryConfig(cfg), log)
	fns := map[string]gateway.Invoker{}
	for _, f := range route.Functions {
		fns[f] = lambda.NewHandler(lambdahttp.Handler(reg.Handler(f)))
	}
	limits := gateway.NoLimits()
	if cfg.Limits {
		limits = gateway.AWSLimits()
	}
	gw := gateway.New(fns, limits, log)
	if stores.Objects != nil {
		gw.Objects = stores.Objects
		gw.ObjectPrefix = local.ObjectPathPrefix
	}
	return &Local{Gateway: gw, Stores: stores}, nil
}

// Close releases the stores.
func (l *Local) Close() error { return l.Stores.Close() }

// Package app wires configuration, storage and the registry into the
// handlers that the Lambda functions and the local gateway run.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/route"
)

// Logger returns the JSON logger every process uses.
func Logger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(WithRequestID(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
}

// WithRequestID wraps a log handler so that a line logged with a
// request's context (ErrorContext(r.Context(), ...)) carries API
// Gateway's request id, the one the client's answer and the gateway's
// access line carry: an error is logged once, where it is handled, and
// found by that id.
func WithRequestID(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := lambdahttp.RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// RegistryConfig derives the registry's tunables from the configuration.
func RegistryConfig(cfg config.Config) registry.Config {
	rc := registry.DefaultConfig()
	rc.PresignTTL = cfg.PresignTTL
	if !cfg.Limits {
		// Without the gateway's limits any chunk size fits one request.
		rc.ChunkMax = 0
	}
	return rc
}

// Function returns the Lambda handler of one function, with its stores
// opened from the environment.
func Function(ctx context.Context, name string) (lambdahttp.HandlerFunc, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	log := Logger(cfg.LogLevel)
	slog.SetDefault(log)
	if cfg.Auth && name == route.Token {
		if err := lambdaSigner(cfg); err != nil {
			return nil, err
		}
	}
	stores, err := backend.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Each function process has its own clock: a test clock moves only
	// where every function runs in one process (berth serve).
	clk := Clock(cfg)
	UseClock(stores, clk)
	var a *Auth
	switch {
	case !cfg.Auth:
	case name == route.Token:
		if a, err = NewAuth(ctx, cfg, stores, clk); err != nil {
			return nil, err
		}
	default:
		// The other functions enforce the authorizer's decision and ask
		// policy questions; they never touch the signing key.
		a = &Auth{Authorizer: authz.NewAuthorizer(stores.IDs, stores.Meta, nil).WithClock(clk.Now)}
	}
	em := Metrics(cfg)
	svc, err := Retention(stores, clk, log, retention.WithMetrics(em))
	if err != nil {
		return nil, err
	}
	// A function's fills run in the fill function, never in a goroutine
	// that would freeze with the invocation.
	cache, err := newCache(ctx, cfg, stores, clk, log, false)
	if err != nil {
		return nil, err
	}
	h, ok := Handlers(cfg, stores, a, svc, cache, clk, log)[name]
	if !ok {
		return nil, fmt.Errorf("no function %q (with BERTH_AUTH=%v)", name, cfg.Auth)
	}
	return lambdahttp.Handler(metrics.Handler(em, name, h)), nil
}

// Authorizer returns the authorizer function's handler. With a KMS key
// (BERTH_SIGNING_KEY_ID, as on AWS) the key that verifies tokens is read
// on the first invocation rather than at init: kms:GetPublicKey is a
// network round trip a cold start need not wait for (docker's first,
// credential-less probe needs no key), and the key is kept for the
// environment's life. A failed read fails that invocation (API Gateway
// answers 500) and is tried again on the next.
func Authorizer(ctx context.Context) (authz.LambdaFunc, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	slog.SetDefault(Logger(cfg.LogLevel))
	if err := lambdaSigner(cfg); err != nil {
		return nil, err
	}
	stores, err := backend.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	clk := Clock(cfg)
	if cfg.SigningKeyID == "" {
		a, err := NewAuth(ctx, cfg, stores, clk)
		if err != nil {
			return nil, err
		}
		return countDenials(Metrics(cfg), a.Authorizer.Lambda(slog.Default())), nil
	}
	var mu sync.Mutex
	var h authz.LambdaFunc
	return func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		mu.Lock()
		if h == nil {
			a, err := NewAuth(ctx, cfg, stores, clk)
			if err != nil {
				mu.Unlock()
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
			}
			h = countDenials(Metrics(cfg), a.Authorizer.Lambda(slog.Default()))
		}
		f := h
		mu.Unlock()
		return f(ctx, ev)
	}, nil
}

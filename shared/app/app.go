// Package app is what every function's main shares: the environment
// (configuration, the JSON logger, the process's one clock), the aws
// backend the functions run on, and the start of the Lambda runtime.
// Each function's own wiring lives in the package named for what it
// serves (shared/app/registryfn, authfn, adminfn, retentionfn), so a
// function links only what it serves; shared/inprocess composes those
// same constructors into the local gateway.
package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/clock"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/reqinfo"
)

// Env is what a function is built from: its configuration, its logger,
// the process's one clock, how the AWS SDK's configuration is loaded,
// and where its metrics go.
type Env struct {
	Config config.Config
	Log    *slog.Logger
	Clock  *clock.Clock
	// SDK loads the AWS SDK's configuration: from Lambda's environment
	// alone in a function (backend.LambdaSDK), with the SDK's whole
	// credential chain in berth serve (shared/inprocess).
	SDK backend.SDK
	// Metrics logs the function's metrics as EMF lines (nil: none;
	// docs/metrics.md).
	Metrics *metrics.Emitter
}

// NewEnv returns the environment of cfg, logging to log, with the clock
// cfg names (Clock) and the SDK configured as in Lambda.
func NewEnv(cfg config.Config, log *slog.Logger) Env {
	return Env{Config: cfg, Log: log, Clock: Clock(cfg), SDK: backend.LambdaSDK}
}

// Load reads a function's environment (config.FromEnv) and makes its
// logger the default. A function logs its metrics as EMF lines on
// standard output, which Lambda sends to its log group, where
// CloudWatch extracts them (cfg.MetricsNamespace, docs/metrics.md).
func Load() (Env, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return Env{}, err
	}
	log := Logger(cfg.LogLevel)
	slog.SetDefault(log)
	env := NewEnv(cfg, log)
	env.Metrics = metrics.New(os.Stdout, cfg.MetricsNamespace)
	return env, nil
}

// Logger returns the JSON logger every process uses: a line logged with
// a request's context carries its request id (shared/reqinfo).
func Logger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(reqinfo.LogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
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

// UseClock makes the stores stamp their times with the environment's
// clock.
func (e Env) UseClock(stores *backend.Stores) { stores.Meta.SetClock(e.Clock.Now) }

// ErrEmbedded refuses the embedded backend in a Lambda function: each
// execution environment has its own /tmp, so no two would share a
// registry. The embedded backend is `berth serve`'s (shared/inprocess).
var ErrEmbedded = errors.New("the Lambda functions run on the aws backend (BERTH_BACKEND=aws, as the stack sets it); the embedded backend is berth serve's")

// OpenAWS opens the aws backend a function runs on (its table and
// bucket), on the environment's clock.
func (e Env) OpenAWS(ctx context.Context) (*backend.Stores, error) {
	if e.Config.Backend != "aws" {
		return nil, ErrEmbedded
	}
	awsCfg, err := e.SDK(ctx)
	if err != nil {
		return nil, err
	}
	stores, err := backend.AWS(ctx, awsCfg, e.Config)
	if err != nil {
		return nil, err
	}
	e.UseClock(stores)
	return stores, nil
}

// LoadAWS is Load and OpenAWS: a function's environment and the stores
// it runs on.
func LoadAWS(ctx context.Context) (Env, *backend.Stores, error) {
	env, err := Load()
	if err != nil {
		return env, nil, err
	}
	stores, err := env.OpenAWS(ctx)
	return env, stores, err
}

// Start runs a function's handler under the Lambda runtime, or exits
// with err logged when building it failed.
func Start(function string, handler any, err error) {
	if err != nil {
		slog.Error("start "+function+" function", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(handler)
}

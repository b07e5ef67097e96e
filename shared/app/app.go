// Package app wires configuration, storage and the registry into the
// handlers that the Lambda functions and the local gateway run.
package app

import (
	"context"
	"log/slog"
	"os"

	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/registry"
)

// Logger returns the JSON logger every process uses.
func Logger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
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
	stores, err := backend.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	reg := registry.New(stores.Meta, stores.Blobs, RegistryConfig(cfg), log)
	return lambdahttp.Handler(reg.Handler(name)), nil
}

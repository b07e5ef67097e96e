// Command berth is Berth's one CLI: it serves the registry locally
// (berth serve) and will carry the admin, push and proxy commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/config"
)

const usage = `berth — a serverless OCI registry

Usage:
  berth serve      run the local gateway with every function (make run)

Configuration is read from the environment; see docs/configuration.md.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve()
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "berth: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth:", err)
		os.Exit(1)
	}
}

func serve() error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	log := app.Logger(cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := app.NewLocal(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer l.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: l.Gateway, ReadHeaderTimeout: 30 * time.Second}
	limits := "AWS limits enforced (BERTH_LIMITS=off lifts them)"
	if !cfg.Limits {
		limits = "AWS limits off"
	}
	host := ln.Addr().String()
	fmt.Printf("Berth registry on http://%s (%s backend, data in %s; %s)\n", host, cfg.Backend, cfg.Data, limits)
	if cfg.Auth {
		fmt.Printf("Log in:  echo %s | docker login %s -u %s/admin --password-stdin\n", l.AdminToken, host, cfg.Tenancy)
		fmt.Printf("Then:    docker push %s/%s/hello:latest\n", host, cfg.Tenancy)
	} else {
		fmt.Printf("Authentication is off (BERTH_AUTH=off): docker push %s/%s/hello:latest\n", host, cfg.Tenancy)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// Command berth is Berth's one CLI: it serves the registry locally
// (berth serve), bootstraps a deployed one (berth bootstrap), and drives
// the admin API (login, tenancies, users, groups, tokens, policies, repos,
// audit). This file dispatches; each command lives in the file named for
// what it manages.
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
	"github.com/berth-registry/berth/shared/gateway"
)

const usage = `berth — a serverless OCI registry

Usage:
  berth serve       run the local gateway with every function (make run)
  berth bootstrap   create the first tenancy, its admin and an auth token in the
                    configured store (once, after the first deploy on AWS)

  berth push <source> <[registry/]repo[:tag]>
                    push a docker-archive, OCI layout or local docker image of
                    any size straight to storage (docs/large-layers.md)
  berth proxy [--listen 127.0.0.1:5001]
                    a local registry endpoint: an unchanged docker push sends
                    layers of any size through it
  berth doctor <url> [-u <tenancy>/<user> --password-stdin]
                    check a deployed registry's front door (docs/doctor.md)

  berth login <url> -u <tenancy>/<user> --password-stdin
  berth logout
  berth tenancies   list | create
  berth users       list | get | create | delete | set-groups
  berth groups      list | get | create | delete
  berth tokens      list | create | revoke
  berth policies    list | get | put | delete
  berth repos       list | get | create | set | delete
  berth audit
  berth retention   policies | assign | run | runs | bin | restore | pins (docs/retention.md)

Run "berth <command> --help" for a command's verbs and flags. The admin
commands and the model behind them are described in docs/auth.md;
configuration (for serve and bootstrap) in docs/configuration.md.
`

const serveUsage = `Usage: berth serve

Runs the local gateway with every function on BERTH_ADDR (default
127.0.0.1:5000), storage from BERTH_BACKEND (embedded: BERTH_DATA, default
.berth). Every variable is described in docs/configuration.md.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		if len(os.Args) > 2 {
			if a := os.Args[2]; a == "-h" || a == "--help" || a == "help" {
				fmt.Print(serveUsage)
				return
			}
			fmt.Fprintf(os.Stderr, "berth serve takes no arguments (configuration is read from the environment)\n\n%s", serveUsage)
			os.Exit(2)
		}
		err = serve()
	case "doctor":
		err = doctorCmd(os.Args[2:])
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		ok, cerr := newCLI().run(ctx, os.Args[1:])
		stop()
		if !ok {
			fmt.Fprintf(os.Stderr, "berth: unknown command %q\n\n%s", os.Args[1], usage)
			os.Exit(2)
		}
		os.Exit(exitCode(cerr))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth:", err)
		os.Exit(1)
	}
}

// exitCode reports a command's error and returns the exit status: 0
// (done, or help shown), 2 (the command line is wrong), 1 (it failed).
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, ue.msg)
		return 2
	}
	fmt.Fprintln(os.Stderr, "berth:", err)
	return 1
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
	// BERTH_FRONTDOOR emulates a front door's known failures (docs/doctor.md).
	h, err := gateway.FrontDoor(l.Gateway, os.Getenv("BERTH_FRONTDOOR"))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
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
	if l.Retention != nil {
		// The local stand-in for the hourly EventBridge rule.
		go l.Retention.Schedule(ctx, time.Hour)
	}
	return serveUntil(ctx, srv, ln)
}

// serveUntil serves on ln until the server fails or ctx ends (Ctrl-C),
// then shuts down, giving requests in flight 10 seconds.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener) error {
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

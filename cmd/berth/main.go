// Command berth is Berth's one CLI: it serves the registry locally
// (berth serve), bootstraps a deployed one (berth bootstrap), pushes
// images of any size, checks a deployment (berth doctor), and drives the
// admin API (login, tenancies, users, groups, tokens, policies, repos,
// audit, retention). One table (cli.go) both dispatches the commands and
// generates their help; each command lives in the file named for what
// it manages.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/gateway"
	"github.com/berth-registry/berth/shared/inprocess"
)

const serveUsage = `Usage: berth serve
       berth serve --lambda [--template <stack>.template.json]

Runs the local gateway with every function on BERTH_ADDR (default
127.0.0.1:5000), storage from BERTH_BACKEND (embedded: BERTH_DATA, default
.berth). Every variable is described in docs/configuration.md.

With --lambda (make run-lambda), every function runs as its real bootstrap
under the Lambda Runtime Interface Emulator, configured from the
synthesized stack (synthesized afresh, or the --template given), on the
aws backend against emulators (docs/lambda-mode.md).
`

func main() {
	if filepath.Base(os.Args[0]) == credentialHelperName {
		err := newCLI().credentialHelper(context.Background(), os.Args[1:])
		if errors.Is(err, errCredentialsNotFound) {
			os.Exit(1) // the message is on stdout, as docker reads it
		}
		os.Exit(exitCode(err))
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage())
		os.Exit(2)
	}
	// The first Ctrl-C cancels the command (which may still clean up,
	// as doctor does); a second one, no longer caught, ends the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	ok, err := newCLI().run(ctx, os.Args[1:])
	stop()
	if !ok {
		fmt.Fprintf(os.Stderr, "berth: unknown command %q\n\n%s", os.Args[1], usage())
		os.Exit(2)
	}
	os.Exit(exitCode(err))
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

// serve is `berth serve`.
func (c *cli) serve(ctx context.Context, args []string) error {
	if len(args) > 0 {
		if isHelp(args[0]) {
			fmt.Fprint(c.stdout, serveUsage)
			return errHelp
		}
		if args[0] == "--lambda" || args[0] == "-lambda" {
			return c.serveLambda(ctx, args[1:])
		}
		return usagef("berth serve takes no arguments but --lambda (configuration is read from the environment)\n\n%s", serveUsage)
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	log := app.Logger(cfg.LogLevel)
	l, err := inprocess.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer l.Close()
	limits := "AWS limits enforced (BERTH_LIMITS=off lifts them)"
	if !cfg.Limits {
		limits = "AWS limits off"
	}
	return c.serveGateway(ctx, l.Gateway, cfg, limits, l.AdminToken, func() {
		if l.Clock.Test() {
			fmt.Fprintf(c.stdout, "Test clock (BERTH_TEST_CLOCK=1) at %s: it moves only with POST /api/retention/clock\n", l.Clock.Now().Format(time.RFC3339))
		}
		if l.Retention != nil {
			// The local stand-in for the hourly EventBridge rule.
			go l.Retention.Schedule(ctx, time.Hour)
		}
	})
}

// serveGateway serves gw on cfg.Addr, behind the front door
// BERTH_FRONTDOOR emulates (docs/doctor.md), announces it, calls
// started, and serves until ctx ends.
func (c *cli) serveGateway(ctx context.Context, gw http.Handler, cfg config.Config, limits, adminToken string, started func()) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	h, err := gateway.FrontDoor(gw, os.Getenv("BERTH_FRONTDOOR"))
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	c.announce(ln.Addr().String(), cfg, limits, adminToken)
	started()
	return serveUntil(ctx, srv, ln)
}

// announce prints the registry's URL and how to log in; scripts read
// the first line ("Berth registry on http://HOST:PORT ...").
func (c *cli) announce(host string, cfg config.Config, limits, adminToken string) {
	fmt.Fprintf(c.stdout, "Berth registry on http://%s (%s backend, data in %s; %s)\n", host, cfg.Backend, cfg.Data, limits)
	if cfg.Auth {
		fmt.Fprintf(c.stdout, "Log in:  echo %s | docker login %s -u %s/admin --password-stdin\n", adminToken, host, cfg.Tenancy)
		fmt.Fprintf(c.stdout, "Then:    docker push %s/%s/hello:latest\n", host, cfg.Tenancy)
	} else {
		fmt.Fprintf(c.stdout, "Authentication is off (BERTH_AUTH=off): docker push %s/%s/hello:latest\n", host, cfg.Tenancy)
	}
	if cfg.WebhookURL != "" {
		fmt.Fprintf(c.stdout, "Events:  posted to %s, signed with BERTH_WEBHOOK_SECRET (docs/events.md)\n", cfg.WebhookURL)
	}
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

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/emulator"
	"github.com/berth-registry/berth/shared/inprocess"
)

// The registries under test, in the table's column order.
const (
	distName     = "distribution"
	ggcrName     = "ggcr"
	berthOffName = "berth-off"
	berthOnName  = "berth-on"
)

// allServers is every registry the bench knows, in column order.
var allServers = []string{distName, ggcrName, berthOffName, berthOnName}

// server is one registry under test.
type server struct {
	name string
	host string // 127.0.0.1:port
	// handler is the registry's http.Handler, for in-process calls (nil
	// for distribution, which runs as its own process).
	handler http.Handler
	// transport is shared by the push and pull workloads of this server.
	transport *http.Transport
	// login is the user and auth token a client logs in with (nil:
	// anonymous, the registry has no authentication).
	login *authn.Basic
	close func()
}

// traceRequests makes the in-process registries log every request they
// serve with its duration (-trace).
var traceRequests bool

// start starts the named registry with its data under dir.
func start(ctx context.Context, name, dir string, label bool) (*server, error) {
	switch name {
	case distName:
		return startDistribution(ctx, filepath.Join(dir, name))
	case ggcrName:
		return startGGCR(label)
	case berthOffName:
		return startBerth(ctx, name, filepath.Join(dir, name), false, label)
	case berthOnName:
		return startBerth(ctx, name, filepath.Join(dir, name), true, label)
	}
	return nil, fmt.Errorf("unknown registry %q (want one of %s)", name, strings.Join(allServers, ", "))
}

// serve runs h on a fresh 127.0.0.1 port.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return ln.Addr().String(), stop, nil
}

// startBerth starts Berth as `make run` configures it (config.FromEnv
// with its defaults: embedded storage, AWS limits on, authentication on)
// with the data directory dir, and with BERTH_AUTH=off unless authOn.
func startBerth(ctx context.Context, name, dir string, authOn, label bool) (*server, error) {
	vars := map[string]string{"BERTH_DATA": dir, "BERTH_AUTH": "off"}
	if authOn {
		vars["BERTH_AUTH"] = "on"
	}
	cfg, err := configFromEnv(vars)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l, err := inprocess.New(ctx, cfg, quiet)
	if err != nil {
		return nil, err
	}
	var h http.Handler = l.Gateway
	handler := h
	if label {
		h = labeled(h, name)
	}
	if traceRequests {
		h = traced(h, name)
	}
	host, stop, err := serve(h)
	if err != nil {
		l.Close()
		return nil, err
	}
	s := &server{name: name, host: host, handler: handler, transport: newTransport(4), close: func() { stop(); l.Close() }}
	if authOn {
		s.login = &authn.Basic{Username: cfg.Tenancy + "/admin", Password: l.AdminToken}
	}
	return s, nil
}

// configFromEnv reads Berth's configuration as `berth serve` does, with
// vars set and every other BERTH_ variable unset (their defaults).
func configFromEnv(vars map[string]string) (config.Config, error) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "BERTH_") {
			os.Unsetenv(k)
		}
	}
	for k, v := range vars {
		os.Setenv(k, v)
	}
	return config.FromEnv()
}

func startGGCR(label bool) (*server, error) {
	h := ggcr.New(ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0)))
	handler := h
	if label {
		h = labeled(h, ggcrName)
	}
	host, stop, err := serve(h)
	if err != nil {
		return nil, err
	}
	return &server{name: ggcrName, host: host, handler: handler, transport: newTransport(4), close: stop}, nil
}

// startDistribution runs the distribution registry named by
// BERTH_DISTRIBUTION_REGISTRY (scripts/bench.sh builds it from the Go
// module proxy when unset) on a free port with its data under dir.
func startDistribution(ctx context.Context, dir string) (*server, error) {
	bin := os.Getenv("BERTH_DISTRIBUTION_REGISTRY")
	if bin == "" {
		return nil, errors.New("BERTH_DISTRIBUTION_REGISTRY names no distribution registry binary (scripts/bench.sh builds one; or leave distribution out with -servers)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(emulator.DistributionConfig(filepath.Join(dir, "data"), addr, "error")), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var tail strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if tail.Len() < 4096 {
				tail.WriteString(sc.Text() + "\n")
			}
		}
	}()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		res, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, fmt.Errorf("distribution did not answer on %s: %v\n%s", addr, err, tail.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &server{name: distName, host: addr, transport: newTransport(4), close: stop}, nil
}

// traced logs each request h serves, with its status and duration.
func traced(h http.Handler, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		fmt.Fprintf(os.Stderr, "trace: %s %s %s %s → %d in %.2f ms\n", start.Format("15:04:05.000"), name, r.Method, r.URL.Path, rec.status, float64(time.Since(start).Microseconds())/1e3)
	})
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// labeled tags the goroutines serving h (and those they start) with a
// pprof label, so a profile can be narrowed to one server.
func labeled(h http.Handler, name string) http.Handler {
	labels := pprof.Labels("server", name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.Do(r.Context(), labels, func(ctx context.Context) { h.ServeHTTP(w, r.WithContext(ctx)) })
	})
}

// newTransport is a keep-alive transport for up to conns parallel
// connections to one host.
func newTransport(conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns * 2
	t.MaxIdleConnsPerHost = conns * 2
	t.Proxy = nil
	return t
}

// authorization is the Authorization header a client sends for scope
// ("repository:<name>:pull,push"): none without a login, else a Bearer
// registry token from the token endpoint, got with the login's Basic
// credentials as docker gets one after `docker login`.
func (s *server) authorization(ctx context.Context, scope string) (string, error) {
	if s.login == nil {
		return "", nil
	}
	q := url.Values{"service": {"berth"}, "scope": {scope}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.host+"/token?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(s.login.Username, s.login.Password)
	res, err := (&http.Client{Transport: s.transport}).Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK || body.Token == "" {
		return "", fmt.Errorf("token for %s: status %d (%v)", scope, res.StatusCode, err)
	}
	return "Bearer " + body.Token, nil
}

// pushScope is the scope a push to repo asks for.
func pushScope(repo string) string { return "repository:" + repo + ":pull,push" }

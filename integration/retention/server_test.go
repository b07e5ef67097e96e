// Package retention is the end-to-end test of image retention: real
// pushes and pulls (go-containerregistry) through the local gateway with
// authentication on, the retention admin API driving policies, runs,
// restores, pins and the test clock, and blob garbage collection.
package retention

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/app"
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

// server is the registry under test.
type server struct {
	t      *testing.T
	host   string
	token  string
	stores *backend.Stores
}

// start runs the whole registry in-process as `berth serve` does with
// BERTH_TEST_CLOCK=1: the local gateway (AWS limits) over embedded
// storage, authentication on, and retention wired in — the pull and
// touch hooks on the registry, the retention API mounted in the admin
// function, one clock for the service, pulls and the API. It mirrors
// app.NewLocal plus the retention wiring docs/retention.md gives for
// shared/app.
func start(t *testing.T) *server {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg := config.Config{Backend: "embedded", Data: t.TempDir(), Limits: true, PresignTTL: 15 * time.Minute,
		Auth: true, Service: "berth", TokenTTL: 15 * time.Minute, Tenancy: "dev", LogLevel: "warn"}
	stores, err := backend.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stores.Close() })
	a, err := app.NewAuth(ctx, cfg, stores)
	if err != nil {
		t.Fatal(err)
	}
	token, err := app.Bootstrap(ctx, cfg, stores.IDs)
	if err != nil {
		t.Fatal(err)
	}

	clock := &retention.Clock{}
	rcfg := retention.DefaultConfig()
	rcfg.TestClock = true
	ret := stores.Meta.(store.Retention)
	svc := retention.New(retention.Stores{Meta: stores.Meta, Ret: ret, Blobs: stores.Blobs, Tenancies: stores.IDs}, rcfg, log)
	svc.Now = clock.Now

	reg := registry.New(stores.Meta, stores.Blobs, app.RegistryConfig(cfg), log)
	reg.Policy, reg.Audit = a.Authorizer, stores.IDs
	reg.Pulls = retention.PullTracker{Stats: ret, Now: clock.Now}
	reg.Touch = ret
	adminAPI := admin.New(stores.IDs, stores.Meta, admin.Config{Tenancy: cfg.Tenancy}, log)
	retentionAPI := retention.API(svc, stores.IDs, retention.APIConfig{Tenancy: cfg.Tenancy, Clock: clock})
	hs := map[string]http.Handler{
		route.Token: a.Tokens,
		route.Admin: authz.Enforce(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, retention.Prefix) {
				retentionAPI.ServeHTTP(w, r)
				return
			}
			adminAPI.ServeHTTP(w, r)
		}), cfg.Service),
	}
	for _, f := range route.RegistryFunctions {
		hs[f] = authz.Enforce(reg.Handler(f), cfg.Service)
	}
	fns := map[string]gateway.Invoker{}
	for name, h := range hs {
		fns[name] = lambda.NewHandler(lambdahttp.Handler(h))
	}
	gw := gateway.New(fns, gateway.AWSLimits(), log)
	gw.Authorizer = lambda.NewHandler(a.Authorizer.Lambda())
	gw.Objects, gw.ObjectPrefix = stores.Objects, local.ObjectPathPrefix

	return &server{t: t, host: harness.Serve(t, gw), token: token, stores: stores}
}

// api calls the admin API as dev/admin and decodes the answer into out
// (when not nil), failing unless the status is want.
func (s *server) api(method, path string, in any, want int, out any) {
	s.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	res := s.do(method, path, body, nil)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// do sends an authenticated request to the gateway.
func (s *server) do(method, path string, body io.Reader, header http.Header) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.host+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.SetBasicAuth("dev/admin", s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	return res
}

// advance moves the server's clock.
func (s *server) advance(d time.Duration) {
	s.t.Helper()
	s.api("POST", "/api/retention/clock", map[string]string{"advance": d.String()}, http.StatusOK, nil)
}

// runResult is the part of a run's answer the test reads.
type runResult struct {
	ID      string           `json:"id"`
	Done    bool             `json:"done"`
	Results []store.RunRepo  `json:"results"`
	Dec     []store.Decision `json:"decisions"`
}

func (s *server) run(body map[string]any) runResult {
	s.t.Helper()
	var r runResult
	s.api("POST", "/api/retention/runs", body, http.StatusOK, &r)
	if !r.Done {
		s.t.Fatalf("a local run answered before it finished: %+v", r)
	}
	return r
}

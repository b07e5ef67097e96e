// Package retention is the end-to-end test of image retention: real
// pushes and pulls (go-containerregistry, crane) through the local
// gateway with authentication on, the retention admin API driving
// policies, runs, restores, pins and the test clock, and blob garbage
// collection.
package retention

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/store"
)

// server is the registry under test.
type server struct {
	t      *testing.T
	host   string
	token  string
	stores *backend.Stores
	// day0 is the test clock's time when the server started: every
	// recorded time is day0 plus what the test advanced.
	day0 time.Time
}

// start runs the whole registry in-process exactly as `berth serve`
// does with BERTH_TEST_CLOCK=1 (inprocess.New): the local gateway (AWS
// limits) over embedded storage, authentication on, retention wired
// in, and one test clock under every function.
func start(t *testing.T) *server {
	t.Helper()
	cfg := config.Config{Backend: "embedded", Data: t.TempDir(), Limits: true, PresignTTL: 15 * time.Minute,
		Auth: true, Service: "berth", TokenTTL: 15 * time.Minute, Tenancy: "dev", LogLevel: "warn", TestClock: true}
	host, l := harness.Start(t, cfg)
	if l.Retention == nil || !l.Clock.Test() {
		t.Fatal("inprocess.New with TestClock built no retention service or no test clock")
	}
	return &server{t: t, host: host, token: l.AdminToken, stores: l.Stores, day0: l.Clock.Now()}
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

package aws

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
	"github.com/berth-registry/berth/shared/store/s3store/s3fake"
)

// env is the whole registry on the aws backend, as `berth serve` runs
// it with BERTH_BACKEND=aws: the local gateway (AWS limits on) over a
// fresh DynamoDB table on dynalite and a fresh bucket on gofakes3.
type env struct {
	host   string // the registry's host:port
	local  *inprocess.Local
	stores *backend.Stores
	cfg    config.Config
	// presigned counts the GETs clients sent to S3 with a presigned URL
	// (what the counting middleware cannot see: clients send them).
	presigned atomic.Int64
	// logs holds what the registry logged at warning level and above.
	logs *harness.Logs
	// external is set when the tests run against $BERTH_TEST_AWS_ENDPOINT
	// (LocalStack): presigned GETs are not counted there.
	external bool
	// requests and tokenRequests count the HTTP requests the gateway
	// served: all, and those to /token (which has no authorizer).
	requests, tokenRequests atomic.Int64
}

// startAWS starts emulators and the registry on them. With withAuth the
// registry authenticates (bootstrap admin "dev/admin", token in
// e.local.AdminToken) as `make run` does; without, it is anonymous.
func startAWS(t *testing.T, withAuth bool) *env {
	t.Helper()
	e := &env{}
	// The SDK's own environment, as a user of the aws backend sets it:
	// one endpoint for both services (LocalStack), or the emulators.
	if ep := os.Getenv(dynalite.EnvAWSEndpoint); ep != "" {
		e.external = true
		harness.UseAWSEndpoints(t, ep, ep)
	} else {
		s3srv := httptest.NewServer(countPresigned(s3fake.Handler(), &e.presigned))
		t.Cleanup(s3srv.Close)
		harness.UseAWSEndpoints(t, dynalite.Endpoint(t), s3srv.URL)
	}

	e.cfg = config.Config{
		Backend:    "aws",
		Table:      dynalite.TableName("berth-it"),
		Bucket:     dynalite.TableName("berth-it"),
		Init:       true,
		Data:       t.TempDir(),
		Limits:     true,
		PresignTTL: 15 * time.Minute,
		LogLevel:   "warn",
	}
	if withAuth {
		key, err := auth.NewSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		e.cfg.Auth, e.cfg.SigningKey = true, string(key)
		e.cfg.Service, e.cfg.Tenancy, e.cfg.TokenTTL = "berth", "dev", 15*time.Minute
	}
	e.logs = &harness.Logs{}
	e.host, e.local = harness.Start(t, e.cfg, harness.WithLogs(e.logs), harness.Wrap(e.count))
	e.stores = e.local.Stores
	if e.stores.S3 == nil || e.stores.Calls == nil {
		t.Fatalf("inprocess.Open(aws) gave stores without S3 or Calls: %+v", e.stores)
	}
	return e
}

// count wraps the gateway h to count the requests it serves in
// requests and tokenRequests.
func (e *env) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		if r.URL.Path == "/token" {
			e.tokenRequests.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// countPresigned counts the requests to h that carry a SigV4 query
// signature: clients following a blob GET's redirect.
func countPresigned(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// url returns the registry URL of path.
func (e *env) url(path string) string { return "http://" + e.host + path }

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       time.Minute,
}

// do sends one request to the registry and returns the response with
// its body read.
func (e *env) do(t testing.TB, method, path string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, e.url(path), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res, b.Bytes()
}

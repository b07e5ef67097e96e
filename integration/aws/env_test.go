package aws

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
	"github.com/berth-registry/berth/shared/store/s3store/s3fake"
)

// env is the whole registry on the aws backend, as `berth serve` runs
// it with BERTH_BACKEND=aws: the local gateway (AWS limits on) over a
// fresh DynamoDB table on dynalite and a fresh bucket on gofakes3.
type env struct {
	host   string // the registry's host:port
	local  *app.Local
	stores *backend.Stores
	cfg    config.Config
	// presigned counts the GETs clients sent to S3 with a presigned URL
	// (what the counting middleware cannot see: clients send them).
	presigned atomic.Int64
	// logs holds what the registry logged at warning level and above.
	logs *lockedBuffer
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
	t.Setenv("AWS_ENDPOINT_URL", "")
	if ep := os.Getenv(dynalite.EnvAWSEndpoint); ep != "" {
		e.external = true
		t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ep)
		t.Setenv("AWS_ENDPOINT_URL_S3", ep)
	} else {
		s3srv := httptest.NewServer(countPresigned(s3fake.Handler(), &e.presigned))
		t.Cleanup(s3srv.Close)
		t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", dynalite.Endpoint(t))
		t.Setenv("AWS_ENDPOINT_URL_S3", s3srv.URL)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")

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
	logs := &lockedBuffer{}
	e.logs = logs
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l, err := app.NewLocal(t.Context(), e.cfg, logger)
	if err != nil {
		t.Fatalf("app.NewLocal on the aws backend: %v", err)
	}
	e.local, e.stores = l, l.Stores
	if e.stores.S3 == nil || e.stores.Calls == nil {
		t.Fatalf("backend.Open(aws) gave stores without S3 or Calls: %+v", e.stores)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		if r.URL.Path == "/token" {
			e.tokenRequests.Add(1)
		}
		l.Gateway.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: counted, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing the registry's listener: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("closing the stores: %v", err)
		}
		if t.Failed() && logs.Len() > 0 {
			t.Logf("registry warnings and errors:\n%s", logs.Tail(16<<10))
		}
	})
	e.host = ln.Addr().String()
	return e
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

// lockedBuffer is a log sink that the server's goroutines can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Len returns how many bytes were logged.
func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Tail returns at most the last n bytes logged.
func (b *lockedBuffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return strings.ToValidUTF8(s, "")
}

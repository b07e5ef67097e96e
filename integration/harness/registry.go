// Package harness starts what Berth's end-to-end tests run against: the
// whole registry in-process on a 127.0.0.1 listener (Start, Serve), the
// SDK environment pointing the aws backend at emulators (UseAWSEndpoints),
// and the OCI conformance suite (Conformance). It is a test helper: every
// function takes the test and ends with it.
package harness

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/reqinfo"
)

// Option changes how Start serves the registry.
type Option func(*options)

type options struct {
	logs *Logs
	wrap func(http.Handler) http.Handler
	app  []inprocess.Option
}

// Metrics makes the registry log its metrics as EMF lines to w, as
// every function does on AWS (docs/metrics.md).
func Metrics(w io.Writer) Option {
	return func(o *options) { o.app = append(o.app, inprocess.WithMetrics(w, "Berth/test")) }
}

// Wrap serves wrap(gateway) instead of the gateway, for tests that count
// or record the requests the registry answers.
func Wrap(wrap func(http.Handler) http.Handler) Option {
	return func(o *options) { o.wrap = wrap }
}

// WithLogs sends the registry's warnings and errors to logs, for tests
// that look at them; without it Start keeps its own.
func WithLogs(logs *Logs) Option {
	return func(o *options) { o.logs = logs }
}

// Start starts the whole registry of cfg in-process as `berth serve`
// does (inprocess.New), serves it with Serve, and closes its stores when
// the test ends. It returns the registry's host:port and the Local, whose
// Stores and AdminToken tests seed and log in with. What the registry
// logs at warning level and above is shown if the test fails.
func Start(t testing.TB, cfg config.Config, opts ...Option) (string, *inprocess.Local) {
	t.Helper()
	o := options{logs: &Logs{}}
	for _, opt := range opts {
		opt(&o)
	}
	logger := slog.New(reqinfo.LogHandler(slog.NewJSONHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	l, err := inprocess.New(t.Context(), cfg, logger, o.app...)
	if err != nil {
		t.Fatalf("inprocess.New on the %s backend: %v", cfg.Backend, err)
	}
	// Registered before Serve's cleanup, so it runs after the listener
	// has closed.
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the stores: %v", err)
		}
		if t.Failed() && o.logs.Len() > 0 {
			t.Logf("registry warnings and errors:\n%s", o.logs.Tail(16<<10))
		}
	})
	var h http.Handler = l.Gateway
	if o.wrap != nil {
		h = o.wrap(h)
	}
	return Serve(t, h), l
}

// Serve serves h on a random 127.0.0.1 port until the test ends and
// returns its host:port. When the test ends it closes every connection
// and waits (up to 10 s) for the requests in flight to return, so that
// none still uses what later cleanups close or delete.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var inflight requests
	srv := &http.Server{Handler: inflight.track(h), ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		// Close, not Shutdown: the test's requests are over, and Shutdown
		// would wait 5 s for connections that clients dialed but never
		// used (ggcr pings https and http at once).
		if err := srv.Close(); err != nil {
			t.Errorf("closing the listener on %s: %v", ln.Addr(), err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if !inflight.wait(10 * time.Second) {
			t.Errorf("requests to %s were still running 10 s after their connections closed", ln.Addr())
		}
	})
	return ln.Addr().String()
}

// requests counts the requests a handler is serving.
type requests struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// track wraps h to count its requests; once wait has begun, it refuses
// new ones with 503.
func (q *requests) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			http.Error(w, "the test has ended", http.StatusServiceUnavailable)
			return
		}
		q.wg.Add(1)
		q.mu.Unlock()
		defer q.wg.Done()
		h.ServeHTTP(w, r)
	})
}

// wait refuses new requests and reports whether those in flight returned
// within d.
func (q *requests) wait(d time.Duration) bool {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// Logs is a log sink that the server's goroutines can share. The zero
// value is ready to use.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the logs.
func (b *Logs) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Len returns how many bytes were logged.
func (b *Logs) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Tail returns at most the last n bytes logged, without a character cut
// in half.
func (b *Logs) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return strings.ToValidUTF8(s, "")
}

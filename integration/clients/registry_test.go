package clients

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
)

// registry is one in-process Berth reached at Host (127.0.0.1:port),
// recording every request it answers.
type registry struct {
	Host string
	// Authorization, when set, is sent with the tests' own requests
	// (Manifest, Blob, Tags, AssertImage): an auth-on registry answers
	// them only with credentials.
	Authorization string
	mu            sync.Mutex
	log           []request
}

// request is one answered request as the gateway saw it.
type request struct {
	Method, Path, Query string
	// Length is the request's Content-Length, -1 when it was sent
	// chunked without one.
	Length int64
	Status int
}

func (r request) String() string {
	s := r.Method + " " + r.Path
	if r.Query != "" {
		s += "?" + r.Query
	}
	return s + " → " + http.StatusText(r.Status)
}

// startRegistry starts the registry as `make run` does (embedded backend
// in a temporary directory; limits says whether AWS's request limits are
// enforced) on a random 127.0.0.1 port and stops it when the test ends.
// The registry's warnings and the requests it saw are shown if the test
// fails.
func startRegistry(t testing.TB, limits bool) *registry {
	t.Helper()
	reg, _ := serve(t, config.Config{
		Backend:    "embedded",
		Data:       t.TempDir(),
		Limits:     limits,
		PresignTTL: 15 * time.Minute,
	})
	return reg
}

// serve starts the registry of cfg (see harness.Start), recording the
// requests it answers.
func serve(t testing.TB, cfg config.Config) (*registry, *inprocess.Local) {
	t.Helper()
	reg := &registry{}
	// Registered before harness.Start's cleanups, so it runs after the
	// registry has stopped answering.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("requests the registry answered:\n%s", reg.dump())
		}
	})
	host, l := harness.Start(t, cfg, harness.Wrap(reg.record))
	reg.Host = host
	return reg, l
}

// Ref returns host:port/repo followed by suffix (":tag" or "@digest").
func (r *registry) Ref(repo, suffix string) string { return r.Host + "/" + repo + suffix }

// record wraps h to log each request with its status.
func (r *registry) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, req)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		r.mu.Lock()
		r.log = append(r.log, request{req.Method, req.URL.Path, req.URL.RawQuery, req.ContentLength, sw.status})
		r.mu.Unlock()
	})
}

// Requests returns the requests answered so far whose method is method
// (any if "") and whose path contains substr.
func (r *registry) Requests(method, substr string) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.log {
		if (method == "" || q.Method == method) && strings.Contains(q.Path, substr) {
			out = append(out, q)
		}
	}
	return out
}

// Mark returns a position in the request log for Since.
func (r *registry) Mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.log)
}

// Since returns the requests answered after mark.
func (r *registry) Since(mark int) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.log[mark:]...)
}

func (r *registry) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	start := max(0, len(r.log)-200)
	for _, q := range r.log[start:] {
		b.WriteString(q.String() + "\n")
	}
	return b.String()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

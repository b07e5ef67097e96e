package pullthrough

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/pullthrough"
	"github.com/berth-registry/berth/shared/store/local"
)

// upstream is a registry the cache fetches from, behind a switch that
// counts the cache's requests and can take it down.
type upstream struct {
	// url is its base URL, host its host:port.
	url, host string
	// user and password log in to it (the cache rule's credentials).
	user, password string
	// push logs ggcr in to it.
	push    authn.Authenticator
	counter *counter
}

// ref names repo:tag (or @digest) on the upstream.
func (u *upstream) ref(t *testing.T, repo, ref string) name.Reference {
	t.Helper()
	sep := ":"
	if strings.Contains(ref, ":") {
		sep = "@"
	}
	r, err := name.ParseReference(u.host+"/"+repo+sep+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// write pushes img to the upstream as repo:tag and returns its digest.
func (u *upstream) write(t *testing.T, repo, tag string, img v1.Image) v1.Hash {
	t.Helper()
	if err := remote.Write(u.ref(t, repo, tag), img, remote.WithAuth(u.push)); err != nil {
		t.Fatalf("pushing %s:%s to the upstream: %v", repo, tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// startBerthUpstream starts a second Berth as an upstream: embedded
// storage, authentication on (Docker token flow, login up/admin), and
// blob GETs answered 307 to its own signed, expiring URLs, as Docker
// Hub, GHCR and Quay answer them. Its limits are off: it is only
// pushed to by the test.
func startBerthUpstream(t *testing.T) *upstream {
	t.Helper()
	c := &counter{}
	cfg := config.Config{Backend: "embedded", Data: t.TempDir(), PresignTTL: 15 * time.Minute, Auth: true,
		Service: "upstream", TokenTTL: 15 * time.Minute, Tenancy: "up", LogLevel: "warn"}
	host, l := harness.Start(t, cfg, harness.Wrap(c.wrap))
	return &upstream{url: "http://" + host, host: host, user: "up/admin", password: l.AdminToken,
		push: &authn.Basic{Username: "up/admin", Password: l.AdminToken}, counter: c}
}

// counter counts the requests the cache sends to an upstream (by their
// User-Agent), by kind, and can make the upstream refuse (503) or drop
// every request.
type counter struct {
	mu   sync.Mutex
	n    map[string]int
	mode string // "", "refuse", "drop"
}

// kind names a request as the counts key it: "GET manifests", "HEAD
// blobs", "GET objects" (a signed URL), "GET token".
func kind(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, local.ObjectPathPrefix):
		return r.Method + " objects"
	case strings.Contains(p, "/manifests/"):
		return r.Method + " manifests"
	case strings.Contains(p, "/blobs/"):
		return r.Method + " blobs"
	case p == "/token":
		return r.Method + " token"
	}
	return r.Method + " " + p
}

// wrap counts the cache's requests that h answers other than with 401
// (a challenge is the token flow's first step, not a fetch).
func (c *counter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		mode := c.mode
		c.mu.Unlock()
		if r.Header.Get("User-Agent") == pullthrough.UserAgent {
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				c.mu.Lock()
				defer c.mu.Unlock()
				if sw.status != http.StatusUnauthorized {
					if c.n == nil {
						c.n = map[string]int{}
					}
					c.n[kind(r)]++
				}
			}()
			w = sw
		}
		switch mode {
		case "refuse":
			http.Error(w, "upstream refusing", http.StatusServiceUnavailable)
		case "drop":
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			http.Error(w, "upstream down", http.StatusBadGateway)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// take returns the counts so far and starts counting afresh.
func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	if n == nil {
		n = map[string]int{}
	}
	return n
}

// set switches the upstream up (""), refusing or dropping.
func (c *counter) set(mode string) {
	c.mu.Lock()
	c.mode = mode
	c.mu.Unlock()
}

// fetches is how many requests of the counts fetched content (not
// tokens).
func fetches(n map[string]int) int {
	total := 0
	for k, v := range n {
		if !strings.HasSuffix(k, " token") {
			total += v
		}
	}
	return total
}

// statusWriter notes the status a handler answers with.
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

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Hijack lets the switch drop a connection.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

package pullthrough

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/emulator"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/store/local"
)

// cache is the Berth under test: `berth serve` in-process with
// authentication on, the AWS limits, a test clock, and upstreams on the
// loopback allowed (BERTH_CACHE_INSECURE=1, which these tests need and
// say so).
type cache struct {
	t      *testing.T
	host   string
	local  *inprocess.Local
	token  string
	logs   *harness.Logs
	seen   *recorder
	client *http.Client
}

func startCache(t *testing.T, backend string, opts ...func(*config.Config)) *cache {
	t.Helper()
	cfg := harness.OnBackend(t, backend, config.Config{
		Auth: true, Limits: true, PresignTTL: 15 * time.Minute, Service: "berth", TokenTTL: 15 * time.Minute,
		Tenancy: "dev", LogLevel: "info", TestClock: true, CacheInsecure: true,
	})
	for _, o := range opts {
		o(&cfg)
	}
	if backend == "aws" {
		// As on AWS: upstream credentials sealed with a KMS key.
		cfg.CacheKeyID = kmsKey(t)
	}
	logs, seen := &harness.Logs{}, &recorder{}
	host, l := harness.Start(t, cfg, harness.WithLogs(logs), harness.Wrap(seen.wrap))
	if l.Cache == nil {
		t.Fatalf("the %s backend built no pull-through cache", backend)
	}
	return &cache{t: t, host: host, local: l, token: l.AdminToken, logs: logs, seen: seen,
		client: &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// api calls the admin API as dev/admin, failing unless the status is
// want, and decodes the answer into out (when not nil).
func (c *cache) api(method, path string, in any, want int, out any) {
	c.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	res := c.do(method, path, body, "dev/admin", c.token)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// do sends a request with Basic credentials (none when user is "") and
// follows no redirect.
func (c *cache) do(method, path string, body io.Reader, user, password string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, "http://"+c.host+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}

// rule creates a cache rule mapping prefix to up, with up's
// credentials.
func (c *cache) rule(prefix string, up *upstream, refresh string) {
	c.t.Helper()
	c.api("POST", "/api/tenancies/dev/cache-rules", map[string]any{
		"prefix": prefix, "upstream": up.url, "refreshInterval": refresh,
		"credentials": map[string]string{"username": up.user, "password": up.password},
	}, http.StatusCreated, nil)
}

// ref names repo:tag (or @digest) on the cache.
func (c *cache) ref(repo, ref string) name.Reference {
	c.t.Helper()
	sep := ":"
	if strings.Contains(ref, ":") {
		sep = "@"
	}
	r, err := name.ParseReference(c.host+"/"+repo+sep+ref, name.Insecure)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// pull pulls ref through the cache as dev/admin with go-containerregistry
// (manifest, config and every layer, each checked against its digest)
// and returns the image's digest.
func (c *cache) pull(t *testing.T, ref name.Reference) v1.Hash {
	t.Helper()
	img, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: c.token}))
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if _, err := img.RawConfigFile(); err != nil {
		t.Fatalf("pull %s: config: %v", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	for _, l := range layers {
		want, _ := l.Digest()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("pull %s: layer %s: %v", ref, want, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); err != nil || got != want.String() {
			t.Fatalf("pull %s: layer %s read as %s (%v)", ref, want, got, err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// settle waits for the fills running in the cache's process.
func (c *cache) settle() { c.local.Cache.Fills.Wait() }

// recorder keeps what the registry answered (headers, and bodies up to
// 1 MiB each; blob bytes from storage are skipped), so a test can look
// for what must never be in an answer.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
	// requests counts the requests the registry answered.
	requests atomic.Int64
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.requests.Add(1)
		tw := &teeWriter{ResponseWriter: w, keep: !strings.HasPrefix(r.URL.Path, local.ObjectPathPrefix)}
		h.ServeHTTP(tw, r)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		fmt.Fprintf(&rec.buf, "%s %s %d\n", r.Method, r.URL, tw.status)
		_ = w.Header().Write(&rec.buf)
		rec.buf.Write(tw.body.Bytes())
		rec.buf.WriteByte('\n')
	})
}

func (rec *recorder) String() string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.buf.String()
}

type teeWriter struct {
	http.ResponseWriter
	keep   bool
	status int
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(s int) {
	w.status = s
	w.ResponseWriter.WriteHeader(s)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.keep && w.body.Len() < 1<<20 {
		w.body.Write(b[:min(len(b), 1<<20-w.body.Len())])
	}
	return w.ResponseWriter.Write(b)
}

// advance moves the cache's test clock.
func (c *cache) advance(d time.Duration) {
	c.t.Helper()
	c.api("POST", "/api/retention/clock", map[string]string{"advance": d.String()}, http.StatusOK, nil)
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// noSecret fails if secret is in any answer the cache gave or any line
// it logged.
func (c *cache) noSecret(t *testing.T, secret string) {
	t.Helper()
	if strings.Contains(c.seen.String(), secret) {
		t.Errorf("an answer of the cache holds the upstream's password")
	}
	if strings.Contains(c.logs.Tail(1<<30), secret) {
		t.Errorf("the cache logged the upstream's password")
	}
}

// kmsKey creates a symmetric key in the KMS emulator, points the SDK's
// KMS endpoint at it, and returns the key's ARN.
func kmsKey(t *testing.T) string {
	t.Helper()
	t.Setenv("AWS_ENDPOINT_URL_KMS", emulator.KMS(t))
	_, key := emulator.KMSKey(t)
	return key
}

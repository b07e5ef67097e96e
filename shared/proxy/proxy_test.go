package proxy_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/proxy"
	"github.com/berth-registry/berth/shared/push"
)

const mib = 1 << 20

// env is the registry in-process (AWS limits and authentication on),
// a proxy in front of it, and the registry's request log.
type env struct {
	reg, proxy string
	mu         sync.Mutex
	log        []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := config.Config{
		Backend: "embedded", Data: t.TempDir(), Limits: true, PresignTTL: 15 * time.Minute,
		Auth: true, Service: "berth", Tenancy: "dev", TokenTTL: 15 * time.Minute,
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := inprocess.New(t.Context(), cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e := &env{}
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.log = append(e.log, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		e.mu.Unlock()
		l.Gateway.ServeHTTP(w, r)
	}))
	t.Cleanup(reg.Close)
	c, err := push.NewClient(reg.URL, "dev/admin", l.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	px := httptest.NewServer(proxy.New(c, &push.Uploader{Client: c, PartSize: 5 * mib, Parallel: 3}, quiet))
	t.Cleanup(px.Close)
	e.reg, e.proxy = reg.URL, px.URL
	return e
}

// count returns how many registry requests contain every substring.
func (e *env) count(subs ...string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
next:
	for _, l := range e.log {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		n++
	}
	return n
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends a request to the proxy anonymously, as docker does; body nil
// is none, and a body of chunked is sent without a length.
func (e *env) do(t *testing.T, method, path string, body []byte, chunked bool, h map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(bytes.NewReader(body)) // hides the length
	}
	if strings.HasPrefix(path, "/") {
		path = e.proxy + path
	}
	req, err := http.NewRequestWithContext(t.Context(), method, path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if chunked {
		req.ContentLength = -1
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// pushBlob pushes data as docker does: POST, one streamed PATCH, PUT.
func (e *env) pushBlob(t *testing.T, repo string, data []byte, d digest.Digest) (*http.Response, []byte) {
	t.Helper()
	res, body := e.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, false, nil)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %d %s", res.StatusCode, body)
	}
	loc := res.Header.Get("Location")
	res, body = e.do(t, "PATCH", loc, data, true, map[string]string{"Content-Type": "application/octet-stream"})
	if res.StatusCode != http.StatusAccepted || res.Header.Get("Range") != fmt.Sprintf("0-%d", max(len(data)-1, 0)) {
		t.Fatalf("PATCH: %d Range %q %s", res.StatusCode, res.Header.Get("Range"), body)
	}
	return e.do(t, "PUT", res.Header.Get("Location")+"?digest="+d.String(), nil, false, nil)
}

func randBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return b
}

func TestDockerStyleUploadBecomesDirectUpload(t *testing.T) {
	e := newEnv(t)
	data := randBytes(13*mib, 1)
	d := digest.FromBytes(data)
	res, body := e.pushBlob(t, "dev/app", data, d)
	if res.StatusCode != http.StatusCreated || res.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("PUT: %d %s", res.StatusCode, body)
	}
	if n := e.count("PUT /_berth/objects/blobs/", "partNumber="); n != 3 {
		t.Errorf("%d parts went to storage, want 3 (13 MiB in 5 MiB parts)", n)
	}
	if n := e.count("PATCH "); n != 0 {
		t.Errorf("%d PATCHes reached the registry, want none", n)
	}

	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	cd := digest.FromBytes(cfg)
	if res, body := e.pushBlob(t, "dev/app", cfg, cd); res.StatusCode != http.StatusCreated {
		t.Fatalf("small blob: %d %s", res.StatusCode, body)
	}
	if n := e.count("POST /v2/dev/app/blobs/uploads/?digest=", cd.Encoded()); n != 1 {
		t.Errorf("the small blob went up in %d single POSTs, want 1", n)
	}
	man := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		oci.MediaTypeImageManifest, cd, len(cfg), d, len(data))
	if res, body := e.do(t, "PUT", "/v2/dev/app/manifests/v1", man, false, map[string]string{"Content-Type": oci.MediaTypeImageManifest}); res.StatusCode != http.StatusCreated {
		t.Fatalf("manifest PUT through the proxy: %d %s", res.StatusCode, body)
	}
	if res, body := e.do(t, "GET", "/v2/dev/app/manifests/v1", nil, false, map[string]string{"Accept": oci.MediaTypeImageManifest}); res.StatusCode != http.StatusOK || !bytes.Equal(body, man) {
		t.Errorf("manifest GET through the proxy: %d %s", res.StatusCode, body)
	}
	if res, _ := e.do(t, "HEAD", "/v2/dev/app/manifests/v1", nil, false, map[string]string{"Accept": oci.MediaTypeImageManifest}); res.ContentLength != int64(len(man)) {
		t.Errorf("manifest HEAD through the proxy: Content-Length %d, want %d", res.ContentLength, len(man))
	}
	res, _ = e.do(t, "GET", "/v2/dev/app/blobs/"+d.String(), nil, false, nil)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, e.reg+"/_berth/objects/") {
		t.Fatalf("blob GET through the proxy: %d Location %q, want 307 to storage", res.StatusCode, loc)
	}
	if res, got := e.do(t, "GET", loc, nil, false, nil); res.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Errorf("storage served %d bytes (%d), want the %d pushed", len(got), res.StatusCode, len(data))
	}
}

func TestProxyRelaysDigestErrorAndPublishesNothing(t *testing.T) {
	e := newEnv(t)
	data := randBytes(7*mib, 2)
	wrong := digest.FromString("something else")
	res, body := e.pushBlob(t, "dev/app", data, wrong)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "DIGEST_INVALID") {
		t.Fatalf("PUT with a wrong digest: %d %s, want 400 DIGEST_INVALID", res.StatusCode, body)
	}
	for _, d := range []digest.Digest{wrong, digest.FromBytes(data)} {
		if res, _ := e.do(t, "HEAD", "/v2/dev/app/blobs/"+d.String(), nil, false, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD %s after the failed upload: %d, want 404", d, res.StatusCode)
		}
	}
}

func TestProxyMountsAndForgetsSessions(t *testing.T) {
	e := newEnv(t)
	data := []byte("a small layer")
	d := digest.FromBytes(data)
	if res, body := e.pushBlob(t, "dev/a", data, d); res.StatusCode != http.StatusCreated {
		t.Fatalf("push to dev/a: %d %s", res.StatusCode, body)
	}
	res, body := e.do(t, "POST", "/v2/dev/b/blobs/uploads/?mount="+d.String()+"&from=dev/a", nil, false, nil)
	if res.StatusCode != http.StatusCreated || res.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("mount through the proxy: %d %s, want 201", res.StatusCode, body)
	}
	res, _ = e.do(t, "POST", "/v2/dev/b/blobs/uploads/", nil, false, nil)
	loc := res.Header.Get("Location")
	if res, _ := e.do(t, "DELETE", loc, nil, false, nil); res.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE session: %d, want 204", res.StatusCode)
	}
	if res, body := e.do(t, "GET", loc, nil, false, nil); res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "BLOB_UPLOAD_UNKNOWN") {
		t.Errorf("GET of a deleted session: %d %s, want 404 BLOB_UPLOAD_UNKNOWN", res.StatusCode, body)
	}
	if res, _ := e.do(t, "GET", "/v2/", nil, false, nil); res.StatusCode != http.StatusOK || res.Header.Get("Www-Authenticate") != "" {
		t.Errorf("GET /v2/: %d challenge %q, want 200 without one (anonymous downstream)", res.StatusCode, res.Header.Get("Www-Authenticate"))
	}
}

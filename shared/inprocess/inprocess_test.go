package inprocess_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store/local"
)

// server is one listening address whose registry process can be
// replaced, as a restart of `berth serve` on the same BERTH_ADDR.
type server struct {
	t       *testing.T
	cfg     config.Config
	local   *inprocess.Local
	handler atomic.Pointer[http.Handler]
	srv     *httptest.Server
	client  *http.Client // does not follow redirects
}

func newServer(t *testing.T) *server {
	s := &server{t: t, cfg: config.Config{
		Backend: "embedded", Data: t.TempDir(), Limits: true, PresignTTL: 15 * time.Minute,
	}}
	s.start()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		s.srv.Close()
		if err := s.local.Close(); err != nil {
			t.Error(err)
		}
	})
	s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s
}

// start opens a Local on the data dir and routes the address to it.
func (s *server) start() {
	l, err := inprocess.New(context.Background(), s.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		s.t.Fatal(err)
	}
	s.local = l
	var h http.Handler = l.Gateway
	s.handler.Store(&h)
}

// restart closes the running Local and opens a new one on the same data.
func (s *server) restart() {
	if err := s.local.Close(); err != nil {
		s.t.Fatal(err)
	}
	s.start()
}

func (s *server) do(method, path string, body []byte, header map[string]string, want int) *http.Response {
	s.t.Helper()
	url := path
	if strings.HasPrefix(path, "/") {
		url = s.srv.URL + path
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		s.t.Fatal(err)
	}
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: %d, want %d; body %.300s", method, path, res.StatusCode, want, b)
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pull GETs a blob and follows its redirect to the signed URL.
func (s *server) pull(path string) []byte {
	s.t.Helper()
	loc := s.do("GET", path, nil, nil, http.StatusTemporaryRedirect).Header.Get("Location")
	if !strings.HasPrefix(loc, s.srv.URL+local.ObjectPathPrefix) {
		s.t.Fatalf("Location %q is not a signed URL on this gateway", loc)
	}
	return readAll(s.t, s.do("GET", loc, nil, nil, http.StatusOK))
}

// TestLocalChunkedUploadSurvivesRestart: a chunked upload begun before a
// restart is continued and committed after it, through the local gateway
// with AWS limits, and the blob serves exactly the bytes sent.
func TestLocalChunkedUploadSurvivesRestart(t *testing.T) {
	s := newServer(t)
	const mib = 1 << 20
	data := make([]byte, 7*mib)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	want := digest.FromBytes(data)
	// 3 MiB stays in the tail before the restart; after it, 3 MiB more
	// makes a 6 MiB multipart part, and the PUT carries the last 1 MiB.
	chunks := [][]byte{data[:3*mib], data[3*mib : 6*mib]}

	res := s.do("POST", "/v2/dev/app/blobs/uploads/", nil, nil, http.StatusAccepted)
	loc := res.Header.Get("Location")
	if got := res.Header.Get("OCI-Chunk-Max-Length"); got != fmt.Sprint(4*mib) {
		t.Errorf("OCI-Chunk-Max-Length = %q with AWS limits", got)
	}
	octet := map[string]string{"Content-Type": "application/octet-stream"}
	res = s.do("PATCH", loc, chunks[0], map[string]string{"Content-Type": "application/octet-stream", "Content-Range": "0-3145727"}, http.StatusAccepted)
	if got := res.Header.Get("Range"); got != "0-3145727" {
		t.Fatalf("Range after first chunk = %q", got)
	}

	s.restart()

	res = s.do("GET", loc, nil, nil, http.StatusNoContent)
	if got := res.Header.Get("Range"); got != "0-3145727" {
		t.Fatalf("Range after restart = %q", got)
	}
	res = s.do("PATCH", loc, chunks[1], map[string]string{"Content-Type": "application/octet-stream", "Content-Range": "3145728-6291455"}, http.StatusAccepted)
	if got := res.Header.Get("Range"); got != "0-6291455" {
		t.Fatalf("Range after second chunk = %q", got)
	}
	res = s.do("PUT", loc+"?digest="+want.String(), data[6*mib:], octet, http.StatusCreated)
	if got := res.Header.Get("Docker-Content-Digest"); got != want.String() {
		t.Fatalf("Docker-Content-Digest = %q, want %s", got, want)
	}
	if got := s.pull("/v2/dev/app/blobs/" + want.String()); !bytes.Equal(got, data) {
		t.Fatalf("pulled %d bytes that differ from the %d pushed", len(got), len(data))
	}
	res = s.do("HEAD", "/v2/dev/app/blobs/"+want.String(), nil, nil, http.StatusOK)
	if res.ContentLength != int64(len(data)) {
		t.Errorf("HEAD Content-Length = %d, want %d", res.ContentLength, len(data))
	}
	s.do("GET", loc, nil, nil, http.StatusNotFound) // the session is gone
}

// TestLocalManifestSurvivesRestart: a pushed manifest, its tag, its blobs
// and a signed URL issued before a restart all work after it.
func TestLocalManifestSurvivesRestart(t *testing.T) {
	s := newServer(t)
	push := func(b []byte) oci.Descriptor {
		d := digest.FromBytes(b)
		s.do("POST", "/v2/dev/app/blobs/uploads/?digest="+d.String(), b, map[string]string{"Content-Type": "application/octet-stream"}, http.StatusCreated)
		return oci.Descriptor{Digest: d, Size: int64(len(b))}
	}
	cfg := push([]byte(`{"architecture":"arm64","os":"linux"}`))
	cfg.MediaType = "application/vnd.oci.image.config.v1+json"
	layer := push(bytes.Repeat([]byte("layer"), 1000))
	layer.MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
	man, err := json.Marshal(oci.Manifest{SchemaVersion: 2, MediaType: oci.MediaTypeImageManifest, Config: &cfg, Layers: []oci.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	res := s.do("PUT", "/v2/dev/app/manifests/v1", man, map[string]string{"Content-Type": oci.MediaTypeImageManifest}, http.StatusCreated)
	d := res.Header.Get("Docker-Content-Digest")
	if d != digest.FromBytes(man).String() {
		t.Fatalf("Docker-Content-Digest = %q", d)
	}
	signed := s.do("GET", "/v2/dev/app/blobs/"+layer.Digest.String(), nil, nil, http.StatusTemporaryRedirect).Header.Get("Location")

	s.restart()

	res = s.do("GET", "/v2/dev/app/manifests/v1", nil, nil, http.StatusOK)
	if got := readAll(t, res); !bytes.Equal(got, man) {
		t.Errorf("manifest after restart = %s, want %s", got, man)
	}
	if got := res.Header.Get("Docker-Content-Digest"); got != d {
		t.Errorf("Docker-Content-Digest after restart = %q, want %q", got, d)
	}
	res = s.do("HEAD", "/v2/dev/app/manifests/v1", nil, nil, http.StatusOK)
	if res.ContentLength != int64(len(man)) || res.Header.Get("Content-Type") != oci.MediaTypeImageManifest {
		t.Errorf("HEAD after restart: length %d type %q", res.ContentLength, res.Header.Get("Content-Type"))
	}
	s.do("GET", "/v2/dev/app/manifests/"+d, nil, nil, http.StatusOK)
	if got := string(readAll(t, s.do("GET", "/v2/dev/app/tags/list", nil, nil, http.StatusOK))); got != `{"name":"dev/app","tags":["v1"]}` {
		t.Errorf("tags after restart = %s", got)
	}
	if got := s.pull("/v2/dev/app/blobs/" + layer.Digest.String()); !bytes.Equal(got, bytes.Repeat([]byte("layer"), 1000)) {
		t.Errorf("layer after restart: %d bytes", len(got))
	}
	if got := readAll(t, s.do("GET", signed, nil, nil, http.StatusOK)); int64(len(got)) != layer.Size {
		t.Errorf("URL signed before the restart served %d bytes, want %d", len(got), layer.Size)
	}
}

package push_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/push"
)

const mib = 1 << 20

// registry is the whole registry in-process (local gateway, AWS limits
// on, authentication on) with a log of the requests it answered.
type registry struct {
	URL   string
	Token string // dev/admin's auth token
	mu    sync.Mutex
	log   []string // "METHOD path?query status"
}

func startRegistry(t *testing.T) *registry {
	t.Helper()
	cfg := config.Config{
		Backend: "embedded", Data: t.TempDir(), Limits: true, PresignTTL: 15 * time.Minute,
		Auth: true, Service: "berth", Tenancy: "dev", TokenTTL: 15 * time.Minute,
	}
	l, err := inprocess.New(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	r := &registry{Token: l.AdminToken}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: 200}
		l.Gateway.ServeHTTP(sw, req)
		r.mu.Lock()
		r.log = append(r.log, fmt.Sprintf("%s %s?%s %d", req.Method, req.URL.Path, req.URL.RawQuery, sw.status))
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

// count returns how many answered requests contain every substring.
func (r *registry) count(subs ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
outer:
	for _, l := range r.log {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue outer
			}
		}
		n++
	}
	return n
}

// client returns a push client logged in as dev/admin.
func (r *registry) client(t *testing.T) *push.Client {
	t.Helper()
	c, err := push.NewClient(r.URL, "dev/admin", r.Token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// get fetches a registry path with c's credentials, following a blob's
// redirect to storage.
func get(t *testing.T, c *push.Client, repo, path string) ([]byte, http.Header) {
	t.Helper()
	res, err := c.Do(t.Context(), "GET", path, nil, http.Header{"Accept": {"application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"}}, repo)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusTemporaryRedirect {
		res2, err := http.Get(res.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		defer res2.Body.Close()
		res = res2
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return b, res.Header
}

// randBytes returns n pseudo-random (incompressible) bytes.
func randBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = r.Read(b)
	return b
}

// tarOf returns a tar holding one file.
func tarOf(t *testing.T, name string, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write(body)
	_ = tw.Close()
	return b.Bytes()
}

// writeArchive writes a `docker save` archive of an image with the
// given uncompressed layers to file: the classic layout (<id>/layer.tar)
// or docker 25's (blobs/sha256/<hex>).
func writeArchive(t *testing.T, file string, layers [][]byte, classic bool) {
	t.Helper()
	var diffIDs []digest.Digest
	for _, l := range layers {
		diffIDs = append(diffIDs, digest.FromBytes(l))
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"/bin/sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	cfgName := "blobs/sha256/" + digest.FromBytes(cfg).Encoded()
	if classic {
		cfgName = digest.FromBytes(cfg).Encoded() + ".json"
	}
	var names []string
	for i, l := range layers {
		name := "blobs/sha256/" + diffIDs[i].Encoded()
		if classic {
			name = fmt.Sprintf("%064d/layer.tar", i)
		}
		names = append(names, name)
		add(name, l)
	}
	add(cfgName, cfg)
	mf, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"test:1"}, "Layers": names}})
	add("manifest.json", mf)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// failingStorage is a transport that fails part PUTs after the first
// `after` of them, as a dropped connection does.
type failingStorage struct {
	after int
	mu    sync.Mutex
	n     int
}

func (f *failingStorage) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	if n > f.after {
		return nil, fmt.Errorf("connection reset (test)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// tamperingStorage flips a byte in the body of part `part`.
type tamperingStorage struct{ part string }

func (s tamperingStorage) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Query().Get("partNumber") == s.part {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		b[len(b)/2] ^= 0xff
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultTransport.RoundTrip(r)
}

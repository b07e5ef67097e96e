package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// randomImage builds an image with one random (incompressible) layer per
// size, reproducible from seed.
func randomImage(t testing.TB, seed int64, sizes ...int64) v1.Image {
	t.Helper()
	layers := make([]v1.Layer, len(sizes))
	for i, size := range sizes {
		l, err := random.Layer(size, types.DockerLayer, random.WithSource(rand.NewSource(seed*1000+int64(i))))
		if err != nil {
			t.Fatalf("random layer: %v", err)
		}
		layers[i] = l
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatalf("append layers: %v", err)
	}
	return img
}

// assertSameImage compares a pulled image with the one pushed: manifest
// and config digests and bytes, and every layer's digest, size and
// compressed bytes (hashed as read).
func assertSameImage(t testing.TB, want, got v1.Image) {
	t.Helper()
	wd, gd := mustDigest(t, want.Digest), mustDigest(t, got.Digest)
	if wd != gd {
		t.Fatalf("manifest digest: got %s, want %s", gd, wd)
	}
	wm, err := want.RawManifest()
	if err != nil {
		t.Fatalf("pushed manifest: %v", err)
	}
	gm, err := got.RawManifest()
	if err != nil {
		t.Fatalf("pulled manifest: %v", err)
	}
	if !bytes.Equal(wm, gm) {
		t.Errorf("manifest bytes differ:\n got %s\nwant %s", gm, wm)
	}
	if w, g := mustDigest(t, want.ConfigName), mustDigest(t, got.ConfigName); w != g {
		t.Errorf("config digest: got %s, want %s", g, w)
	}
	wc, err := want.RawConfigFile()
	if err != nil {
		t.Fatalf("pushed config: %v", err)
	}
	gc, err := got.RawConfigFile()
	if err != nil {
		t.Fatalf("pulled config: %v", err)
	}
	if !bytes.Equal(wc, gc) {
		t.Errorf("config bytes differ:\n got %s\nwant %s", gc, wc)
	}
	wl, err := want.Layers()
	if err != nil {
		t.Fatalf("pushed layers: %v", err)
	}
	gl, err := got.Layers()
	if err != nil {
		t.Fatalf("pulled layers: %v", err)
	}
	if len(gl) != len(wl) {
		t.Fatalf("got %d layers, want %d", len(gl), len(wl))
	}
	for i := range wl {
		d := mustDigest(t, wl[i].Digest)
		if g := mustDigest(t, gl[i].Digest); g != d {
			t.Errorf("layer %d digest: got %s, want %s", i, g, d)
			continue
		}
		wb, gb := compressed(t, wl[i]), compressed(t, gl[i])
		sum := sha256.Sum256(gb)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.String() {
			t.Errorf("layer %d: pulled bytes hash to %s, want %s", i, got, d)
		}
		if !bytes.Equal(wb, gb) {
			t.Errorf("layer %d (%s): pulled %d bytes differ from the %d pushed", i, d, len(gb), len(wb))
		}
	}
}

func mustDigest(t testing.TB, f func() (v1.Hash, error)) v1.Hash {
	t.Helper()
	h, err := f()
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return h
}

// compressed reads a layer's blob as stored in the registry.
func compressed(t testing.TB, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatalf("open layer: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read layer: %v", err)
	}
	return b
}

// recorder is an http.RoundTripper that notes each request's method,
// URL and response status.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

type call struct {
	method, url string
	status      int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	c := call{method: req.Method, url: req.URL.String()}
	if err == nil {
		c.status = res.StatusCode
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return res, err
}

// find returns the calls with method whose URL contains substr.
func (r *recorder) find(method, substr string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if c.method == method && strings.Contains(c.url, substr) {
			out = append(out, c)
		}
	}
	return out
}

package pullthrough

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/integration/harness"
)

// TestLargeLayerThroughTheRedirect pulls an image with a 50 MB layer
// from a Berth upstream through a cold cache: the layer's GET is
// answered at once with a 307 to the upstream's signed URL (no byte
// passes through a function), the cache fills it asynchronously in
// parts, and the next pull is served from the cache's own storage.
func TestLargeLayerThroughTheRedirect(t *testing.T) {
	for _, backend := range harness.Backends {
		t.Run(backend, func(t *testing.T) {
			up := startBerthUpstream(t)
			c := startCache(t, backend)
			c.rule("dev/mirror", up, "1h")
			big, err := random.Layer(50<<20, types.OCILayer)
			if err != nil {
				t.Fatal(err)
			}
			img, err := mutate.AppendLayers(empty.Image, big)
			if err != nil {
				t.Fatal(err)
			}
			want := up.write(t, "up/big", "1", img)
			bd, _ := big.Digest()
			path := "/v2/dev/mirror/up/big/blobs/" + bd.String()
			ref := c.ref("dev/mirror/up/big", "1")
			if _, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: c.token})); err != nil {
				t.Fatal(err) // the manifest, filled
			}
			res := c.do("GET", path, nil, "dev/admin", c.token)
			res.Body.Close()
			if loc := res.Header.Get("Location"); res.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, up.url+"/") {
				t.Fatalf("cold GET of the 50 MB layer: %d to %q, want 307 to the upstream's signed URL", res.StatusCode, loc)
			}
			if got := c.pull(t, ref); got != want {
				t.Fatalf("cold pull: %s, want %s", got, want)
			}
			c.settle()
			if n := up.counter.take(); n["GET objects"] != 2 {
				t.Errorf("the upstream served the cache %d signed-URL GETs (config and the 50 MB layer once each), want 2: %v", n["GET objects"], n)
			}
			res = c.do("GET", path, nil, "dev/admin", c.token)
			res.Body.Close()
			if loc := res.Header.Get("Location"); res.StatusCode != http.StatusTemporaryRedirect || strings.HasPrefix(loc, up.url+"/") {
				t.Fatalf("warm GET of the 50 MB layer: %d to %q, want 307 to the cache's own storage", res.StatusCode, loc)
			}
			if got := c.pull(t, ref); got != want {
				t.Fatalf("warm pull: %s, want %s", got, want)
			}
			wantCounts(t, "warm pull", up.counter.take(), map[string]int{})
		})
	}
}

// TestCachedRepositoriesAreReadOnly refuses pushes into a cached
// repository (a blob upload, a manifest, a whole image with
// go-containerregistry) with DENIED, and leaves pushes elsewhere alone.
func TestCachedRepositoriesAreReadOnly(t *testing.T) {
	up := startBerthUpstream(t)
	c := startCache(t, "embedded")
	c.rule("dev/mirror", up, "1h")
	err := remote.Write(c.ref("dev/mirror/up/app", "1"), randomImage(t, 1024, 1), remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: c.token}))
	if err == nil || !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), "pull-through cache") {
		t.Errorf("pushing an image into the cache: %v, want DENIED naming the pull-through cache", err)
	}
	for _, r := range []struct{ method, path, contentType string }{
		{"POST", "/v2/dev/mirror/up/app/blobs/uploads/", ""},
		{"PUT", "/v2/dev/mirror/up/app/manifests/1", "application/vnd.oci.image.manifest.v1+json"},
	} {
		res := c.do(r.method, r.path, bytes.NewReader([]byte(`{"schemaVersion":2}`)), "dev/admin", c.token)
		var body struct{ Errors []struct{ Code string } }
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || len(body.Errors) == 0 || body.Errors[0].Code != "DENIED" {
			t.Errorf("%s %s: %d %+v, want 403 DENIED", r.method, r.path, res.StatusCode, body)
		}
	}
	if err := remote.Write(c.ref("dev/mine/app", "1"), randomImage(t, 1024, 1), remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: c.token})); err != nil {
		t.Errorf("pushing outside the cache's prefix: %v", err)
	}
}

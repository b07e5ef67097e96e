package pullthrough

import (
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/berth-registry/berth/integration/harness"
)

func randomImage(t *testing.T, layerSize int64, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(layerSize, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// wantCounts fails unless the upstream saw exactly want (tokens aside).
func wantCounts(t *testing.T, when string, got, want map[string]int) {
	t.Helper()
	delete(got, "GET token")
	if !maps.Equal(got, want) {
		t.Errorf("%s: the cache sent the upstream %v, want %v", when, got, want)
	}
}

// TestPullThroughBerth caches from a second Berth, whose blob GETs
// redirect to signed URLs, on each backend: a cold pull fetches the
// manifest once and each blob once (redirecting the client to the
// upstream's URL meanwhile); a warm pull sends the upstream nothing; a
// tag older than the refresh interval is re-checked with one HEAD and
// moved when the upstream's moved; with the upstream down or refusing,
// the cached copy is served with a Warning.
func TestPullThroughBerth(t *testing.T) {
	for _, backend := range harness.Backends {
		t.Run(backend, func(t *testing.T) {
			up := startBerthUpstream(t)
			c := startCache(t, backend)
			c.rule("dev/mirror", up, "1h")
			first := up.write(t, "up/team/app", "1", randomImage(t, 256<<10, 3))
			ref := c.ref("dev/mirror/up/team/app", "1")

			if got := c.pull(t, ref); got != first {
				t.Fatalf("cold pull: %s, want %s", got, first)
			}
			c.settle()
			wantCounts(t, "cold pull", up.counter.take(), map[string]int{
				"GET manifests": 1, // the manifest, in the request
				"GET blobs":     4, // config and 3 layers: 307 to the upstream's URL, handed to the client
				"GET objects":   4, // each blob filled once, from that URL
			})

			if got := c.pull(t, ref); got != first {
				t.Fatalf("warm pull: %s, want %s", got, first)
			}
			wantCounts(t, "warm pull", up.counter.take(), map[string]int{})
			res := c.do("GET", "/v2/dev/mirror/up/team/app/blobs/"+layerDigest(t, c, ref), nil, "dev/admin", c.token)
			res.Body.Close()
			if loc := res.Header.Get("Location"); res.StatusCode != http.StatusTemporaryRedirect || strings.Contains(loc, up.host) {
				t.Errorf("warm blob GET: %d to %s, want 307 to the cache's own storage", res.StatusCode, loc)
			}

			second := up.write(t, "up/team/app", "1", randomImage(t, 64<<10, 1))
			if got := c.pull(t, ref); got != first {
				t.Errorf("within the refresh interval: %s, want the cached %s", got, first)
			}
			wantCounts(t, "pull within the refresh interval", up.counter.take(), map[string]int{})

			c.advance(61 * time.Minute)
			if got := c.pull(t, ref); got != second {
				t.Errorf("after the refresh interval: %s, want the upstream's new %s", got, second)
			}
			c.settle()
			wantCounts(t, "pull after the refresh interval", up.counter.take(), map[string]int{
				"HEAD manifests": 1, "GET manifests": 1, "GET blobs": 2, "GET objects": 2,
			})

			c.advance(61 * time.Minute)
			if got := c.pull(t, ref); got != second {
				t.Errorf("refresh of an unmoved tag: %s, want %s", got, second)
			}
			wantCounts(t, "refresh of an unmoved tag", up.counter.take(), map[string]int{"HEAD manifests": 1})

			for _, mode := range []string{"drop", "refuse"} {
				up.counter.set(mode)
				c.advance(61 * time.Minute)
				res := c.do("GET", "/v2/dev/mirror/up/team/app/manifests/1", nil, "dev/admin", c.token)
				res.Body.Close()
				if w := res.Header.Get("Warning"); res.StatusCode != http.StatusOK || res.Header.Get("Docker-Content-Digest") != second.String() ||
					!strings.HasPrefix(w, "299 - ") || !strings.Contains(w, "may be stale") {
					t.Errorf("upstream %s: GET manifest by tag %d %s, Warning %q; want the cached %s with a staleness warning",
						mode, res.StatusCode, res.Header.Get("Docker-Content-Digest"), w, second)
				}
				if got := c.pull(t, ref); got != second {
					t.Errorf("upstream %s: pull %s, want the cached %s", mode, got, second)
				}
				res = c.do("GET", "/v2/dev/mirror/up/team/app/manifests/never-pulled", nil, "dev/admin", c.token)
				res.Body.Close()
				if res.StatusCode != http.StatusBadGateway {
					t.Errorf("upstream %s: a tag never cached answered %d, want 502", mode, res.StatusCode)
				}
			}
			up.counter.set("")
		})
	}
}

// layerDigest is the first layer of ref, read through the cache.
func layerDigest(t *testing.T, c *cache, ref interface{ String() string }) string {
	t.Helper()
	res := c.do("GET", "/v2/dev/mirror/up/team/app/manifests/1", nil, "dev/admin", c.token)
	defer res.Body.Close()
	var m v1.Manifest
	if err := jsonDecode(res.Body, &m); err != nil || len(m.Layers) == 0 {
		t.Fatalf("manifest of %s: %v", ref, err)
	}
	return m.Layers[0].Digest.String()
}

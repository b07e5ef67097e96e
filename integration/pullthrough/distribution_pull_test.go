package pullthrough

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/integration/harness"
)

// TestPullThroughDistribution caches from the distribution registry with
// token authentication on (the rule's credentials answer its token
// realm), which serves blob bytes rather than redirecting: blobs up to 4
// MiB are filled within the request, a larger one by an asynchronous
// fill the request waits for. Docker Hub's library/ mapping names the
// upstream repository. A warm pull sends the upstream nothing.
func TestPullThroughDistribution(t *testing.T) {
	for _, backend := range harness.Backends {
		t.Run(backend, func(t *testing.T) {
			up := startDistribution(t)
			c := startCache(t, backend)
			c.api("POST", "/api/tenancies/dev/cache-rules", map[string]any{
				"prefix": "dev/hub", "upstream": up.url, "library": true,
				"credentials": map[string]string{"username": up.user, "password": up.password},
			}, 201, nil)
			big, err := random.Layer(6<<20, types.OCILayer)
			if err != nil {
				t.Fatal(err)
			}
			img, err := mutate.AppendLayers(randomImage(t, 1<<20, 2), big)
			if err != nil {
				t.Fatal(err)
			}
			want := up.write(t, "library/app", "1", img)
			ref := c.ref("dev/hub/app", "1")

			if got := c.pull(t, ref); got != want {
				t.Fatalf("cold pull: %s, want %s", got, want)
			}
			c.settle()
			wantCounts(t, "cold pull", up.counter.take(), map[string]int{
				"GET manifests": 1,
				// config and two 1 MiB layers in the request; the 6 MiB
				// layer's GET in the request stops at its headers, and
				// the asynchronous fill fetches it
				"GET blobs": 3 + 2,
			})
			if got := c.pull(t, ref); got != want {
				t.Fatalf("warm pull: %s, want %s", got, want)
			}
			wantCounts(t, "warm pull", up.counter.take(), map[string]int{})
		})
	}
}

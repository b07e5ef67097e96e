package pullthrough

import (
	"sync"
	"testing"

	"github.com/berth-registry/berth/integration/harness"
)

// TestConcurrentColdPulls pulls one image 20 times at once through a
// cold cache, from each kind of upstream on each backend: every pull
// gets the image, and the upstream is asked for the manifest once and
// for each blob once (a claim in metadata elects one request per blob;
// the others follow the holder's redirect or wait for its fill).
func TestConcurrentColdPulls(t *testing.T) {
	for _, backend := range harness.Backends {
		for _, kind := range []struct {
			name  string
			start func(*testing.T) *upstream
			repo  string
			// blobs is what the upstream is asked per blob: a Berth
			// redirects (one GET of the blob, one of its signed URL by
			// the fill); the distribution registry serves the bytes.
			blobs map[string]int
		}{
			{"berth", startBerthUpstream, "up/team/app", map[string]int{"GET blobs": 1, "GET objects": 1}},
			{"distribution", startDistribution, "team/app", map[string]int{"GET blobs": 1}},
		} {
			t.Run(backend+"/"+kind.name, func(t *testing.T) {
				up := kind.start(t)
				c := startCache(t, backend)
				c.rule("dev/mirror", up, "1h")
				const layers = 3
				want := up.write(t, kind.repo, "1", randomImage(t, 512<<10, layers))
				up.counter.take()
				ref := c.ref("dev/mirror/"+kind.repo, "1")
				var wg sync.WaitGroup
				for range 20 {
					wg.Go(func() {
						if got := c.pull(t, ref); got != want {
							t.Errorf("pull: %s, want %s", got, want)
						}
					})
				}
				wg.Wait()
				c.settle()
				wantN := map[string]int{"GET manifests": 1}
				for k, v := range kind.blobs {
					wantN[k] = v * (layers + 1)
				}
				wantCounts(t, "20 concurrent cold pulls", up.counter.take(), wantN)
				c.noSecret(t, up.password)
			})
		}
	}
}

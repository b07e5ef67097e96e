package pullthrough

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/shared/backend"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/pullthrough"
)

// lambdaQueue stands in for Lambda's asynchronous queue in front of the
// fill function (the Invoke API, InvocationType Event): it keeps the
// jobs, so a test runs each fill itself and counts what it costs apart
// from the request that started it, as the stack splits them.
type lambdaQueue struct {
	mu   sync.Mutex
	jobs []pullthrough.Job
}

func (q *lambdaQueue) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var j pullthrough.Job
	b, _ := io.ReadAll(r.Body)
	if r.Header.Get("X-Amz-Invocation-Type") != "Event" || !strings.HasSuffix(r.URL.Path, "/functions/fill/invocations") || json.Unmarshal(b, &j) != nil {
		http.Error(w, "not a fill job", http.StatusBadRequest)
		return
	}
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (q *lambdaQueue) take() []pullthrough.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	j := q.jobs
	q.jobs = nil
	return j
}

// TestCostOfPullsThroughTheCache measures, on the aws backend (dynalite
// and gofakes3), what the cache costs: each request of a cold and a warm
// pull through the gateway (authorizer included), each asynchronous fill
// (run as the fill function runs it), and the requests sent to the
// upstream (a Berth, whose blob GETs redirect). docs/cost.md is written
// from its log.
func TestCostOfPullsThroughTheCache(t *testing.T) {
	q := &lambdaQueue{}
	lambdaAPI := httptest.NewServer(q)
	t.Cleanup(lambdaAPI.Close)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", lambdaAPI.URL)
	up := startBerthUpstream(t)
	c := startCache(t, "aws", func(cfg *config.Config) { cfg.FillFunction = "fill" })
	calls := c.local.Stores.Calls
	c.rule("dev/hub", up, "1h")
	big, err := random.Layer(20<<20, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img := randomImage(t, 1<<20, 3)
	want := up.write(t, "up/app", "1", img)
	bd, _ := big.Digest()
	up.write(t, "up/big", "1", mustAppend(t, big))
	ref := c.ref("dev/hub/up/app", "1")
	up.counter.take()

	var rows []string
	row := func(what string, requests int64, cost backend.Count, upstream map[string]int) {
		delete(upstream, "GET token")
		rows = append(rows, fmt.Sprintf("| %s | %d | %d / %d | %.1f / %.1f | %d | %d | %s |", what, requests, cost.DynamoReads(), cost.DynamoWrites(),
			cost.ReadUnits, cost.WriteUnits, cost.S3(), fetches(upstream), cost))
	}
	measure := func(what string, f func()) (backend.Count, int64) {
		t.Helper()
		r0, c0 := c.seen.requests.Load(), calls.Snapshot()
		f()
		cost, n := calls.Snapshot().Since(c0), c.seen.requests.Load()-r0
		row(what, n, cost, up.counter.take())
		return cost, n
	}
	get := func(path string, want int) func() {
		return func() {
			t.Helper()
			res := c.do("GET", path, nil, "dev/admin", c.token)
			res.Body.Close()
			if res.StatusCode != want {
				t.Fatalf("GET %s: %d, want %d", path, res.StatusCode, want)
			}
		}
	}
	fill := func() {
		for _, j := range q.take() {
			if err := c.local.Cache.Fills.Fill(t.Context(), j); err != nil {
				t.Fatalf("fill %s: %v", j.Digest, err)
			}
		}
	}

	measure("cold pull by tag (go-containerregistry: /v2/, token, manifest, config, 3 layers of 1 MiB)", func() {
		if got := c.pull(t, ref); got != want {
			t.Fatalf("cold pull: %s, want %s", got, want)
		}
	})
	measure("its 4 asynchronous fills (fill function, 1 MiB each: one PutObject)", fill)
	measure("warm pull by tag (the same image)", func() { c.pull(t, ref) })
	measure("GET manifest by tag, cold (filled in the request)", get("/v2/dev/hub/up/big/manifests/1", http.StatusOK))
	blob := "/v2/dev/hub/up/big/blobs/" + bd.String()
	measure("GET blob, cold (claim, one upstream GET, 307 to its URL, fill queued)", get(blob, http.StatusTemporaryRedirect))
	measure("GET blob while its fill is queued (307 to the holder's URL)", get(blob, http.StatusTemporaryRedirect))
	measure("the 20 MiB blob's fill (multipart: 3 parts of 8 MiB)", fill)
	measure("GET blob, warm (307 to S3)", get(blob, http.StatusTemporaryRedirect))
	measure("GET manifest by tag, warm", get("/v2/dev/hub/up/big/manifests/1", http.StatusOK))
	c.advance(61 * time.Minute)
	measure("GET manifest by tag, due for its refresh (one upstream HEAD, unchanged)", get("/v2/dev/hub/up/big/manifests/1", http.StatusOK))
	measure("HEAD manifest by tag, warm", func() {
		res := c.do("HEAD", "/v2/dev/hub/up/big/manifests/1", nil, "dev/admin", c.token)
		res.Body.Close()
	})

	t.Logf("measured (aws backend, dynalite + gofakes3; Basic credentials for single requests, token auth for pulls):\n"+
		"| what | requests to Berth | DynamoDB reads / writes | RRU / WRU | S3 requests | upstream requests | calls |\n|---|---|---|---|---|---|---|\n%s",
		strings.Join(rows, "\n"))
}

func mustAppend(t *testing.T, layers ...v1Layer) v1Image {
	t.Helper()
	img, err := appendLayers(layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

type (
	v1Layer = v1.Layer
	v1Image = v1.Image
)

func appendLayers(layers ...v1.Layer) (v1.Image, error) {
	return mutate.AppendLayers(empty.Image, layers...)
}

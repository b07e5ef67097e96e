package pullthrough

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-registry/berth/integration/harness"
)

// TestPullThroughInLambdaMode runs the cache as it is deployed: every
// function its own bootstrap under the runtime emulator, on dynalite,
// MinIO and local-kms (the rule's credentials sealed with the stack's
// KMS key by the admin function, opened by the manifests, blobs and fill
// functions), blob fills handed by the blobs function to the fill
// function as asynchronous invocations. A cold pull is redirected to the
// upstream; once the fills are done the blobs are served from S3, and a
// warm pull asks the upstream nothing.
func TestPullThroughInLambdaMode(t *testing.T) {
	seen := &recorder{}
	host, token := harness.StartLambda(t, harness.Wrap(seen.wrap))
	up := startBerthUpstream(t)
	c := &cache{t: t, host: host, token: token, logs: &harness.Logs{}, seen: seen,
		client: &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	prefix := "dev/lambda-" + randomHex(t, 4)
	c.rule(prefix, up, "1h")
	img := randomImage(t, 1<<20, 2)
	want := up.write(t, "up/app", "1", img)
	ref := c.ref(prefix+"/up/app", "1")

	// A function instance that read tenancy dev's rules before this one
	// was made sees it within RuleTTL (10 s).
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := remote.Head(ref, remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: token}))
		var te *transport.Error
		if err == nil || !errors.As(err, &te) || te.StatusCode != http.StatusNotFound || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := c.pull(t, ref); got != want {
		t.Fatalf("cold pull: %s, want %s", got, want)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigName()
	blobs := []string{cfg.String()}
	for _, l := range layers {
		d, _ := l.Digest()
		blobs = append(blobs, d.String())
	}
	for _, b := range blobs {
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
			res := c.do("GET", "/v2/"+prefix+"/up/app/blobs/"+b, nil, "dev/admin", token)
			res.Body.Close()
			loc := res.Header.Get("Location")
			if res.StatusCode == http.StatusTemporaryRedirect && strings.Contains(loc, "X-Amz-Signature=") {
				break // filled: presigned by the blobs function, from S3
			}
			if time.Now().After(deadline) {
				t.Fatalf("blob %s not filled after 2 minutes: %d to %s", b, res.StatusCode, loc)
			}
		}
	}
	wantCounts(t, "cold pull", up.counter.take(), map[string]int{"GET manifests": 1, "GET blobs": 3, "GET objects": 3})
	if got := c.pull(t, ref); got != want {
		t.Fatalf("warm pull: %s, want %s", got, want)
	}
	wantCounts(t, "warm pull", up.counter.take(), map[string]int{})
	if strings.Contains(seen.String(), up.password) {
		t.Error("an answer of the cache holds the upstream's password")
	}
}

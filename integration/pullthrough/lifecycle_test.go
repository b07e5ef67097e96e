package pullthrough

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/store"
)

const day = 24 * time.Hour

// TestCachedImagesAgeOut holds a cached image to retention and garbage
// collection like any other: not pulled for the policy's days, a run
// deletes it, the collector takes its blobs once the bin expires, and
// the next pull fills it from the upstream again. The audit trail
// records each fill.
func TestCachedImagesAgeOut(t *testing.T) {
	for _, backend := range harness.Backends {
		t.Run(backend, func(t *testing.T) {
			up := startBerthUpstream(t)
			c := startCache(t, backend)
			c.rule("dev/mirror", up, "1h")
			want := up.write(t, "up/app", "1", randomImage(t, 4096, 2))
			ref := c.ref("dev/mirror/up/app", "1")
			if got := c.pull(t, ref); got != want {
				t.Fatalf("cold pull: %s, want %s", got, want)
			}
			c.settle()
			up.counter.take()

			var audit struct {
				Events []store.AuditEvent `json:"events"`
			}
			c.api("GET", "/api/tenancies/dev/audit", nil, http.StatusOK, &audit)
			fills := map[string]int{}
			for _, e := range audit.Events {
				if strings.HasPrefix(e.Action, "fill") {
					fills[e.Action]++
					if e.Principal != "dev/admin" || !strings.HasPrefix(e.Target, "dev/mirror/up/app@sha256:") || !strings.Contains(e.Detail, up.url+"/up/app") {
						t.Errorf("audit event %+v: want dev/admin's fill of dev/mirror/up/app from %s/up/app", e, up.url)
					}
				}
			}
			if fills["fill manifest"] != 1 || fills["fill blob"] != 3 {
				t.Errorf("the audit trail records fills %v, want the manifest and 3 blobs", fills)
			}

			c.api("PUT", "/api/retention/policies/global", map[string]any{"notPulledDays": 2}, http.StatusCreated, nil)
			c.advance(3 * day)
			c.api("POST", "/api/retention/runs", map[string]any{"confirm": true}, http.StatusOK, nil)
			meta := c.local.Stores.Meta
			if _, err := meta.GetManifest(t.Context(), "dev/mirror/up/app", digest.Digest(want.String())); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a cached image not pulled for 3 days is still there after the run (%v)", err)
			}
			c.advance(3 * day) // the recycle bin expires
			c.api("POST", "/api/retention/runs", map[string]any{"confirm": true}, http.StatusOK, nil)
			c.api("POST", "/api/retention/gc", nil, http.StatusOK, nil)
			links, err := meta.ListLinks(context.Background(), "dev/mirror/up/app", "", 10)
			if err != nil || len(links) != 0 {
				t.Fatalf("after collection the cached repository still links %d blobs (%v)", len(links), err)
			}

			if got := c.pull(t, ref); got != want {
				t.Fatalf("pull after the image aged out: %s, want %s", got, want)
			}
			c.settle()
			wantCounts(t, "pull after the image aged out", up.counter.take(), map[string]int{
				"GET manifests": 1, "GET blobs": 3, "GET objects": 3})
		})
	}
}

// TestPoliciesApplyToCachedRepositories: pulling through the cache needs
// read on the cached repository, as any pull does; a user without it
// neither pulls nor fills.
func TestPoliciesApplyToCachedRepositories(t *testing.T) {
	up := startBerthUpstream(t)
	c := startCache(t, "embedded")
	c.rule("dev/mirror", up, "1h")
	want := up.write(t, "up/app", "1", randomImage(t, 4096, 1))
	reader, nobody := c.user(t, "reader", "readers"), c.user(t, "nobody")
	c.api("PUT", "/api/tenancies/dev/policies/mirror-readers", map[string]any{
		"statements": []string{"allow group readers to read repos in tenancy where target.repo.name = 'mirror/up/app'"},
	}, http.StatusOK, nil)
	ref := c.ref("dev/mirror/up/app", "1")
	if _, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "dev/nobody", Password: nobody})); err == nil {
		t.Error("a user without read pulled through the cache")
	}
	if n := up.counter.take(); fetches(n) != 0 {
		t.Errorf("a refused pull made the cache fetch %v", n)
	}
	img, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "dev/reader", Password: reader}))
	if err != nil {
		t.Fatalf("a reader's pull: %v", err)
	}
	if d, _ := img.Digest(); d != want {
		t.Errorf("a reader pulled %s, want %s", d, want)
	}
}

// user creates a user of tenancy dev in groups and returns its auth
// token.
func (c *cache) user(t *testing.T, name string, groups ...string) string {
	t.Helper()
	for _, g := range groups {
		c.api("POST", "/api/tenancies/dev/groups", map[string]string{"name": g}, http.StatusCreated, nil)
	}
	c.api("POST", "/api/tenancies/dev/users", map[string]any{"name": name, "groups": groups}, http.StatusCreated, nil)
	var tok struct{ Token string }
	c.api("POST", "/api/tenancies/dev/users/"+name+"/tokens", map[string]string{}, http.StatusCreated, &tok)
	return tok.Token
}

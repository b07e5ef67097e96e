package retention

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

const day = 24 * time.Hour

// content is what the test pushed: images by name, layers by name.
type content struct {
	s      *server
	auth   remote.Option
	images map[string]v1.Hash
	layers map[string]v1.Layer
}

func (c *content) layer(name string) v1.Layer {
	if l, ok := c.layers[name]; ok {
		return l
	}
	l, err := random.Layer(2048, types.OCILayer)
	if err != nil {
		c.s.t.Fatal(err)
	}
	c.layers[name] = l
	return l
}

func (c *content) image(layers ...string) v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, n := range layers {
		var err error
		if img, err = mutate.AppendLayers(img, c.layer(n)); err != nil {
			c.s.t.Fatal(err)
		}
	}
	return img
}

func (c *content) ref(repo, tagOrDigest string) name.Reference {
	sep := ":"
	if strings.HasPrefix(tagOrDigest, "sha256:") {
		sep = "@"
	}
	r, err := name.ParseReference(c.s.host+"/"+repo+sep+tagOrDigest, name.Insecure)
	if err != nil {
		c.s.t.Fatal(err)
	}
	return r
}

// push pushes img to repo under tag (or by digest when tag is ""), and
// remembers it as name.
func (c *content) push(name, repo, tag string, img v1.Image) {
	c.s.t.Helper()
	d, err := img.Digest()
	if err != nil {
		c.s.t.Fatal(err)
	}
	if tag == "" {
		tag = d.String()
	}
	if err := remote.Write(c.ref(repo, tag), img, c.auth); err != nil {
		c.s.t.Fatalf("push %s: %v", name, err)
	}
	c.images[name] = d
}

// stored reports whether repo answers for the named image.
func (c *content) stored(repo, name string) bool {
	res := c.s.do("HEAD", "/v2/"+repo+"/manifests/"+c.images[name].String(), nil, nil)
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// blobStored reports whether repo answers for the named layer.
func (c *content) blobStored(repo, layer string) bool {
	d, _ := c.layers[layer].Digest()
	res := c.s.do("HEAD", "/v2/"+repo+"/blobs/"+d.String(), nil, nil)
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

func (c *content) want(t *testing.T, when string, repo string, present, absent []string) {
	t.Helper()
	for _, n := range present {
		if !c.stored(repo, n) {
			t.Errorf("%s: %s is gone from %s", when, n, repo)
		}
	}
	for _, n := range absent {
		if c.stored(repo, n) {
			t.Errorf("%s: %s is still in %s", when, n, repo)
		}
	}
}

// decided maps a run's decisions to image names.
func (c *content) decided(ds []store.Decision) map[string]store.Decision {
	out := map[string]store.Decision{}
	for _, d := range ds {
		for n, h := range c.images {
			if h.String() == d.Digest.String() {
				out[n] = d
			}
		}
	}
	return out
}

func TestRetentionEndToEnd(t *testing.T) {
	s := start(t)
	c := &content{s: s, auth: remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: s.token}),
		images: map[string]v1.Hash{}, layers: map[string]v1.Layer{}}

	// Day 0: push.
	imgA := c.image("a1", "shared")
	c.push("A", "dev/app", "v1", imgA)
	c.push("B", "dev/app", "v2", c.image("shared", "b1"))
	c.push("C", "dev/app", "keep-1", c.image("c1"))
	c.push("D", "dev/app", "", c.image("d1"))
	m1, m2 := c.image("m1"), c.image("m2")
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: m1, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: m2, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	if err := remote.WriteIndex(c.ref("dev/app", "multi"), idx, c.auth); err != nil {
		t.Fatalf("push index: %v", err)
	}
	c.images["I"], _ = idx.Digest()
	c.images["M1"], _ = m1.Digest()
	c.images["M2"], _ = m2.Digest()
	desc, err := partial.Descriptor(imgA)
	if err != nil {
		t.Fatal(err)
	}
	sig := mutate.Subject(c.image("sig"), *desc).(v1.Image)
	c.push("R", "dev/app", "", sig)
	c.push("E", "dev/svc", "old", c.image("e1"))
	c.push("F", "dev/svc", "old", c.image("f1")) // moves "old": E is untagged
	c.push("G", "dev/svc", "stay", c.image("g1"))

	s.api("PUT", "/api/retention/pins/dev/app@"+c.images["D"].String(), map[string]string{"note": "running in prod"}, http.StatusOK, nil)
	s.api("PUT", "/api/retention/policies/global", map[string]any{"notPulledDays": 30, "exemptTags": []string{"keep-*"}}, http.StatusCreated, nil)
	s.api("POST", "/api/retention/policies", map[string]any{"name": "svc", "untaggedDays": 7}, http.StatusCreated, nil)
	s.api("PUT", "/api/retention/repositories/dev/svc", map[string]string{"policy": "svc"}, http.StatusOK, nil)
	s.api("PUT", "/api/retention/repositories/dev/svc", map[string]string{"policy": "global"}, http.StatusBadRequest, nil)
	s.api("POST", "/api/retention/runs", map[string]any{"asOf": "not-a-time"}, http.StatusBadRequest, nil)

	// Day 20: pull B and the index; a dry run reports E.
	s.advance(20 * day)
	if _, err := remote.Image(c.ref("dev/app", "v2"), c.auth); err != nil {
		t.Fatalf("pull B: %v", err)
	}
	if _, err := remote.Index(c.ref("dev/app", "multi"), c.auth); err != nil {
		t.Fatalf("pull the index: %v", err)
	}
	dry := s.run(map[string]any{"dryRun": true})
	got := c.decided(dry.Dec)
	if len(got) != 1 || got["E"].Action != store.ActionDelete || got["E"].Criterion != "untagged" || got["E"].Policy != "svc" {
		t.Fatalf("day 20 dry run decided %+v, want only E deleted (untagged, policy svc)", got)
	}
	// Advance notice: a pull of E warns; a pull of B does not.
	accept := http.Header{"Accept": {string(types.OCIManifestSchema1)}}
	res := s.do("GET", "/v2/dev/svc/manifests/"+c.images["E"].String(), nil, accept)
	res.Body.Close()
	if w := res.Header.Get("Warning"); res.StatusCode != 200 || !strings.HasPrefix(w, `299 - "retention policy 'svc' will delete this image`) {
		t.Errorf("pull of E: %d, Warning %q", res.StatusCode, w)
	}
	res = s.do("GET", "/v2/dev/app/manifests/v2", nil, accept)
	res.Body.Close()
	if w := res.Header.Get("Warning"); w != "" {
		t.Errorf("pull of B warned: %q", w)
	}
	var details struct {
		Pulls      int64     `json:"pulls"`
		LastPulled time.Time `json:"lastPulled"`
	}
	s.api("GET", "/api/retention/images/dev/app@"+c.images["B"].String(), nil, http.StatusOK, &details)
	if details.Pulls != 2 {
		t.Errorf("B's pulls = %d, want 2 (ggcr's GET and ours)", details.Pulls)
	}
	if !c.stored("dev/app", "B") { // a HEAD
		t.Fatalf("B is gone")
	}
	s.api("GET", "/api/retention/images/dev/app@"+c.images["B"].String(), nil, http.StatusOK, &details)
	if details.Pulls != 2 || details.LastPulled.IsZero() {
		t.Errorf("after a HEAD, B's pulls = %d, want still 2 (a HEAD does not count)", details.Pulls)
	}

	// Day 35: the real run.
	s.advance(15 * day)
	run := s.run(map[string]any{})
	got = c.decided(run.Dec)
	for n, crit := range map[string]string{"A": "notPulled", "R": "subject", "E": "untagged"} {
		if got[n].Action != store.ActionDelete || got[n].Criterion != crit {
			t.Errorf("day 35: decision for %s = %+v, want delete (%s)", n, got[n], crit)
		}
	}
	if got["D"].Action != store.ActionKeep || !strings.Contains(got["D"].Reason, "pinned") || got["C"].Action != store.ActionKeep {
		t.Errorf("day 35: D %+v, C %+v; want both kept (pin, exempt tag)", got["D"], got["C"])
	}
	c.want(t, "day 35", "dev/app", []string{"B", "C", "D", "I", "M1", "M2"}, []string{"A", "R"})
	c.want(t, "day 35", "dev/svc", []string{"F", "G"}, []string{"E"})
	var gc struct{ Blobs, Links, Seen int }
	s.api("POST", "/api/retention/gc", nil, http.StatusOK, &gc) // as the hourly job would
	if gc.Blobs != 0 || gc.Links != 0 || gc.Seen == 0 || !c.blobStored("dev/app", "a1") {
		t.Errorf("day 35 collection %+v: it must stamp the new blobs and take none while A is in the recycle bin", gc)
	}

	// Undo the run, and pull again.
	var restored struct{ Restored int }
	s.api("POST", "/api/retention/runs/"+run.ID+"/restore", nil, http.StatusOK, &restored)
	if restored.Restored != 3 {
		t.Errorf("restored %d images, want 3 (A, R, E)", restored.Restored)
	}
	if _, err := remote.Image(c.ref("dev/app", "v1"), c.auth); err != nil {
		t.Errorf("pull A by its tag after the restore: %v", err)
	}
	c.want(t, "after the restore", "dev/app", []string{"A", "R"}, nil)
	c.want(t, "after the restore", "dev/svc", []string{"E"}, nil)

	// Day 66: everything but C and D is unpulled for 30 days; the
	// breaker stops the run (6 of 8 images) until confirmed.
	s.advance(31 * day)
	stopped := s.run(map[string]any{})
	for _, r := range stopped.Results {
		if r.Repo == "dev/app" && (!r.Stopped || r.Deleted != 0 || r.Reported != 6) {
			t.Errorf("day 66 unconfirmed: %+v, want stopped with 6 reported", r)
		}
	}
	c.want(t, "day 66 unconfirmed", "dev/app", []string{"A", "B", "I"}, nil)
	s.run(map[string]any{"confirm": true})
	c.want(t, "day 66 confirmed", "dev/app", []string{"C", "D"}, []string{"A", "B", "I", "M1", "M2", "R"})

	// Day 69: the bin has expired; the run purges it and the collector
	// takes the blobs only deleted images used.
	s.advance(3 * day)
	s.run(map[string]any{"confirm": true})
	keys := map[string]string{}
	for _, l := range []string{"a1", "shared", "e1"} {
		d, _ := c.layers[l].Digest()
		b, err := s.stores.Meta.GetBlob(t.Context(), digest.Digest(d.String()))
		if err != nil {
			t.Fatalf("blob record of %s: %v", l, err)
		}
		keys[l] = b.Key
	}
	s.api("POST", "/api/retention/gc", nil, http.StatusOK, &gc)
	for _, l := range []string{"a1", "shared", "b1", "m1", "m2", "sig"} {
		if c.blobStored("dev/app", l) {
			t.Errorf("day 69: layer %s of a deleted image is still in dev/app", l)
		}
	}
	for _, l := range []string{"c1", "d1"} {
		if !c.blobStored("dev/app", l) {
			t.Errorf("day 69: layer %s of a kept image was collected", l)
		}
	}
	if c.blobStored("dev/svc", "e1") || !c.blobStored("dev/svc", "f1") {
		t.Errorf("day 69: dev/svc: e1 stored %v (want false), f1 %v (want true)", c.blobStored("dev/svc", "e1"), c.blobStored("dev/svc", "f1"))
	}
	for l, k := range keys {
		if _, err := s.stores.Blobs.Stat(t.Context(), k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("day 69: the object of %s (%s) is still stored: %v", l, k, err)
		}
	}
	if gc.Blobs < 7 {
		t.Errorf("the collector removed %d blobs, want at least the 7 layers and configs of deleted images", gc.Blobs)
	}
	if _, err := remote.Image(c.ref("dev/app", "keep-1"), c.auth); err != nil {
		t.Errorf("pull C after the collection: %v", err)
	}
	s.api("POST", "/api/retention/bin/restore", map[string]string{"repository": "dev/app", "digest": c.images["A"].String()}, http.StatusNotFound, nil)
}

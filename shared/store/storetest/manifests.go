package storetest

import (
	"bytes"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

// newManifest returns a manifest in repo with every field set, so a
// round trip that drops one is caught.
func newManifest(t *testing.T, repo string, subject digest.Digest) store.Manifest {
	t.Helper()
	body := []byte(`{"schemaVersion":2,"mediaType":"` + ociManifest + `","n":"` + unique(t, "m") + `"}`)
	return store.Manifest{
		Repo:         repo,
		Digest:       digest.FromBytes(body),
		MediaType:    ociManifest,
		Size:         int64(len(body)),
		Body:         body,
		Subject:      subject,
		ArtifactType: "application/vnd.example.sbom",
		Annotations:  map[string]string{"org.opencontainers.image.title": "x"},
		Refs:         []digest.Digest{randomDigest(t), randomDigest(t)},
		Created:      time.Now().UTC().Truncate(time.Millisecond),
		Pushed:       time.Now().UTC().Truncate(time.Millisecond).Add(time.Second),
		PushedBy:     "dev/pusher",
		ImageSize:    12345,
	}
}

// checkManifest fails unless got holds everything want does.
func checkManifest(t *testing.T, got, want store.Manifest) {
	t.Helper()
	if got.Repo != want.Repo || got.Digest != want.Digest || got.MediaType != want.MediaType ||
		got.Size != want.Size || !bytes.Equal(got.Body, want.Body) || got.BodyKey != want.BodyKey ||
		got.Subject != want.Subject || got.ArtifactType != want.ArtifactType ||
		!maps.Equal(got.Annotations, want.Annotations) || !slices.Equal(got.Refs, want.Refs) ||
		!got.Created.Equal(want.Created) || !got.Pushed.Equal(want.Pushed) ||
		got.PushedBy != want.PushedBy || got.ImageSize != want.ImageSize {
		t.Fatalf("manifest round trip:\n got %+v\nwant %+v", got, want)
	}
}

// digestsOf returns the sorted digests of ms (Referrers has no order).
func digestsOf(ms []store.Manifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Digest.String())
	}
	return sorted(out)
}

var manifestTests = []metaTest{
	{"PutManifest then GetManifest round-trips every field", func(t *testing.T, m store.Metadata) {
		man := newManifest(t, unique(t, "repo"), randomDigest(t))
		must(t, "PutManifest", m.PutManifest(ctx(t), man))
		got, err := m.GetManifest(ctx(t), man.Repo, man.Digest)
		must(t, "GetManifest", err)
		checkManifest(t, got, man)
	}},
	{"a manifest stored by key round-trips BodyKey", func(t *testing.T, m store.Metadata) {
		man := newManifest(t, unique(t, "repo"), "")
		man.Body, man.BodyKey = nil, "manifests/"+man.Digest.Algorithm().String()+"/"+man.Digest.Encoded()
		must(t, "PutManifest", m.PutManifest(ctx(t), man))
		got, err := m.GetManifest(ctx(t), man.Repo, man.Digest)
		must(t, "GetManifest", err)
		checkManifest(t, got, man)
	}},
	{"GetManifest unknown → ErrNotFound", func(t *testing.T, m store.Metadata) {
		_, err := m.GetManifest(ctx(t), unique(t, "repo"), randomDigest(t))
		wantErr(t, "GetManifest", err, store.ErrNotFound)
	}},
	{"PutManifest is idempotent", func(t *testing.T, m store.Metadata) {
		man := newManifest(t, unique(t, "repo"), "")
		must(t, "PutManifest", m.PutManifest(ctx(t), man))
		must(t, "PutManifest again", m.PutManifest(ctx(t), man))
		got, err := m.GetManifest(ctx(t), man.Repo, man.Digest)
		must(t, "GetManifest", err)
		checkManifest(t, got, man)
	}},
	{"a manifest is scoped to its repository", func(t *testing.T, m store.Metadata) {
		man := newManifest(t, unique(t, "repo"), "")
		must(t, "PutManifest", m.PutManifest(ctx(t), man))
		for _, other := range []string{man.Repo + "x", man.Repo + "/x", unique(t, "other")} {
			_, err := m.GetManifest(ctx(t), other, man.Digest)
			wantErr(t, "GetManifest in "+other, err, store.ErrNotFound)
		}
	}},
	{"DeleteManifest removes it; deleting again → ErrNotFound", func(t *testing.T, m store.Metadata) {
		man := newManifest(t, unique(t, "repo"), "")
		must(t, "PutManifest", m.PutManifest(ctx(t), man))
		must(t, "DeleteManifest", m.DeleteManifest(ctx(t), man.Repo, man.Digest))
		_, err := m.GetManifest(ctx(t), man.Repo, man.Digest)
		wantErr(t, "GetManifest after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteManifest again", m.DeleteManifest(ctx(t), man.Repo, man.Digest), store.ErrNotFound)
	}},
	{"DeleteManifest in one repository keeps the same digest in another", func(t *testing.T, m store.Metadata) {
		a := newManifest(t, unique(t, "a"), "")
		b := a
		b.Repo = unique(t, "b")
		must(t, "PutManifest a", m.PutManifest(ctx(t), a))
		must(t, "PutManifest b", m.PutManifest(ctx(t), b))
		must(t, "DeleteManifest a", m.DeleteManifest(ctx(t), a.Repo, a.Digest))
		got, err := m.GetManifest(ctx(t), b.Repo, b.Digest)
		must(t, "GetManifest b", err)
		checkManifest(t, got, b)
	}},
	{"Referrers returns only this repository's manifests with that subject", func(t *testing.T, m store.Metadata) {
		repo := unique(t, "repo")
		subject, otherSubject := randomDigest(t), randomDigest(t)
		r1, r2 := newManifest(t, repo, subject), newManifest(t, repo, subject)
		puts := []store.Manifest{
			r1, r2,
			newManifest(t, repo, otherSubject),      // other subject
			newManifest(t, repo, ""),                // no subject
			newManifest(t, repo+"x", subject),       // repository with our name as prefix
			newManifest(t, repo+"/x", subject),      // nested repository
			newManifest(t, unique(t, "b"), subject), // unrelated repository
		}
		for _, p := range puts {
			must(t, "PutManifest", m.PutManifest(ctx(t), p))
		}
		got, err := m.Referrers(ctx(t), repo, subject)
		must(t, "Referrers", err)
		if want := digestsOf([]store.Manifest{r1, r2}); !slices.Equal(digestsOf(got), want) {
			t.Fatalf("Referrers = %q, want %q", digestsOf(got), want)
		}
		for _, g := range got {
			if g.Digest == r1.Digest {
				checkManifest(t, g, r1)
			}
		}
	}},
	{"Referrers of a subject with none is empty", func(t *testing.T, m store.Metadata) {
		got, err := m.Referrers(ctx(t), unique(t, "repo"), randomDigest(t))
		must(t, "Referrers", err)
		if len(got) != 0 {
			t.Fatalf("Referrers = %q, want none", digestsOf(got))
		}
	}},
	{"a deleted referrer disappears from Referrers", func(t *testing.T, m store.Metadata) {
		repo, subject := unique(t, "repo"), randomDigest(t)
		keep, gone := newManifest(t, repo, subject), newManifest(t, repo, subject)
		must(t, "PutManifest", m.PutManifest(ctx(t), keep))
		must(t, "PutManifest", m.PutManifest(ctx(t), gone))
		must(t, "DeleteManifest", m.DeleteManifest(ctx(t), repo, gone.Digest))
		got, err := m.Referrers(ctx(t), repo, subject)
		must(t, "Referrers", err)
		if want := []string{keep.Digest.String()}; !slices.Equal(digestsOf(got), want) {
			t.Fatalf("Referrers after delete = %q, want %q", digestsOf(got), want)
		}
	}},
	{"a re-put referrer is listed once", func(t *testing.T, m store.Metadata) {
		repo, subject := unique(t, "repo"), randomDigest(t)
		r := newManifest(t, repo, subject)
		must(t, "PutManifest", m.PutManifest(ctx(t), r))
		must(t, "PutManifest again", m.PutManifest(ctx(t), r))
		got, err := m.Referrers(ctx(t), repo, subject)
		must(t, "Referrers", err)
		if want := []string{r.Digest.String()}; !slices.Equal(digestsOf(got), want) {
			t.Fatalf("Referrers = %q, want %q", digestsOf(got), want)
		}
	}},
}

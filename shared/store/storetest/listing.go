package storetest

import (
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// pageDigests pages through list (limit 3) from the start and returns
// the digests seen, failing if a page is over its limit.
func pageDigests(t *testing.T, list func(after digest.Digest, limit int) ([]digest.Digest, error)) []string {
	t.Helper()
	var got []string
	var after digest.Digest
	for page := 0; page < 100; page++ {
		batch, err := list(after, 3)
		must(t, "list", err)
		if len(batch) > 3 {
			t.Fatalf("a page of limit 3 held %d", len(batch))
		}
		for _, d := range batch {
			got = append(got, d.String())
		}
		if len(batch) < 3 {
			return got
		}
		after = batch[len(batch)-1]
	}
	t.Fatalf("paging did not end; collected %q", got)
	return nil
}

var listingTests = []metaTest{
	{"ListManifests pages one repository's manifests in digest order", func(t *testing.T, m store.Metadata) {
		repo := unique(t, "repo")
		var want []string
		for range 8 {
			man := newManifest(t, repo, "")
			must(t, "PutManifest", m.PutManifest(ctx(t), man))
			want = append(want, man.Digest.String())
		}
		// A referrer is listed as the manifest it is, once.
		ref := newManifest(t, repo, randomDigest(t))
		must(t, "PutManifest referrer", m.PutManifest(ctx(t), ref))
		want = append(want, ref.Digest.String())
		for _, other := range []string{repo + "x", repo + "/x"} {
			must(t, "PutManifest elsewhere", m.PutManifest(ctx(t), newManifest(t, other, "")))
		}
		must(t, "PutTag", m.PutTag(ctx(t), newTag(t, repo, "latest")))
		must(t, "LinkBlob", m.LinkBlob(ctx(t), repo, newBlob(t, unique(t, "blobs/k"))))
		got := pageDigests(t, func(after digest.Digest, limit int) ([]digest.Digest, error) {
			ms, err := m.ListManifests(ctx(t), repo, after, limit)
			var ds []digest.Digest
			for _, x := range ms {
				if x.Digest == ref.Digest {
					checkManifest(t, x, ref)
				}
				ds = append(ds, x.Digest)
			}
			return ds, err
		})
		if want = sorted(want); !slices.Equal(got, want) {
			t.Fatalf("ListManifests = %q\nwant %q", got, want)
		}
	}},
	{"ListLinks pages one repository's links in digest order", func(t *testing.T, m store.Metadata) {
		repo := unique(t, "repo")
		var want []string
		for range 7 {
			b := newBlob(t, unique(t, "blobs/k"))
			must(t, "LinkBlob", m.LinkBlob(ctx(t), repo, b))
			want = append(want, b.Digest.String())
		}
		must(t, "LinkBlob elsewhere", m.LinkBlob(ctx(t), repo+"x", newBlob(t, unique(t, "blobs/k"))))
		must(t, "PutManifest", m.PutManifest(ctx(t), newManifest(t, repo, "")))
		got := pageDigests(t, func(after digest.Digest, limit int) ([]digest.Digest, error) {
			bs, err := m.ListLinks(ctx(t), repo, after, limit)
			var ds []digest.Digest
			for _, b := range bs {
				if b.Key == "" || b.Size != 1234 {
					t.Fatalf("ListLinks returned %+v, want the blob's key and size", b)
				}
				ds = append(ds, b.Digest)
			}
			return ds, err
		})
		if want = sorted(want); !slices.Equal(got, want) {
			t.Fatalf("ListLinks = %q\nwant %q", got, want)
		}
	}},
	{"ListManifests and ListLinks of an empty repository are empty", func(t *testing.T, m store.Metadata) {
		repo := unique(t, "repo")
		ms, err := m.ListManifests(ctx(t), repo, "", 10)
		must(t, "ListManifests", err)
		bs, err := m.ListLinks(ctx(t), repo, "", 10)
		must(t, "ListLinks", err)
		if len(ms)+len(bs) != 0 {
			t.Fatalf("got %d manifests and %d links, want none", len(ms), len(bs))
		}
	}},
}

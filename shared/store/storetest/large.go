package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// largeManifest is a manifest whose record is far over a key-value
// item's size (DynamoDB: 400 KB): as large as the spec's 4 MiB manifest
// limit allows a record to get, with thousands of references and
// annotations of multi-byte characters. Its body lives in object
// storage, as the registry keeps bodies over 64 KiB.
func largeManifest(t *testing.T, repo string, subject digest.Digest) store.Manifest {
	m := newManifest(t, repo, subject)
	m.Body, m.BodyKey, m.Size = nil, "manifests/sha256/"+m.Digest.Encoded(), 4<<20
	m.Refs = nil
	for range 12000 {
		m.Refs = append(m.Refs, randomDigest(t))
	}
	m.Annotations = map[string]string{}
	for i := range 40 {
		m.Annotations[fmt.Sprintf("k%02d", i)] = strings.Repeat("é€😀", 3000) // 27 KB of 2-, 3- and 4-byte characters
	}
	return m
}

var largeManifestTests = []metaTest{
	{"a manifest record of megabytes round-trips by Get, List and Referrers", func(t *testing.T, m store.Metadata) {
		repo, subject := unique(t, "repo"), randomDigest(t)
		big := largeManifest(t, repo, subject)
		small := newManifest(t, repo, subject)
		must(t, "PutManifest big", m.PutManifest(ctx(t), big))
		must(t, "PutManifest small", m.PutManifest(ctx(t), small))
		got, err := m.GetManifest(ctx(t), repo, big.Digest)
		must(t, "GetManifest", err)
		checkManifest(t, got, big)
		refs, err := m.Referrers(ctx(t), repo, subject)
		must(t, "Referrers", err)
		if want := digestsOf([]store.Manifest{big, small}); !slices.Equal(digestsOf(refs), want) {
			t.Fatalf("Referrers = %q, want %q", digestsOf(refs), want)
		}
		for _, r := range refs {
			if r.Digest == big.Digest {
				checkManifest(t, r, big)
			}
		}
		for _, limit := range []int{1, 2, 10} {
			list, err := m.ListManifests(ctx(t), repo, "", limit)
			must(t, "ListManifests", err)
			if want := min(limit, 2); len(list) != want {
				t.Fatalf("ListManifests(limit %d) returned %d, want %d", limit, len(list), want)
			}
			for _, x := range list {
				if x.Digest == big.Digest {
					checkManifest(t, x, big)
				}
			}
		}
		first := sorted([]string{big.Digest.String(), small.Digest.String()})
		list, err := m.ListManifests(ctx(t), repo, digest.Digest(first[0]), 10)
		must(t, "ListManifests after the first", err)
		if len(list) != 1 || list[0].Digest.String() != first[1] {
			t.Fatalf("ListManifests after %s = %q, want just %s", first[0], digestsOf(list), first[1])
		}
		must(t, "DeleteManifest", m.DeleteManifest(ctx(t), repo, big.Digest))
		_, err = m.GetManifest(ctx(t), repo, big.Digest)
		wantErr(t, "GetManifest after delete", err, store.ErrNotFound)
		refs, err = m.Referrers(ctx(t), repo, subject)
		must(t, "Referrers after delete", err)
		if want := []string{small.Digest.String()}; !slices.Equal(digestsOf(refs), want) {
			t.Fatalf("Referrers after delete = %q, want %q", digestsOf(refs), want)
		}
		list, err = m.ListManifests(ctx(t), repo, "", 10)
		must(t, "ListManifests after delete", err)
		if want := []string{small.Digest.String()}; !slices.Equal(digestsOf(list), want) {
			t.Fatalf("ListManifests after delete = %q, want %q", digestsOf(list), want)
		}
	}},
}

package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/store"
)

// Metadata runs the contract suite for store.Metadata. open is called once
// per subtest with that subtest's t (register cleanup on it); it may return
// a fresh store or one shared by all subtests.
func Metadata(t *testing.T, open func(t *testing.T) store.Metadata) {
	groups := []struct {
		name  string
		tests []metaTest
	}{
		{"repositories", repositoryTests},
		{"manifests", manifestTests},
		{"tags", tagTests},
		{"blobs", blobRecordTests},
		{"uploads", uploadTests},
		{"listing", listingTests},
		{"large manifests", largeManifestTests},
		{"concurrency", metaConcurrencyTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
			}
		})
	}
}

// metaTest is one named behaviour of store.Metadata.
type metaTest struct {
	name string
	run  func(t *testing.T, m store.Metadata)
}

var repositoryTests = []metaTest{
	{"EnsureRepository creates, then is idempotent", func(t *testing.T, m store.Metadata) {
		name := unique(t, "repo")
		must(t, "EnsureRepository", m.EnsureRepository(ctx(t), name))
		first, err := m.GetRepository(ctx(t), name)
		must(t, "GetRepository", err)
		if first.Name != name || first.Created.IsZero() {
			t.Fatalf("GetRepository = %+v, want name %q and a creation time", first, name)
		}
		must(t, "EnsureRepository again", m.EnsureRepository(ctx(t), name))
		again, err := m.GetRepository(ctx(t), name)
		must(t, "GetRepository again", err)
		if !again.Created.Equal(first.Created) {
			t.Errorf("second EnsureRepository changed Created from %v to %v", first.Created, again.Created)
		}
	}},
	{"GetRepository unknown → ErrNotFound", func(t *testing.T, m store.Metadata) {
		_, err := m.GetRepository(ctx(t), unique(t, "missing"))
		wantErr(t, "GetRepository", err, store.ErrNotFound)
	}},
	{"GetRepository does not match by prefix", func(t *testing.T, m store.Metadata) {
		name := unique(t, "prefix")
		must(t, "EnsureRepository", m.EnsureRepository(ctx(t), name+"/child"))
		_, err := m.GetRepository(ctx(t), name)
		wantErr(t, "GetRepository of the parent path", err, store.ErrNotFound)
	}},
	{"ListRepositories pages in lexical order with exclusive after", testListRepositories},
	{"ListRepositories after a name that does not exist starts after it", func(t *testing.T, m store.Metadata) {
		p := unique(t, "gap")
		names := []string{p + "/a", p + "/c", p + "/e"}
		for _, n := range names {
			must(t, "EnsureRepository", m.EnsureRepository(ctx(t), n))
		}
		got, err := m.ListRepositories(ctx(t), p+"/b", 2)
		must(t, "ListRepositories", err)
		if want := names[1:]; !slices.Equal(got, want) {
			t.Errorf("ListRepositories(after %q, 2) = %q, want %q", p+"/b", got, want)
		}
	}},
	{"ListRepositories from the start is ascending and within limit", func(t *testing.T, m store.Metadata) {
		must(t, "EnsureRepository", m.EnsureRepository(ctx(t), unique(t, "start")))
		got, err := m.ListRepositories(ctx(t), "", 5)
		must(t, "ListRepositories", err)
		if len(got) == 0 || len(got) > 5 {
			t.Fatalf("ListRepositories(\"\", 5) returned %d names, want 1..5", len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i-1] >= got[i] {
				t.Fatalf("ListRepositories not strictly ascending: %q", got)
			}
		}
	}},
}

// testListRepositories creates ≥ 25 repositories under a unique prefix,
// including names whose byte order differs from path-segment order, and
// pages through them. Names sharing the prefix are contiguous in lexical
// order, so listing after the bare prefix yields exactly them first even
// in a shared store.
func testListRepositories(t *testing.T, m store.Metadata) {
	p := unique(t, "list")
	names := []string{
		p + "/a", p + "/a-b", p + "/a.b", p + "/a/b", p + "/a0", p + "/a_b", p + "/ab", p + "/b",
	}
	for i := 0; len(names) < 27; i++ {
		names = append(names, fmt.Sprintf("%s/r%02d", p, i))
	}
	// Create in reverse so an implementation that lists in insertion
	// order fails.
	for i := len(names) - 1; i >= 0; i-- {
		must(t, "EnsureRepository", m.EnsureRepository(ctx(t), names[i]))
	}
	want := sorted(names)

	const limit = 10
	var got []string
	after := p
	for page := 0; ; page++ {
		if page > len(names) {
			t.Fatalf("paging did not end; collected %q", got)
		}
		batch, err := m.ListRepositories(ctx(t), after, limit)
		must(t, "ListRepositories", err)
		if len(batch) > limit {
			t.Fatalf("ListRepositories(after %q, %d) returned %d names", after, limit, len(batch))
		}
		// Our names are contiguous, so they lead the page.
		ours := 0
		for ours < len(batch) && strings.HasPrefix(batch[ours], p+"/") {
			ours++
		}
		got = append(got, batch[:ours]...)
		if ours < len(batch) || len(batch) < limit {
			break
		}
		after = batch[len(batch)-1]
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged ListRepositories = %q\nwant %q", got, want)
	}

	// after is exclusive: listing after the 5th name starts at the 6th.
	batch, err := m.ListRepositories(ctx(t), want[4], 3)
	must(t, "ListRepositories", err)
	if !slices.Equal(batch, want[5:8]) {
		t.Errorf("ListRepositories(after %q, 3) = %q, want %q", want[4], batch, want[5:8])
	}
}

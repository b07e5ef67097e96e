package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// tagNames are ≥ 25 valid tags whose byte order mixes case, digits and
// the separators . - _ so that any order but byte-wise lexical shows.
func tagNames() []string {
	names := []string{"A", "Z", "_x", "a", "latest", "v1", "v1-0", "v1.0", "v10", "v1_0", "v2"}
	for i := 0; len(names) < 27; i++ {
		names = append(names, fmt.Sprintf("t%02d", i))
	}
	return names
}

func newTag(t *testing.T, repo, name string) store.Tag {
	return store.Tag{
		Repo: repo, Name: name, Digest: randomDigest(t), MediaType: ociManifest, Size: 512,
		Updated: time.Now().UTC().Truncate(time.Millisecond),
	}
}

func tagNamesOf(tags []store.Tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, t.Name)
	}
	return out
}

var tagTests = []metaTest{
	{"CreateTag stores a new tag; again → ErrExists, the first stays", func(t *testing.T, m store.Metadata) {
		repo := unique(t, "repo")
		first := store.Tag{Repo: repo, Name: "v1", Digest: randomDigest(t), Updated: time.Now().UTC().Truncate(time.Millisecond)}
		must(t, "CreateTag", m.CreateTag(ctx(t), first))
		second := first
		second.Digest = randomDigest(t)
		wantErr(t, "CreateTag again", m.CreateTag(ctx(t), second), store.ErrExists)
		got, err := m.GetTag(ctx(t), repo, "v1")
		must(t, "GetTag", err)
		if got.Digest != first.Digest {
			t.Fatalf("the tag names %s, want the first write's %s", got.Digest, first.Digest)
		}
	}},
	{"PutTag then GetTag round-trips", func(t *testing.T, m store.Metadata) {
		tag := newTag(t, unique(t, "repo"), "latest")
		must(t, "PutTag", m.PutTag(ctx(t), tag))
		got, err := m.GetTag(ctx(t), tag.Repo, tag.Name)
		must(t, "GetTag", err)
		if got.Repo != tag.Repo || got.Name != tag.Name || got.Digest != tag.Digest ||
			got.MediaType != tag.MediaType || got.Size != tag.Size || !got.Updated.Equal(tag.Updated) {
			t.Fatalf("GetTag = %+v, want %+v", got, tag)
		}
	}},
	{"PutTag moves an existing tag", func(t *testing.T, m store.Metadata) {
		tag := newTag(t, unique(t, "repo"), "latest")
		must(t, "PutTag", m.PutTag(ctx(t), tag))
		moved := newTag(t, tag.Repo, tag.Name)
		must(t, "PutTag moved", m.PutTag(ctx(t), moved))
		got, err := m.GetTag(ctx(t), tag.Repo, tag.Name)
		must(t, "GetTag", err)
		if got.Digest != moved.Digest {
			t.Fatalf("GetTag digest = %s, want the moved-to %s", got.Digest, moved.Digest)
		}
		list, err := m.ListTags(ctx(t), tag.Repo, "", 10)
		must(t, "ListTags", err)
		if len(list) != 1 || list[0].Digest != moved.Digest {
			t.Fatalf("ListTags after move = %+v, want one tag at %s", list, moved.Digest)
		}
	}},
	{"GetTag unknown → ErrNotFound", func(t *testing.T, m store.Metadata) {
		_, err := m.GetTag(ctx(t), unique(t, "repo"), "latest")
		wantErr(t, "GetTag", err, store.ErrNotFound)
	}},
	{"a tag is scoped to its repository", func(t *testing.T, m store.Metadata) {
		tag := newTag(t, unique(t, "repo"), "latest")
		must(t, "PutTag", m.PutTag(ctx(t), tag))
		for _, other := range []string{tag.Repo + "x", tag.Repo + "/x", unique(t, "other")} {
			_, err := m.GetTag(ctx(t), other, tag.Name)
			wantErr(t, "GetTag in "+other, err, store.ErrNotFound)
		}
	}},
	{"DeleteTag removes it; deleting again → ErrNotFound", func(t *testing.T, m store.Metadata) {
		tag := newTag(t, unique(t, "repo"), "latest")
		must(t, "PutTag", m.PutTag(ctx(t), tag))
		must(t, "DeleteTag", m.DeleteTag(ctx(t), tag.Repo, tag.Name))
		_, err := m.GetTag(ctx(t), tag.Repo, tag.Name)
		wantErr(t, "GetTag after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteTag again", m.DeleteTag(ctx(t), tag.Repo, tag.Name), store.ErrNotFound)
	}},
	{"DeleteTag unknown → ErrNotFound", func(t *testing.T, m store.Metadata) {
		wantErr(t, "DeleteTag", m.DeleteTag(ctx(t), unique(t, "repo"), "latest"), store.ErrNotFound)
	}},
	{"ListTags pages in lexical order with exclusive after", testListTags},
	{"ListTags lists only its repository, not one its name prefixes", func(t *testing.T, m store.Metadata) {
		a := unique(t, "a")
		// Each neighbour's key would share a prefix with a's under a
		// naive "repo/tag" or "repo" + separator + tag key scheme.
		neighbours := []string{a + "b", a + "/b", a + "-b", a + ".b", a + "_b"}
		must(t, "PutTag", m.PutTag(ctx(t), newTag(t, a, "mine")))
		for _, n := range neighbours {
			must(t, "PutTag", m.PutTag(ctx(t), newTag(t, n, "theirs")))
			must(t, "PutTag", m.PutTag(ctx(t), newTag(t, n, "b")))
		}
		for _, after := range []string{"", "a", "mine"} {
			got, err := m.ListTags(ctx(t), a, after, 100)
			must(t, "ListTags", err)
			want := []string{"mine"}
			if after == "mine" {
				want = nil
			}
			if !slices.Equal(tagNamesOf(got), want) {
				t.Errorf("ListTags(%q, after %q) = %q, want %q", a, after, tagNamesOf(got), want)
			}
		}
		got, err := m.ListTags(ctx(t), a+"b", "", 100)
		must(t, "ListTags", err)
		if want := []string{"b", "theirs"}; !slices.Equal(tagNamesOf(got), want) {
			t.Errorf("ListTags(%q) = %q, want %q", a+"b", tagNamesOf(got), want)
		}
	}},
	{"ListTags of a repository without tags is empty", func(t *testing.T, m store.Metadata) {
		got, err := m.ListTags(ctx(t), unique(t, "repo"), "", 10)
		must(t, "ListTags", err)
		if len(got) != 0 {
			t.Fatalf("ListTags = %q, want none", tagNamesOf(got))
		}
	}},
}

// testListTags writes ≥ 25 tags in reverse order and pages through them.
func testListTags(t *testing.T, m store.Metadata) {
	repo := unique(t, "repo")
	names := tagNames()
	digests := map[string]string{}
	for i := len(names) - 1; i >= 0; i-- {
		tag := newTag(t, repo, names[i])
		digests[tag.Name] = tag.Digest.String()
		must(t, "PutTag", m.PutTag(ctx(t), tag))
	}
	want := sorted(names)

	const limit = 10
	var got []string
	after := ""
	for page := 0; ; page++ {
		if page > len(names) {
			t.Fatalf("paging did not end; collected %q", got)
		}
		batch, err := m.ListTags(ctx(t), repo, after, limit)
		must(t, "ListTags", err)
		if len(batch) > limit {
			t.Fatalf("ListTags(after %q, %d) returned %d tags", after, limit, len(batch))
		}
		for _, tag := range batch {
			if tag.Repo != repo || tag.Digest.String() != digests[tag.Name] {
				t.Fatalf("ListTags returned %+v, want repo %q digest %s", tag, repo, digests[tag.Name])
			}
		}
		got = append(got, tagNamesOf(batch)...)
		if tn, ok := m.(store.TagNames); ok {
			names, err := tn.ListTagNames(ctx(t), repo, after, limit)
			must(t, "ListTagNames", err)
			if !slices.Equal(names, tagNamesOf(batch)) {
				t.Errorf("ListTagNames(after %q, %d) = %q, ListTags' names %q", after, limit, names, tagNamesOf(batch))
			}
		}
		if len(batch) < limit {
			break
		}
		after = batch[len(batch)-1].Name
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged ListTags = %q\nwant %q", got, want)
	}

	batch, err := m.ListTags(ctx(t), repo, want[4], 3)
	must(t, "ListTags", err)
	if !slices.Equal(tagNamesOf(batch), want[5:8]) {
		t.Errorf("ListTags(after %q, 3) = %q, want %q", want[4], tagNamesOf(batch), want[5:8])
	}
	// "v1." sorts between "v1-0" and "v1.0" and names no tag.
	batch, err = m.ListTags(ctx(t), repo, "v1.", 2)
	must(t, "ListTags", err)
	if w := []string{"v1.0", "v10"}; !slices.Equal(tagNamesOf(batch), w) {
		t.Errorf("ListTags(after %q, 2) = %q, want %q", "v1.", tagNamesOf(batch), w)
	}
}

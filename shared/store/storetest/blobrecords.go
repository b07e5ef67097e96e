package storetest

import (
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

func newBlob(t *testing.T, key string) store.Blob {
	return store.Blob{Digest: randomDigest(t), Size: 1234, Key: key, Created: time.Now().UTC().Truncate(time.Millisecond)}
}

// checkBlob fails unless got equals want.
func checkBlob(t *testing.T, got, want store.Blob) {
	t.Helper()
	if got.Digest != want.Digest || got.Size != want.Size || got.Key != want.Key || !got.Created.Equal(want.Created) {
		t.Fatalf("blob record:\n got %+v\nwant %+v", got, want)
	}
}

// checkLink fails unless a link returned the blob's digest, size and key
// (what a blob GET or HEAD answers from).
func checkLink(t *testing.T, got, want store.Blob) {
	t.Helper()
	if got.Digest != want.Digest || got.Size != want.Size || got.Key != want.Key {
		t.Fatalf("GetLink:\n got %+v\nwant %+v", got, want)
	}
}

var blobRecordTests = []metaTest{
	{"PutBlob then GetBlob round-trips", func(t *testing.T, m store.Metadata) {
		b := newBlob(t, unique(t, "blobs/k"))
		must(t, "PutBlob", m.PutBlob(ctx(t), b))
		got, err := m.GetBlob(ctx(t), b.Digest)
		must(t, "GetBlob", err)
		checkBlob(t, got, b)
	}},
	{"GetBlob unknown → ErrNotFound", func(t *testing.T, m store.Metadata) {
		_, err := m.GetBlob(ctx(t), randomDigest(t))
		wantErr(t, "GetBlob", err, store.ErrNotFound)
	}},
	{"PutBlob of a recorded digest → ErrExists and keeps the first record", func(t *testing.T, m store.Metadata) {
		first := newBlob(t, unique(t, "blobs/first"))
		must(t, "PutBlob", m.PutBlob(ctx(t), first))
		second := first
		second.Key, second.Size, second.Created = unique(t, "blobs/second"), 99, first.Created.Add(time.Hour)
		wantErr(t, "PutBlob again", m.PutBlob(ctx(t), second), store.ErrExists)
		got, err := m.GetBlob(ctx(t), first.Digest)
		must(t, "GetBlob", err)
		checkBlob(t, got, first)
	}},
	{"LinkBlob links in one repository only", func(t *testing.T, m store.Metadata) {
		a, b := unique(t, "a"), unique(t, "b")
		blob := newBlob(t, unique(t, "blobs/k"))
		must(t, "PutBlob", m.PutBlob(ctx(t), blob))
		must(t, "LinkBlob", m.LinkBlob(ctx(t), a, blob))
		got, err := m.GetLink(ctx(t), a, blob.Digest)
		must(t, "GetLink in A", err)
		checkLink(t, got, blob)
		for _, other := range []string{b, a + "x", a + "/x"} {
			_, err := m.GetLink(ctx(t), other, blob.Digest)
			wantErr(t, "GetLink in "+other, err, store.ErrNotFound)
		}
		_, err = m.GetLink(ctx(t), a, randomDigest(t))
		wantErr(t, "GetLink of another digest", err, store.ErrNotFound)
	}},
	{"LinkBlob is idempotent", func(t *testing.T, m store.Metadata) {
		repo, blob := unique(t, "repo"), newBlob(t, unique(t, "blobs/k"))
		must(t, "PutBlob", m.PutBlob(ctx(t), blob))
		must(t, "LinkBlob", m.LinkBlob(ctx(t), repo, blob))
		must(t, "LinkBlob again", m.LinkBlob(ctx(t), repo, blob))
		got, err := m.GetLink(ctx(t), repo, blob.Digest)
		must(t, "GetLink", err)
		checkLink(t, got, blob)
	}},
	{"UnlinkBlob removes the link in that repository only", func(t *testing.T, m store.Metadata) {
		a, b := unique(t, "a"), unique(t, "b")
		blob := newBlob(t, unique(t, "blobs/k"))
		must(t, "PutBlob", m.PutBlob(ctx(t), blob))
		must(t, "LinkBlob A", m.LinkBlob(ctx(t), a, blob))
		must(t, "LinkBlob B", m.LinkBlob(ctx(t), b, blob))
		must(t, "UnlinkBlob A", m.UnlinkBlob(ctx(t), a, blob.Digest))
		_, err := m.GetLink(ctx(t), a, blob.Digest)
		wantErr(t, "GetLink in A after unlink", err, store.ErrNotFound)
		_, err = m.GetLink(ctx(t), b, blob.Digest)
		must(t, "GetLink in B", err)
		_, err = m.GetBlob(ctx(t), blob.Digest)
		must(t, "GetBlob after unlink (the record stays)", err)
		wantErr(t, "UnlinkBlob A again", m.UnlinkBlob(ctx(t), a, blob.Digest), store.ErrNotFound)
	}},
	{"UnlinkBlob of a link never made → ErrNotFound", func(t *testing.T, m store.Metadata) {
		wantErr(t, "UnlinkBlob", m.UnlinkBlob(ctx(t), unique(t, "repo"), randomDigest(t)), store.ErrNotFound)
	}},
	{"ReplaceBlob swaps a record that still names the old key, condemned or not", func(t *testing.T, m store.Metadata) {
		b := newBlob(t, unique(t, "blobs/bad"))
		must(t, "PutBlob", m.PutBlob(ctx(t), b))
		nb := b
		nb.Key, nb.Size = unique(t, "blobs/good"), 99
		stale := b
		stale.Key = unique(t, "blobs/other")
		wantErr(t, "ReplaceBlob of another key", m.ReplaceBlob(ctx(t), nb, stale), store.ErrConflict)
		must(t, "ReplaceBlob", m.ReplaceBlob(ctx(t), nb, b))
		got, err := m.GetBlob(ctx(t), b.Digest)
		must(t, "GetBlob", err)
		checkBlob(t, got, nb)
		wantErr(t, "ReplaceBlob from the replaced key", m.ReplaceBlob(ctx(t), b, b), store.ErrConflict)
		wantErr(t, "ReplaceBlob of an unknown digest", m.ReplaceBlob(ctx(t), newBlob(t, "k"), newBlob(t, "k")), store.ErrNotFound)
	}},
	{"QuarantineBlob condemns a record once, only while it names the key", func(t *testing.T, m store.Metadata) {
		b := newBlob(t, unique(t, "blobs/bad"))
		must(t, "PutBlob", m.PutBlob(ctx(t), b))
		other := b
		other.Key = unique(t, "blobs/other")
		wantErr(t, "QuarantineBlob of another key", m.QuarantineBlob(ctx(t), other, "q1"), store.ErrConflict)
		must(t, "QuarantineBlob", m.QuarantineBlob(ctx(t), b, "q1"))
		wantErr(t, "QuarantineBlob again", m.QuarantineBlob(ctx(t), b, "q2"), store.ErrConflict)
		if ret, ok := m.(store.BlobTouches); ok {
			st, err := ret.TouchBlob(ctx(t), b.Digest)
			wantErr(t, "TouchBlob of a quarantined record", err, store.ErrConflict)
			if st.Condemned != "q1" {
				t.Fatalf("the quarantined record's marker is %q, want q1", st.Condemned)
			}
		}
		nb := b
		nb.Key = unique(t, "blobs/good")
		must(t, "ReplaceBlob of a quarantined record", m.ReplaceBlob(ctx(t), nb, b))
		got, err := m.GetBlob(ctx(t), b.Digest)
		must(t, "GetBlob", err)
		checkBlob(t, got, nb)
		wantErr(t, "QuarantineBlob of an unknown digest", m.QuarantineBlob(ctx(t), newBlob(t, "k"), "q"), store.ErrNotFound)
	}},
	{"RepointLink moves a link off a key only while it names that key", func(t *testing.T, m store.Metadata) {
		repo := unique(t, "repo")
		bad := newBlob(t, unique(t, "blobs/bad"))
		must(t, "PutBlob", m.PutBlob(ctx(t), bad))
		must(t, "LinkBlob", m.LinkBlob(ctx(t), repo, bad))
		good := bad
		good.Key, good.Size = unique(t, "blobs/good"), 99
		wantErr(t, "RepointLink from another key", m.RepointLink(ctx(t), repo, good, unique(t, "blobs/other")), store.ErrConflict)
		must(t, "RepointLink", m.RepointLink(ctx(t), repo, good, bad.Key))
		got, err := m.GetLink(ctx(t), repo, bad.Digest)
		must(t, "GetLink", err)
		checkLink(t, got, good)
		wantErr(t, "RepointLink from the old key again", m.RepointLink(ctx(t), repo, good, bad.Key), store.ErrConflict)
		wantErr(t, "RepointLink in a repository without the link", m.RepointLink(ctx(t), unique(t, "none"), good, bad.Key), store.ErrNotFound)
		if lc, ok := m.(store.LinkCollector); ok {
			ls, err := lc.ListLinkStates(ctx(t), repo, "", 10)
			must(t, "ListLinkStates", err)
			if len(ls) != 1 || ls[0].Key != good.Key || ls[0].Touched.IsZero() {
				t.Fatalf("after RepointLink the link's state is %+v: its key moved, its touch time stays", ls)
			}
		}
	}},
	{"UnlinkBlobIf removes a link only while it names the key", func(t *testing.T, m store.Metadata) {
		repo := unique(t, "repo")
		b := newBlob(t, unique(t, "blobs/bad"))
		must(t, "PutBlob", m.PutBlob(ctx(t), b))
		must(t, "LinkBlob", m.LinkBlob(ctx(t), repo, b))
		wantErr(t, "UnlinkBlobIf of another key", m.UnlinkBlobIf(ctx(t), repo, b.Digest, unique(t, "blobs/other")), store.ErrConflict)
		_, err := m.GetLink(ctx(t), repo, b.Digest)
		must(t, "GetLink after a refused UnlinkBlobIf", err)
		must(t, "UnlinkBlobIf", m.UnlinkBlobIf(ctx(t), repo, b.Digest, b.Key))
		_, err = m.GetLink(ctx(t), repo, b.Digest)
		wantErr(t, "GetLink after UnlinkBlobIf", err, store.ErrNotFound)
		wantErr(t, "UnlinkBlobIf again", m.UnlinkBlobIf(ctx(t), repo, b.Digest, b.Key), store.ErrNotFound)
	}},
}

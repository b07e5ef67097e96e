package scrub_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/scrub"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// fixture is embedded stores holding blobs as a registry left them,
// some of whose objects do not hold their digests' bytes.
type fixture struct {
	meta *local.Metadata
	objs *local.Objects
	logs bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	var err error
	if f.meta, err = local.OpenMetadata(filepath.Join(t.TempDir(), "metadata.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.meta.Close() })
	if f.objs, err = local.OpenObjects(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return f
}

// blob records content under digest d (whatever its bytes) at key and
// links it in repos.
func (f *fixture) blob(t *testing.T, d digest.Digest, content []byte, key string, repos ...string) store.Blob {
	t.Helper()
	ctx := context.Background()
	b := store.Blob{Digest: d, Size: int64(len(content)), Key: key, Created: time.Now().UTC()}
	if content != nil {
		if err := f.objs.Put(ctx, key, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.meta.PutBlob(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, r := range repos {
		if err := f.meta.EnsureRepository(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := f.meta.LinkBlob(ctx, r, b); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func (f *fixture) scrubber() *scrub.Scrubber {
	return scrub.New(f.meta, f.objs, slog.New(slog.NewTextHandler(&f.logs, nil)))
}

// TestVerifyQuarantinesEveryKindOfMismatch walks every record: a good
// blob stays; a record whose object holds other bytes of its size (the
// race of two commits left such), one whose object has another size and
// one whose object is gone are reported, condemned and unlinked from
// every repository that linked the bad object — and only those links.
func TestVerifyQuarantinesEveryKindOfMismatch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	good := f.blob(t, digest.FromString("good"), []byte("good"), "blobs/1", "dev/a", "dev/b")
	swapped := f.blob(t, digest.FromString("abcd"), []byte("wxyz"), "blobs/2", "dev/a", "other/c")
	short := f.blob(t, digest.FromString("longer"), []byte("longer"), "blobs/3", "dev/a")
	if err := f.objs.Put(ctx, "blobs/3", []byte("lo")); err != nil {
		t.Fatal(err)
	}
	missing := f.blob(t, digest.FromString("gone"), nil, "blobs/4", "dev/b")
	bad := map[digest.Digest][]string{swapped.Digest: {"dev/a", "other/c"}, short.Digest: {"dev/a"}, missing.Digest: {"dev/b"}}

	rep, err := f.scrubber().Verify(ctx, scrub.Request{Deadline: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 4 || !rep.Done || len(rep.Skipped) != 0 {
		t.Fatalf("report %+v: want 4 checked, the walk done", rep)
	}
	if len(rep.Mismatches) != len(bad) {
		t.Fatalf("mismatches %+v, want %d", rep.Mismatches, len(bad))
	}
	for _, m := range rep.Mismatches {
		repos, ok := bad[m.Digest]
		if !ok || !m.Quarantined || !slices.Equal(m.Unlinked, repos) || m.Problem == "" {
			t.Errorf("mismatch %+v: want %s quarantined and unlinked from %v", m, m.Digest, repos)
		}
		st, err := f.meta.TouchBlob(ctx, m.Digest)
		if !errors.Is(err, store.ErrConflict) || !strings.HasPrefix(st.Condemned, "quarantine-") {
			t.Errorf("%s after the scrub: %v, condemned %q; want it quarantined", m.Digest, err, st.Condemned)
		}
		for _, r := range repos {
			if _, err := f.meta.GetLink(ctx, r, m.Digest); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s is still linked in %s: %v", m.Digest, r, err)
			}
		}
	}
	for _, r := range []string{"dev/a", "dev/b"} {
		if _, err := f.meta.GetLink(ctx, r, good.Digest); err != nil {
			t.Errorf("the good blob lost its link in %s: %v", r, err)
		}
	}
	if !strings.Contains(f.logs.String(), swapped.Digest.String()) {
		t.Errorf("the mismatch was not logged:\n%s", f.logs.String())
	}

	// Quarantined records are the collector's now: a second scrub finds
	// nothing more.
	rep, err = f.scrubber().Verify(ctx, scrub.Request{Deadline: time.Now().Add(time.Minute)})
	if err != nil || rep.Checked != 1 || len(rep.Mismatches) != 0 {
		t.Fatalf("second scrub: %+v %v, want only the good blob checked", rep, err)
	}
}

// TestVerifyLeavesAHealedRecordAlone: a link to the bad object made
// before a verified upload replaced the record is removed; the record
// and links that name the good object stay.
func TestVerifyLeavesALinkToAnotherObjectAlone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d := digest.FromString("real")
	bad := f.blob(t, d, []byte("fake"), "blobs/bad", "dev/old")
	if err := f.objs.Put(ctx, "blobs/good", []byte("real")); err != nil {
		t.Fatal(err)
	}
	healed := bad
	healed.Key = "blobs/good"
	if err := f.meta.LinkBlob(ctx, "dev/new", healed); err != nil {
		t.Fatal(err)
	}
	if err := f.meta.EnsureRepository(ctx, "dev/new"); err != nil {
		t.Fatal(err)
	}
	rep, err := f.scrubber().Verify(ctx, scrub.Request{Deadline: time.Now().Add(time.Minute)})
	if err != nil || len(rep.Mismatches) != 1 || !slices.Equal(rep.Mismatches[0].Unlinked, []string{"dev/old"}) {
		t.Fatalf("report %+v %v: want the bad record quarantined and only dev/old unlinked", rep, err)
	}
	if l, err := f.meta.GetLink(ctx, "dev/new", d); err != nil || l.Key != "blobs/good" {
		t.Fatalf("dev/new's link to the good object: %+v %v", l, err)
	}
}

// TestVerifyWalksInStepsAndSamples: a request that runs out of time says
// where to continue, and a sample checks distinct records.
func TestVerifyWalksInStepsAndSamples(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ds []digest.Digest
	for i := range 30 {
		c := []byte{byte(i), 'x'}
		ds = append(ds, f.blob(t, digest.FromBytes(c), c, "blobs/"+digest.FromBytes(c).Encoded(), "dev/a").Digest)
	}
	rep, err := f.scrubber().Verify(ctx, scrub.Request{Deadline: time.Now()})
	if err != nil || rep.Checked != 0 || rep.Done {
		t.Fatalf("a request out of time: %+v %v, want nothing checked and not done", rep, err)
	}
	slices.Sort(ds)
	rep, err = f.scrubber().Verify(ctx, scrub.Request{After: ds[9], Deadline: time.Now().Add(time.Minute)})
	if err != nil || rep.Checked != 20 || !rep.Done {
		t.Fatalf("continuing after the 10th record: %+v %v, want the other 20 checked", rep, err)
	}
	rep, err = f.scrubber().Verify(ctx, scrub.Request{Sample: 10, Deadline: time.Now().Add(time.Minute)})
	if err != nil || rep.Checked < 5 || rep.Checked > 10 || len(rep.Mismatches) != 0 {
		t.Fatalf("a sample of 10: %+v %v", rep, err)
	}
	rep, err = f.scrubber().Verify(ctx, scrub.Request{Sample: 100, Deadline: time.Now().Add(time.Minute)})
	if err != nil || rep.Checked > 30 {
		t.Fatalf("a sample larger than the registry: %+v %v", rep, err)
	}
}

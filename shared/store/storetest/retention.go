package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// RetentionStore is a store holding content and retention state in one
// table, as every implementation does.
type RetentionStore interface {
	store.Metadata
	store.Retention
}

// Retention runs the contract suite for store.Retention. open is called
// once per subtest; it may return a fresh store or a shared one.
func Retention(t *testing.T, open func(t *testing.T) RetentionStore) {
	groups := []struct {
		name  string
		tests []retTest
	}{
		{"policies", retPolicyTests},
		{"stats", retStatsTests},
		{"runs", retRunTests},
		{"bin", retBinTests},
		{"gc", retGCTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
			}
		})
	}
}

type retTest struct {
	name string
	run  func(t *testing.T, s RetentionStore)
}

// ms is now truncated to milliseconds (what every store round-trips).
func ms() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

var retPolicyTests = []retTest{
	{"PutRetentionPolicy creates at version 1, then only from the stored version", func(t *testing.T, s RetentionStore) {
		p := store.RetentionPolicy{Tenancy: unique(t, "t"), Name: "weekly", UntaggedDays: 7, ExemptTags: []string{"v*"}, Created: ms(), Changed: ms(), Version: 1}
		must(t, "create", s.PutRetentionPolicy(ctx(t), p))
		wantErr(t, "create again", s.PutRetentionPolicy(ctx(t), p), store.ErrExists)
		got, err := s.GetRetentionPolicy(ctx(t), p.Tenancy, p.Name)
		must(t, "get", err)
		if got.UntaggedDays != 7 || !slices.Equal(got.ExemptTags, p.ExemptTags) || got.Version != 1 || !got.Changed.Equal(p.Changed) {
			t.Fatalf("got %+v, want %+v", got, p)
		}
		p.Version = 3
		wantErr(t, "skip a version", s.PutRetentionPolicy(ctx(t), p), store.ErrConflict)
		p.Version, p.NotPulledDays = 2, 30
		must(t, "update", s.PutRetentionPolicy(ctx(t), p))
		wantErr(t, "update from a stale version", s.PutRetentionPolicy(ctx(t), p), store.ErrConflict)
		absent := p
		absent.Name, absent.Version = "other", 2
		wantErr(t, "update of an absent policy", s.PutRetentionPolicy(ctx(t), absent), store.ErrConflict)
	}},
	{"ListRetentionPolicies lists one tenancy by name; Delete removes", func(t *testing.T, s RetentionStore) {
		a, b := unique(t, "t"), unique(t, "t")
		for _, n := range []string{"zeta", "alpha", store.GlobalPolicy} {
			must(t, "put", s.PutRetentionPolicy(ctx(t), store.RetentionPolicy{Tenancy: a, Name: n, Version: 1}))
		}
		must(t, "put other", s.PutRetentionPolicy(ctx(t), store.RetentionPolicy{Tenancy: b, Name: "beta", Version: 1}))
		ps, err := s.ListRetentionPolicies(ctx(t), a)
		must(t, "list", err)
		var names []string
		for _, p := range ps {
			names = append(names, p.Name)
		}
		if want := []string{"alpha", store.GlobalPolicy, "zeta"}; !slices.Equal(names, want) {
			t.Fatalf("names = %q, want %q", names, want)
		}
		must(t, "delete", s.DeleteRetentionPolicy(ctx(t), a, "alpha"))
		wantErr(t, "delete again", s.DeleteRetentionPolicy(ctx(t), a, "alpha"), store.ErrNotFound)
		_, err = s.GetRetentionPolicy(ctx(t), a, "alpha")
		wantErr(t, "get deleted", err, store.ErrNotFound)
	}},
	{"a repository is assigned to at most one policy", func(t *testing.T, s RetentionStore) {
		ten := unique(t, "t")
		repo := ten + "/app"
		must(t, "assign", s.Assign(ctx(t), store.Assignment{Tenancy: ten, Repo: repo, Policy: "a", Created: ms()}))
		must(t, "assign to the same again", s.Assign(ctx(t), store.Assignment{Tenancy: ten, Repo: repo, Policy: "a", Created: ms()}))
		wantErr(t, "assign to another", s.Assign(ctx(t), store.Assignment{Tenancy: ten, Repo: repo, Policy: "b"}), store.ErrExists)
		must(t, "assign a second repo", s.Assign(ctx(t), store.Assignment{Tenancy: ten, Repo: ten + "/db", Policy: "b"}))
		got, err := s.GetAssignment(ctx(t), ten, repo)
		must(t, "get", err)
		if got.Policy != "a" {
			t.Fatalf("policy = %q, want a", got.Policy)
		}
		as, err := s.ListAssignments(ctx(t), ten)
		must(t, "list", err)
		if len(as) != 2 || as[0].Repo != repo || as[1].Policy != "b" {
			t.Fatalf("ListAssignments = %+v", as)
		}
		must(t, "unassign", s.Unassign(ctx(t), ten, repo))
		wantErr(t, "unassign again", s.Unassign(ctx(t), ten, repo), store.ErrNotFound)
		must(t, "assign elsewhere after unassigning", s.Assign(ctx(t), store.Assignment{Tenancy: ten, Repo: repo, Policy: "b"}))
	}},
	{"pins are listed per repository and deleted", func(t *testing.T, s RetentionStore) {
		repo, d := unique(t, "r"), randomDigest(t)
		exp := ms().Add(time.Hour)
		must(t, "pin", s.PutPin(ctx(t), store.Pin{Repo: repo, Digest: d, Expires: exp, Note: "prod", Created: ms()}))
		must(t, "pin elsewhere", s.PutPin(ctx(t), store.Pin{Repo: repo + "x", Digest: d, Created: ms()}))
		ps, err := s.ListPins(ctx(t), repo)
		must(t, "list", err)
		if len(ps) != 1 || ps[0].Digest != d || !ps[0].Expires.Equal(exp) || ps[0].Note != "prod" {
			t.Fatalf("ListPins = %+v", ps)
		}
		if !ps[0].Active(exp.Add(-time.Second)) || ps[0].Active(exp) {
			t.Fatalf("Active does not end at the expiry")
		}
		must(t, "unpin", s.DeletePin(ctx(t), repo, d))
		wantErr(t, "unpin again", s.DeletePin(ctx(t), repo, d), store.ErrNotFound)
	}},
}

var retStatsTests = []retTest{
	{"RecordPull counts and keeps the latest time; marks survive pulls", func(t *testing.T, s RetentionStore) {
		repo, d := unique(t, "r"), randomDigest(t)
		zero, err := s.GetImageStats(ctx(t), repo, d)
		must(t, "get unknown", err)
		if zero.Pulls != 0 || !zero.LastPulled.IsZero() {
			t.Fatalf("unknown image has stats %+v", zero)
		}
		t1 := ms()
		notice := &store.Notice{At: t1.Add(time.Hour), Policy: "p", Reason: "untagged"}
		must(t, "mark", s.MarkImages(ctx(t), repo, []store.ImageMark{{Digest: d, ImageMarks: store.ImageMarks{Tagged: true, Notice: notice}}}))
		_, err = s.RecordPull(ctx(t), repo, d, t1.Add(time.Minute))
		must(t, "pull", err)
		got, err := s.RecordPull(ctx(t), repo, d, t1) // an older pull does not move LastPulled back
		must(t, "pull again", err)
		if got.Pulls != 2 || !got.LastPulled.Equal(t1.Add(time.Minute)) || !got.Tagged || got.Notice == nil || got.Notice.Reason != "untagged" {
			t.Fatalf("RecordPull returned %+v", got)
		}
		must(t, "re-mark", s.MarkImages(ctx(t), repo, []store.ImageMark{{Digest: d, ImageMarks: store.ImageMarks{UntaggedSince: t1}}}))
		got, err = s.GetImageStats(ctx(t), repo, d)
		must(t, "get", err)
		if got.Pulls != 2 || got.Tagged || got.Notice != nil || !got.UntaggedSince.Equal(t1) {
			t.Fatalf("after MarkImages: %+v", got)
		}
	}},
	{"ListImageStats pages one repository in digest order; Delete forgets", func(t *testing.T, s RetentionStore) {
		repo := unique(t, "r")
		var ds []string
		for range 5 {
			d := randomDigest(t)
			ds = append(ds, d.String())
			_, err := s.RecordPull(ctx(t), repo, d, ms())
			must(t, "pull", err)
		}
		_, err := s.RecordPull(ctx(t), repo+"x", randomDigest(t), ms())
		must(t, "pull in a longer-named repo", err)
		want := sorted(ds)
		first, err := s.ListImageStats(ctx(t), repo, "", 3)
		must(t, "list", err)
		rest, err := s.ListImageStats(ctx(t), repo, first[len(first)-1].Digest, 10)
		must(t, "list after", err)
		var got []string
		for _, x := range append(first, rest...) {
			got = append(got, x.Digest.String())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged = %q, want %q", got, want)
		}
		must(t, "delete", s.DeleteImageStats(ctx(t), repo, digest.Digest(want[0])))
		must(t, "delete absent", s.DeleteImageStats(ctx(t), repo, digest.Digest(want[0])))
		all, err := s.ListImageStats(ctx(t), repo, "", 10)
		must(t, "list", err)
		if len(all) != 4 {
			t.Fatalf("%d records after delete, want 4", len(all))
		}
	}},
}

var retRunTests = []retTest{
	{"runs list newest first; repositories and decisions belong to their run", func(t *testing.T, s RetentionStore) {
		ten := unique(t, "t")
		var ids []string
		for i := range 4 {
			id := fmt.Sprintf("20260101T00000%dZ-ab", i)
			ids = append(ids, id)
			must(t, "create", s.CreateRun(ctx(t), store.RetentionRun{Tenancy: ten, ID: id, Started: ms(), Trigger: "test"}))
		}
		wantErr(t, "create again", s.CreateRun(ctx(t), store.RetentionRun{Tenancy: ten, ID: ids[0]}), store.ErrExists)
		must(t, "other tenancy", s.CreateRun(ctx(t), store.RetentionRun{Tenancy: ten + "x", ID: "20990101T000000Z-zz"}))
		runs, err := s.ListRuns(ctx(t), ten, "", 2)
		must(t, "list", err)
		if len(runs) != 2 || runs[0].ID != ids[3] || runs[1].ID != ids[2] {
			t.Fatalf("ListRuns = %+v", runs)
		}
		runs, err = s.ListRuns(ctx(t), ten, ids[2], 10)
		must(t, "list before", err)
		if len(runs) != 2 || runs[0].ID != ids[1] || runs[1].ID != ids[0] {
			t.Fatalf("ListRuns(before) = %+v", runs)
		}
		got, err := s.GetRun(ctx(t), ten, ids[1])
		must(t, "get", err)
		if got.Trigger != "test" {
			t.Fatalf("GetRun = %+v", got)
		}
		for _, r := range []string{ten + "/b", ten + "/a"} {
			must(t, "put repo", s.PutRunRepo(ctx(t), store.RunRepo{Tenancy: ten, RunID: ids[1], Repo: r, Deleted: 1}))
		}
		must(t, "replace repo", s.PutRunRepo(ctx(t), store.RunRepo{Tenancy: ten, RunID: ids[1], Repo: ten + "/a", Deleted: 2}))
		must(t, "other run", s.PutRunRepo(ctx(t), store.RunRepo{Tenancy: ten, RunID: ids[2], Repo: ten + "/a"}))
		rr, err := s.ListRunRepos(ctx(t), ten, ids[1])
		must(t, "list repos", err)
		if len(rr) != 2 || rr[0].Repo != ten+"/a" || rr[0].Deleted != 2 {
			t.Fatalf("ListRunRepos = %+v", rr)
		}
		var ds []store.Decision
		for i := range 5 {
			ds = append(ds, store.Decision{Tenancy: ten, RunID: ids[1], Repo: fmt.Sprintf("%s/r%d", ten, i%2), Digest: randomDigest(t), Action: store.ActionDelete, Time: ms()})
		}
		must(t, "put decisions", s.PutDecisions(ctx(t), ds))
		must(t, "put decisions again", s.PutDecisions(ctx(t), ds[:2]))
		must(t, "other run's", s.PutDecisions(ctx(t), []store.Decision{{Tenancy: ten, RunID: ids[2], Repo: ten + "/r0", Digest: randomDigest(t)}}))
		var want []string
		for _, d := range ds {
			want = append(want, store.DecisionCursor(d))
		}
		want = sorted(want)
		page, err := s.ListDecisions(ctx(t), ten, ids[1], "", 3)
		must(t, "list decisions", err)
		rest, err := s.ListDecisions(ctx(t), ten, ids[1], store.DecisionCursor(page[len(page)-1]), 10)
		must(t, "list decisions after", err)
		var got2 []string
		for _, d := range append(page, rest...) {
			got2 = append(got2, store.DecisionCursor(d))
		}
		if !slices.Equal(got2, want) {
			t.Fatalf("decisions = %q, want %q", got2, want)
		}
	}},
}

var retBinTests = []retTest{
	{"the bin keeps a deleted image's manifest and tags until deleted", func(t *testing.T, s RetentionStore) {
		repo := unique(t, "r")
		man := store.Manifest{Repo: repo, Digest: randomDigest(t), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: []byte(`{}`), Refs: []digest.Digest{randomDigest(t)}, Created: ms()}
		b := store.BinnedImage{Tenancy: "t", RunID: "run1", Manifest: man, Tags: []store.Tag{{Repo: repo, Name: "v1", Digest: man.Digest}}, Deleted: ms(), Expires: ms().Add(48 * time.Hour), Reason: "untagged"}
		must(t, "put", s.PutBinned(ctx(t), b))
		got, err := s.GetBinned(ctx(t), repo, man.Digest)
		must(t, "get", err)
		if got.RunID != "run1" || string(got.Manifest.Body) != "{}" || len(got.Tags) != 1 || got.Tags[0].Name != "v1" || !got.Expires.Equal(b.Expires) || len(got.Manifest.Refs) != 1 {
			t.Fatalf("GetBinned = %+v", got)
		}
		list, err := s.ListBinned(ctx(t), repo, "", 10)
		must(t, "list", err)
		if len(list) != 1 {
			t.Fatalf("ListBinned has %d entries, want 1", len(list))
		}
		must(t, "delete", s.DeleteBinned(ctx(t), repo, man.Digest))
		wantErr(t, "delete again", s.DeleteBinned(ctx(t), repo, man.Digest), store.ErrNotFound)
	}},
	{"DeleteTagIf removes a tag only while it points at the digest", func(t *testing.T, s RetentionStore) {
		repo, d, other := unique(t, "r"), randomDigest(t), randomDigest(t)
		must(t, "tag", s.PutTag(ctx(t), store.Tag{Repo: repo, Name: "v1", Digest: other, Updated: ms()}))
		wantErr(t, "tag elsewhere", s.DeleteTagIf(ctx(t), repo, "v1", d), store.ErrConflict)
		if _, err := s.GetTag(ctx(t), repo, "v1"); err != nil {
			t.Fatalf("the moved tag is gone: %v", err)
		}
		must(t, "retag", s.PutTag(ctx(t), store.Tag{Repo: repo, Name: "v1", Digest: d, Updated: ms()}))
		must(t, "delete", s.DeleteTagIf(ctx(t), repo, "v1", d))
		wantErr(t, "delete again", s.DeleteTagIf(ctx(t), repo, "v1", d), store.ErrNotFound)
	}},
}

// blobWithLink records a blob and links it to a new repository.
func blobWithLink(t *testing.T, s RetentionStore) (string, store.Blob) {
	repo, b := unique(t, "r"), newBlob(t, unique(t, "blobs/k"))
	must(t, "PutBlob", s.PutBlob(ctx(t), b))
	must(t, "LinkBlob", s.LinkBlob(ctx(t), repo, b))
	return repo, b
}

var retGCTests = []retTest{
	{"a link touched since the cutoff is not deleted; a stale one is", func(t *testing.T, s RetentionStore) {
		repo, b := blobWithLink(t, s)
		before := time.Now().Add(-time.Hour)
		wantErr(t, "delete fresh", s.DeleteStaleLink(ctx(t), repo, b.Digest, before), store.ErrConflict)
		got, err := s.TouchLink(ctx(t), repo, b.Digest)
		must(t, "touch", err)
		checkLink(t, got, b)
		states, err := s.ListLinkStates(ctx(t), repo, "", 10)
		must(t, "list", err)
		if len(states) != 1 || states[0].Touched.Before(before) {
			t.Fatalf("ListLinkStates = %+v", states)
		}
		must(t, "delete stale", s.DeleteStaleLink(ctx(t), repo, b.Digest, time.Now().Add(time.Hour)))
		_, err = s.TouchLink(ctx(t), repo, b.Digest)
		wantErr(t, "touch deleted", err, store.ErrNotFound)
		wantErr(t, "delete deleted", s.DeleteStaleLink(ctx(t), repo, b.Digest, time.Now().Add(time.Hour)), store.ErrNotFound)
	}},
	{"a blob record is condemned only once touched and stale, then never reused", func(t *testing.T, s RetentionStore) {
		_, b := blobWithLink(t, s)
		later := time.Now().Add(time.Hour)
		wantErr(t, "condemn never touched", s.CondemnBlob(ctx(t), b.Digest, "gc1", later), store.ErrConflict)
		_, err := s.TouchBlob(ctx(t), b.Digest)
		must(t, "touch", err)
		wantErr(t, "condemn fresh", s.CondemnBlob(ctx(t), b.Digest, "gc1", time.Now().Add(-time.Hour)), store.ErrConflict)
		must(t, "condemn stale", s.CondemnBlob(ctx(t), b.Digest, "gc1", later))
		wantErr(t, "condemn twice", s.CondemnBlob(ctx(t), b.Digest, "gc2", later), store.ErrConflict)
		st, err := s.TouchBlob(ctx(t), b.Digest)
		wantErr(t, "touch condemned", err, store.ErrConflict)
		if st.Condemned != "gc1" {
			t.Fatalf("TouchBlob of a condemned record returned marker %q, want gc1", st.Condemned)
		}
		wantErr(t, "delete with another marker", s.DeleteCondemnedBlob(ctx(t), b.Digest, "gc2"), store.ErrConflict)
		must(t, "delete", s.DeleteCondemnedBlob(ctx(t), b.Digest, "gc1"))
		_, err = s.GetBlob(ctx(t), b.Digest)
		wantErr(t, "GetBlob after delete", err, store.ErrNotFound)
		_, err = s.TouchBlob(ctx(t), b.Digest)
		wantErr(t, "touch deleted", err, store.ErrNotFound)
		wantErr(t, "replace deleted", s.ReplaceCondemnedBlob(ctx(t), b, "gc1"), store.ErrConflict)
	}},
	{"ReplaceCondemnedBlob swaps in a fresh record the collector then keeps", func(t *testing.T, s RetentionStore) {
		_, b := blobWithLink(t, s)
		_, err := s.TouchBlob(ctx(t), b.Digest)
		must(t, "touch", err)
		later := time.Now().Add(time.Hour)
		must(t, "condemn", s.CondemnBlob(ctx(t), b.Digest, "gc1", later))
		nb := b
		nb.Key = unique(t, "blobs/new")
		wantErr(t, "replace with another marker", s.ReplaceCondemnedBlob(ctx(t), nb, "gc2"), store.ErrConflict)
		must(t, "replace", s.ReplaceCondemnedBlob(ctx(t), nb, "gc1"))
		wantErr(t, "the old marker no longer deletes", s.DeleteCondemnedBlob(ctx(t), b.Digest, "gc1"), store.ErrConflict)
		got, err := s.GetBlob(ctx(t), b.Digest)
		must(t, "get", err)
		if got.Key != nb.Key {
			t.Fatalf("record key = %q, want the replacement's %q", got.Key, nb.Key)
		}
		wantErr(t, "condemn fresh replacement", s.CondemnBlob(ctx(t), b.Digest, "gc3", time.Now().Add(-time.Hour)), store.ErrConflict)
		var found *store.BlobState
		after := digest.Digest("")
		for found == nil {
			page, err := s.ListBlobStates(ctx(t), after, 100)
			must(t, "list", err)
			for i := range page {
				if page[i].Digest == b.Digest {
					found = &page[i]
				}
			}
			if len(page) < 100 {
				break
			}
			after = page[len(page)-1].Digest
		}
		if found == nil || found.Condemned != "" || found.Touched.IsZero() || found.Key != nb.Key {
			t.Fatalf("ListBlobStates entry = %+v", found)
		}
	}},
	{"concurrent TouchLink and DeleteStaleLink → never both succeed", func(t *testing.T, s RetentionStore) {
		for range 5 {
			repo, b := blobWithLink(t, s)
			cutoff := time.Now() // the link is older; a touch during the race is not
			errs := race(func(i int) error {
				if i%2 == 0 {
					_, err := s.TouchLink(ctx(t), repo, b.Digest)
					return err
				}
				return s.DeleteStaleLink(ctx(t), repo, b.Digest, cutoff)
			})
			touched, deleted := false, false
			for i, err := range errs {
				switch {
				case err == nil && i%2 == 0:
					touched = true
				case err == nil:
					deleted = true
				case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict):
					t.Fatalf("racer %d: %v", i, err)
				}
			}
			if touched && deleted {
				t.Fatalf("a touch succeeded and the link was deleted anyway")
			}
			_, err := s.GetLink(ctx(t), repo, b.Digest)
			if deleted != errors.Is(err, store.ErrNotFound) {
				t.Fatalf("deleted=%v but GetLink err=%v", deleted, err)
			}
		}
	}},
}

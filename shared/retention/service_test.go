package retention_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// quiet discards the service's logs.
var quiet = slog.New(slog.DiscardHandler)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func days(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

// env is an embedded store with a retention service over it.
type env struct {
	t    *testing.T
	meta *local.Metadata
	objs *local.Objects
	svc  *retention.Service
	now  time.Time
}

func newEnv(t *testing.T) *env {
	meta, err := local.OpenMetadata(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	objs, err := local.OpenObjects(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := retention.DefaultConfig()
	cfg.Cooling, cfg.TestClock = time.Hour, true
	e := &env{t: t, meta: meta, objs: objs, now: t0}
	meta.SetClock(func() time.Time { return e.now })
	e.svc = retention.New(retention.Stores{Meta: meta, Ret: meta, Blobs: objs, Tenancies: meta}, cfg, quiet)
	e.svc.Now = func() time.Time { return e.now }
	return e
}

func (e *env) ctx() context.Context { return e.t.Context() }

func (e *env) must(what string, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
}

// blob stores content as a blob record and object.
func (e *env) blob(content string) store.Blob {
	d := digest.FromString(content)
	b := store.Blob{Digest: d, Size: int64(len(content)), Key: "blobs/" + d.Encoded(), Created: t0}
	e.must("put object", e.objs.Put(e.ctx(), b.Key, []byte(content)))
	if err := e.meta.PutBlob(e.ctx(), b); err != nil && !errors.Is(err, store.ErrExists) {
		e.t.Fatal(err)
	}
	return b
}

// image stores a manifest in repo referencing blobs (linked there),
// tagged with tags.
func (e *env) image(repo, name string, pushed time.Time, tags []string, blobs ...store.Blob) digest.Digest {
	e.must("repo", e.meta.EnsureRepository(e.ctx(), repo))
	body := []byte(`{"schemaVersion":2,"name":"` + name + `"}`)
	m := store.Manifest{Repo: repo, Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Size: int64(len(body)), Body: body, Created: pushed}
	for _, b := range blobs {
		m.Refs = append(m.Refs, b.Digest)
		e.must("link", e.meta.LinkBlob(e.ctx(), repo, b))
	}
	e.must("manifest", e.meta.PutManifest(e.ctx(), m))
	for _, tag := range tags {
		e.must("tag", e.meta.PutTag(e.ctx(), store.Tag{Repo: repo, Name: tag, Digest: m.Digest, MediaType: m.MediaType, Size: m.Size, Updated: pushed}))
	}
	return m.Digest
}

func (e *env) policy(p store.RetentionPolicy) {
	p.Tenancy, p.Version, p.Changed = "dev", 1, t0
	e.must("policy", e.meta.PutRetentionPolicy(e.ctx(), p))
}

func (e *env) run(req retention.RunRequest) (store.RetentionRun, []store.RunRepo) {
	e.t.Helper()
	req.Tenancy = "dev"
	run, err := e.svc.StartRun(e.ctx(), req)
	e.must("StartRun", err)
	repos, err := e.meta.ListRunRepos(e.ctx(), "dev", run.ID)
	e.must("ListRunRepos", err)
	return run, repos
}

func (e *env) decisions(runID string) map[digest.Digest]store.Decision {
	ds, err := e.meta.ListDecisions(e.ctx(), "dev", runID, "", 1000)
	e.must("ListDecisions", err)
	out := map[digest.Digest]store.Decision{}
	for _, d := range ds {
		out[d.Digest] = d
	}
	return out
}

func (e *env) exists(repo string, d digest.Digest) bool {
	_, err := e.meta.GetManifest(e.ctx(), repo, d)
	return err == nil
}

func TestRunDeletesToTheBinAndRestores(t *testing.T) {
	e := newEnv(t)
	layer, shared := e.blob("layer-a"), e.blob("shared")
	a := e.image("dev/app", "a", t0, []string{"v1"}, layer, shared)
	b := e.image("dev/app", "b", t0, []string{"v2"}, shared)
	c := e.image("dev/app", "c", t0, nil, e.blob("layer-c"))
	_, err := e.meta.RecordPull(e.ctx(), "dev/app", b, days(25))
	e.must("pull", err)
	e.policy(store.RetentionPolicy{Name: store.GlobalPolicy, NotPulledDays: 30})

	dry, repos := e.run(retention.RunRequest{DryRun: true, AsOf: days(40), Confirm: true})
	dryDel := e.decisions(dry.ID)
	if len(repos) != 1 || repos[0].Deleted != 2 || !e.exists("dev/app", a) || !e.exists("dev/app", c) {
		t.Fatalf("dry run: repos %+v; a and c must stay", repos)
	}

	e.now = days(40)
	real, repos := e.run(retention.RunRequest{Confirm: true})
	got := e.decisions(real.ID)
	for _, d := range []digest.Digest{a, c} {
		if got[d].Action != store.ActionDelete || got[d].Criterion != retention.CriterionNotPulled || got[d].Policy != store.GlobalPolicy {
			t.Errorf("decision for %s = %+v", d, got[d])
		}
		if dryDel[d].Action != store.ActionDelete {
			t.Errorf("the dry run did not report %s as a deletion", d)
		}
		if e.exists("dev/app", d) {
			t.Errorf("%s still stored after the run", d)
		}
	}
	if _, ok := got[b]; ok || !e.exists("dev/app", b) || repos[0].Deleted != 2 {
		t.Fatalf("b (pulled 15 days ago) was decided on (%+v) or deleted; repos %+v", got[b], repos)
	}
	if _, err := e.meta.GetTag(e.ctx(), "dev/app", "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tag v1 of a deleted image: %v", err)
	}

	n, err := e.svc.RestoreRun(e.ctx(), "dev", real.ID)
	e.must("RestoreRun", err)
	if n != 2 || !e.exists("dev/app", a) || !e.exists("dev/app", c) {
		t.Fatalf("RestoreRun restored %d", n)
	}
	if tag, err := e.meta.GetTag(e.ctx(), "dev/app", "v1"); err != nil || tag.Digest != a {
		t.Errorf("tag v1 after restore: %+v %v", tag, err)
	}
	// A restored image counts as pushed when restored.
	again, repos := e.run(retention.RunRequest{Confirm: true})
	if repos[0].Deleted != 0 || len(e.decisions(again.ID)) != 0 {
		t.Errorf("the run after a restore deleted again: %+v", repos)
	}
}

func TestBinnedImagesKeepTheirBlobsUntilPurged(t *testing.T) {
	e := newEnv(t)
	only, shared := e.blob("only-a"), e.blob("shared")
	a := e.image("dev/app", "a", t0, nil, only, shared)
	e.image("dev/app", "b", t0, []string{"v"}, shared)
	e.policy(store.RetentionPolicy{Name: store.GlobalPolicy, UntaggedDays: 7})

	e.now = days(10)
	_, err := e.svc.Collect(e.ctx(), e.now) // first sighting of every record
	e.must("Collect", err)
	_, repos := e.run(retention.RunRequest{Confirm: true})
	if repos[0].Deleted != 1 || e.exists("dev/app", a) {
		t.Fatalf("run: %+v", repos)
	}
	c, err := e.svc.Collect(e.ctx(), e.now)
	e.must("Collect", err)
	if c.Blobs != 0 || c.Links != 0 {
		t.Fatalf("collected %+v while the image is in the bin", c)
	}
	e.now = days(13) // past the 48 h bin
	_, repos = e.run(retention.RunRequest{Confirm: true})
	if repos[0].Purged != 1 {
		t.Fatalf("purged %d, want 1", repos[0].Purged)
	}
	c, err = e.svc.Collect(e.ctx(), e.now)
	e.must("Collect", err)
	if c.Blobs != 1 || c.Links != 1 || c.Bytes != only.Size {
		t.Fatalf("collection = %+v, want the one blob only a held", c)
	}
	if _, err := e.objs.Stat(e.ctx(), only.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the collected blob's object: %v", err)
	}
	if _, err := e.meta.GetLink(e.ctx(), "dev/app", shared.Digest); err != nil {
		t.Errorf("the blob a kept image uses lost its link: %v", err)
	}
	if _, err := e.objs.Stat(e.ctx(), shared.Key); err != nil {
		t.Errorf("the blob a kept image uses lost its object: %v", err)
	}
	if _, err := e.svc.Restore(e.ctx(), "dev/app", a); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("restore after purge: %v, want ErrNotFound", err)
	}
}

func TestPolicySelection(t *testing.T) {
	e := newEnv(t)
	old := e.image("dev/app", "a", t0, nil)
	kept := e.image("dev/db", "b", t0, nil)
	other := e.image("dev/cache", "c", t0, nil)
	e.policy(store.RetentionPolicy{Name: store.GlobalPolicy, UntaggedDays: 1})
	e.policy(store.RetentionPolicy{Name: "keep-long", UntaggedDays: 100})
	e.must("assign", e.meta.Assign(e.ctx(), store.Assignment{Tenancy: "dev", Repo: "dev/db", Policy: "keep-long"}))
	e.must("assign", e.meta.Assign(e.ctx(), store.Assignment{Tenancy: "dev", Repo: "dev/cache", Policy: "deleted-policy"}))
	e.now = days(5)
	_, repos := e.run(retention.RunRequest{Confirm: true})
	policies := map[string]string{}
	for _, r := range repos {
		policies[r.Repo] = r.Policy
	}
	want := map[string]string{"dev/app": store.GlobalPolicy, "dev/db": "keep-long", "dev/cache": store.GlobalPolicy}
	for repo, p := range want {
		if policies[repo] != p {
			t.Errorf("%s ran under %q, want %q", repo, policies[repo], p)
		}
	}
	if e.exists("dev/app", old) || !e.exists("dev/db", kept) || e.exists("dev/cache", other) {
		t.Errorf("deleted: app %v, db %v, cache %v; want true, false, true", !e.exists("dev/app", old), !e.exists("dev/db", kept), !e.exists("dev/cache", other))
	}

	e2 := newEnv(t)
	e2.image("dev/app", "a", t0, nil)
	e2.now = days(500)
	_, repos = e2.run(retention.RunRequest{Confirm: true})
	if repos[0].Deleted != 0 || !strings.Contains(repos[0].Note, "retains everything") {
		t.Errorf("without a global policy: %+v", repos[0])
	}
}

func TestAsOfNeedsTheTestClock(t *testing.T) {
	e := newEnv(t)
	cfg := e.svc.Config()
	cfg.TestClock = false
	svc := retention.New(retention.Stores{Meta: e.meta, Ret: e.meta, Blobs: e.objs, Tenancies: e.meta}, cfg, quiet)
	if _, err := svc.StartRun(e.ctx(), retention.RunRequest{Tenancy: "dev", AsOf: days(3)}); !errors.Is(err, retention.ErrAsOf) {
		t.Fatalf("StartRun with asOf: %v, want ErrAsOf", err)
	}
}

// retagOnDelete injects a concurrent push: just before the run deletes
// the manifest, a client tags it.
type retagOnDelete struct {
	*local.Metadata
	target digest.Digest
}

func (s retagOnDelete) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	if d == s.target {
		if err := s.Metadata.PutTag(ctx, store.Tag{Repo: repo, Name: "pushed-meanwhile", Digest: d}); err != nil {
			return err
		}
	}
	return s.Metadata.DeleteManifest(ctx, repo, d)
}

func TestRunPutsBackWhatAConcurrentPushTagged(t *testing.T) {
	e := newEnv(t)
	a := e.image("dev/app", "a", t0, nil)
	b := e.image("dev/app", "b", t0, nil)
	e.policy(store.RetentionPolicy{Name: store.GlobalPolicy, UntaggedDays: 1})
	fake := retagOnDelete{Metadata: e.meta, target: a}
	svc := retention.New(retention.Stores{Meta: fake, Ret: e.meta, Blobs: e.objs, Tenancies: e.meta}, e.svc.Config(), quiet)
	svc.Now = func() time.Time { return days(5) }
	run, err := svc.StartRun(e.ctx(), retention.RunRequest{Tenancy: "dev", Confirm: true})
	e.must("StartRun", err)
	repos, _ := e.meta.ListRunRepos(e.ctx(), "dev", run.ID)
	if !e.exists("dev/app", a) || e.exists("dev/app", b) || repos[0].Restored != 1 || repos[0].Deleted != 1 {
		t.Fatalf("a exists %v (want true), b exists %v (want false), outcome %+v", e.exists("dev/app", a), e.exists("dev/app", b), repos[0])
	}
	if d := e.decisions(run.ID)[a]; d.Action != store.ActionKeep || d.Criterion != "push" {
		t.Errorf("decision for the re-tagged image: %+v", d)
	}
}

func TestPullWarnsOfAComingDeletion(t *testing.T) {
	e := newEnv(t)
	doomed := e.image("dev/app", "a", t0, nil)
	fine := e.image("dev/app", "b", t0, []string{"v"})
	e.policy(store.RetentionPolicy{Name: store.GlobalPolicy, UntaggedDays: 7})
	e.now = days(6).Add(time.Hour) // due in 23 h, within the 24 h window
	e.run(retention.RunRequest{DryRun: true})
	pt := registry.PullTracker{Stats: e.meta, Now: e.svc.Now}
	w, err := pt.Pulled(e.ctx(), "dev/app", doomed)
	e.must("Pulled", err)
	if !strings.HasPrefix(w, `299 - "retention policy 'global' will delete this image at or after `+days(7).Format(time.RFC3339)) {
		t.Errorf("warning = %q", w)
	}
	if w, _ := pt.Pulled(e.ctx(), "dev/app", fine); w != "" {
		t.Errorf("a tagged image's pull warned: %q", w)
	}
	st, err := e.meta.GetImageStats(e.ctx(), "dev/app", doomed)
	e.must("stats", err)
	if st.Pulls != 1 || !st.LastPulled.Equal(e.now) {
		t.Errorf("stats = %+v", st)
	}
}

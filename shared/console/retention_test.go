package console_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/console"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// pagesEnv is the console over an embedded store holding tenancy dev
// (admin, and alice without any group), with the retention and admin
// services it calls, on a clock the test moves.
type pagesEnv struct {
	t    *testing.T
	meta *local.Metadata
	svc  *retention.Service
	h    http.Handler
	now  time.Time
}

func newPagesEnv(t *testing.T) *pagesEnv {
	t.Helper()
	meta, err := local.OpenMetadata(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	objs, err := local.OpenObjects(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &pagesEnv{t: t, meta: meta, now: t0}
	meta.SetClock(func() time.Time { return e.now })
	ctx := t.Context()
	e.must(meta.CreateTenancy(ctx, store.Tenancy{Name: "dev", Created: t0}))
	e.must(meta.PutGroup(ctx, store.Group{Tenancy: "dev", Name: auth.AdminGroup, Created: t0}))
	e.must(meta.PutUser(ctx, store.User{Tenancy: "dev", Name: "admin", Groups: []string{auth.AdminGroup}, Created: t0}))
	e.must(meta.PutUser(ctx, store.User{Tenancy: "dev", Name: "alice", Created: t0}))
	cfg := retention.DefaultConfig()
	cfg.Cooling = time.Hour
	e.svc = retention.New(retention.Stores{Meta: meta, Ret: meta, Blobs: objs, Tenancies: meta}, cfg, slog.New(slog.DiscardHandler))
	e.svc.Now = func() time.Time { return e.now }
	quiet := slog.New(slog.DiscardHandler)
	c, err := console.New(console.Config{
		IDs: meta, Tenancy: "dev", Now: func() time.Time { return e.now }, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		Admin:     admin.New(meta, meta, admin.Config{Tenancy: "dev", Now: func() time.Time { return e.now }, Stats: meta}, quiet, admin.WithContent(objs)),
		Retention: retention.NewAPI(e.svc, meta, retention.APIConfig{Tenancy: "dev"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.h = c
	return e
}

func (e *pagesEnv) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// image stores a manifest in repo, pushed at t, with tags.
func (e *pagesEnv) image(repo, name string, t time.Time, tags ...string) digest.Digest {
	e.t.Helper()
	ctx := e.t.Context()
	e.must(e.meta.EnsureRepository(ctx, repo))
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		digest.FromString(name).String() + `","size":2},"layers":[]}`)
	m := store.Manifest{Repo: repo, Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(body)), Body: body, Created: t}
	e.must(e.meta.PutManifest(ctx, m))
	for _, tag := range tags {
		e.must(e.meta.PutTag(ctx, store.Tag{Repo: repo, Name: tag, Digest: m.Digest, MediaType: m.MediaType, Size: m.Size, Updated: t}))
	}
	return m.Digest
}

// page is one console answer.
type page struct {
	status   int
	body     string
	location string
}

// as sends a request as login (<tenancy>/<user>) the way the authorizer
// lets a signed-in browser through; form, when set, is POSTed.
func (e *pagesEnv) as(login, method, target string, form url.Values) page {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	ten, user, _ := strings.Cut(login, "/")
	d := authz.Decision{Allow: true, Status: 200, Principal: auth.Principal{Tenancy: ten, User: user}, Via: "session"}
	r = r.WithContext(authz.WithAuthorizerContext(r.Context(), d.Context()))
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return page{status: w.Code, body: w.Body.String(), location: w.Header().Get("Location")}
}

func (p page) has(t *testing.T, what string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(p.body, w) {
			t.Errorf("%s: the page lacks %q (status %d)", what, w, p.status)
		}
	}
}

// The Retention page: an override made with a preview first, a run
// that deletes into the bin, and a restore from the bin, all as the
// retention API would do them; a user who is no administrator is
// refused.
func TestRetentionPages(t *testing.T) {
	e := newPagesEnv(t)
	old := e.image("dev/app", "old", t0, "v1")
	e.image("dev/app", "older", t0)
	e.image("dev/web", "web", t0, "v1")
	e.now = t0.Add(40 * 24 * time.Hour)

	p := e.as("dev/admin", "GET", "/console/retention", nil)
	if p.status != 200 {
		t.Fatalf("GET /console/retention: %d %s", p.status, p.body)
	}
	p.has(t, "retention page", `data-policy="global"`, "Keeps everything", "The recycle bin is empty.", `<option>dev/app</option>`)

	form := url.Values{"name": {"ci"}, "notPulledDays": {"30"}, "maxDeleteShare": {"100"}, "repositories": {"dev/app"}, "action": {"preview"}}
	bad := url.Values{"name": {"ci"}, "notPulledDays": {"thirty"}, "repositories": {"dev/app"}, "action": {"preview"}}
	if p := e.as("dev/admin", "POST", "/console/retention/policies", bad); p.status != 422 {
		t.Errorf("a preview with days that are no number: %d", p.status)
	} else {
		p.has(t, "bad days", `class="field-error"`, "A whole number of days", `aria-invalid="true"`)
	}
	p = e.as("dev/admin", "POST", "/console/retention/policies", form)
	if p.status != 200 {
		t.Fatalf("preview: %d %s", p.status, p.body)
	}
	p.has(t, "preview", "This change deletes 2 images now", `name="version" value="0"`, `id="policy-save"`, "repositories: none → dev/app")
	if _, err := e.meta.GetRetentionPolicy(t.Context(), "dev", "ci"); err == nil {
		t.Fatal("the preview saved the policy")
	}
	// A save without a preview only previews.
	form.Set("action", "save")
	if p := e.as("dev/admin", "POST", "/console/retention/policies", form); p.status != 200 || !strings.Contains(p.body, "This change deletes") {
		t.Errorf("a save without a previewed version: %d, want the preview", p.status)
	}
	form.Set("version", "0")
	p = e.as("dev/admin", "POST", "/console/retention/policies", form)
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "notice=saved") {
		t.Fatalf("save: %d %s", p.status, p.location)
	}
	if as, err := e.meta.GetAssignment(t.Context(), "dev", "dev/app"); err != nil || as.Policy != "ci" {
		t.Fatalf("dev/app under %+v, %v; want ci", as, err)
	}
	p = e.as("dev/admin", "GET", p.location, nil)
	p.has(t, "after saving", "Saved retention policy ci.", `data-policy="ci"`, "Cooling until")
	// Saving the same form again: the policy is at version 1 now.
	if p := e.as("dev/admin", "POST", "/console/retention/policies/ci", form); p.status != http.StatusPreconditionFailed {
		t.Errorf("a save from a stale preview: %d", p.status)
	} else {
		p.has(t, "stale save", "changed since your preview")
	}

	// After the cooling period a run deletes both dev/app images.
	e.now = e.now.Add(2 * time.Hour)
	run, err := e.svc.StartRun(t.Context(), retention.RunRequest{Tenancy: "dev", Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	p = e.as("dev/admin", "GET", "/console/retention", nil)
	p.has(t, "after the run", `data-digest="`+old.String()+`"`, "Restore", "not pulled")
	p = e.as("dev/admin", "GET", "/console/retention/runs/"+run.ID, nil)
	if p.status != 200 {
		t.Fatalf("run page: %d %s", p.status, p.body)
	}
	p.has(t, "run page", "Restore what this run deleted (2)", `data-digest="`+old.String()+`"`, "Deleted")

	p = e.as("dev/admin", "POST", "/console/retention/restore", url.Values{"repository": {"dev/app"}, "digest": {old.String()}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("restore: %d %s", p.status, p.body)
	}
	if _, err := e.meta.GetManifest(t.Context(), "dev/app", old); err != nil {
		t.Errorf("after restoring, dev/app@%s: %v", old, err)
	}
	e.as("dev/admin", "GET", p.location, nil).has(t, "after restoring", "Restored 1 image from the recycle bin.")

	// Pins.
	p = e.as("dev/admin", "POST", "/console/retention/pins", url.Values{"repository": {"dev/app"}, "digest": {old.String()}, "note": {"release"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("pin: %d %s", p.status, p.body)
	}
	e.as("dev/admin", "GET", "/console/retention", nil).has(t, "pinned", "release", "Unpin dev/app@")

	if p := e.as("dev/alice", "GET", "/console/retention", nil); p.status != http.StatusForbidden {
		t.Errorf("alice on the Retention page: %d", p.status)
	}
	if p := e.as("dev/alice", "POST", "/console/retention/restore", url.Values{"repository": {"dev/app"}, "digest": {old.String()}}); p.status != http.StatusForbidden {
		t.Errorf("alice restoring: %d", p.status)
	}
}

// TestRepositoryPageShowsExemptImages: an image carrying a tag the
// repository's policy exempts is shown as exempt, naming the tag and the
// pattern; the others as kept.
func TestRepositoryPageShowsExemptImages(t *testing.T) {
	e := newPagesEnv(t)
	e.must(e.meta.PutRetentionPolicy(t.Context(), store.RetentionPolicy{Tenancy: "dev", Name: store.GlobalPolicy,
		NotPulledDays: 30, ExemptTags: []string{"keep-*"}, Created: t0, Version: 1}))
	e.image("dev/app", "one", t0, "keep-1")
	e.image("dev/app", "two", t0, "v2")
	p := e.as("dev/admin", "GET", "/console/repositories/dev/app", nil)
	if p.status != http.StatusOK {
		t.Fatalf("repository page: %d", p.status)
	}
	if !strings.Contains(p.body, "Exempt: tag keep-1 matches keep-*") {
		t.Errorf("the image tagged keep-1 is not shown as exempt by keep-*:\n%s", p.body)
	}
	if strings.Count(p.body, ">Exempt<") != 1 {
		t.Errorf("want exactly one image shown as exempt; the page shows %d", strings.Count(p.body, ">Exempt<"))
	}
}

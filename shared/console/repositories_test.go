package console_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/console"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// newRepoEnv is pagesEnv with a reader (dev/bob, in group readers,
// which may read every repository) and a console that deletes images
// as the registry does.
func newRepoEnv(t *testing.T) *pagesEnv {
	t.Helper()
	e := newPagesEnv(t)
	ctx := t.Context()
	e.must(e.meta.PutGroup(ctx, store.Group{Tenancy: "dev", Name: "readers", Created: t0}))
	e.must(e.meta.PutUser(ctx, store.User{Tenancy: "dev", Name: "bob", Groups: []string{"readers"}, Created: t0}))
	e.must(e.meta.PutPolicy(ctx, store.Policy{Tenancy: "dev", Name: "read", Statements: []string{"allow group readers to read repos in tenancy"}, Updated: t0}))
	objs, err := local.OpenObjects(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	c, err := console.New(console.Config{
		IDs: e.meta, Tenancy: "dev", Log: quiet,
		Admin:   admin.New(e.meta, e.meta, admin.Config{Tenancy: "dev", Stats: e.meta}, quiet, admin.WithContent(objs)),
		Deleter: registry.New(e.meta, objs, registry.DefaultConfig()),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.h = c
	return e
}

// writeControls are the marks of the repository pages' controls that
// change something.
var writeControls = []string{`id="create-link"`, `id="delete-selected"`, `name="digest"`, `id="confirm"`, `value="settings"`, `id="delete-image"`}

func TestRepositoryPagesShowWhatTheUserMayDo(t *testing.T) {
	e := newRepoEnv(t)
	d := e.image("dev/app", "one", t0, "v1")
	for _, page := range []string{"/console/repositories", "/console/repositories/dev/app", "/console/images/dev/app@" + d.String()} {
		admin := e.as("dev/admin", "GET", page, nil)
		bob := e.as("dev/bob", "GET", page, nil)
		if admin.status != 200 || bob.status != 200 {
			t.Fatalf("%s: admin %d, reader %d", page, admin.status, bob.status)
		}
		admin.has(t, page+" as admin", `/console/repositories/dev/app"`)
		for _, c := range writeControls {
			if strings.Contains(bob.body, c) {
				t.Errorf("%s: the read-only user sees %s", page, c)
			}
		}
	}
	admin := e.as("dev/admin", "GET", "/console/repositories/dev/app", nil)
	admin.has(t, "the administrator's repository page", `id="delete-selected"`, `id="confirm"`, `value="settings"`)
	// alice is in no group: the tenancy lists nothing to her, and the
	// repository is refused as through the API.
	alice := e.as("dev/alice", "GET", "/console/repositories", nil)
	if alice.status != 200 || strings.Contains(alice.body, `href="/console/repositories/dev/app"`) {
		t.Errorf("alice's list: %d, lists dev/app: %v", alice.status, strings.Contains(alice.body, "dev/app"))
	}
	if p := e.as("dev/alice", "GET", "/console/repositories/dev/app", nil); p.status != http.StatusForbidden {
		t.Errorf("alice's repository page: %d, want 403", p.status)
	}
}

func TestForgedWritesAreRefused(t *testing.T) {
	e := newRepoEnv(t)
	d := e.image("dev/app", "one", t0, "v1")
	for _, tt := range []struct {
		target string
		form   url.Values
	}{
		{"/console/repositories/dev/app", url.Values{"action": {"delete"}, "confirm": {"dev/app"}}},
		{"/console/repositories/dev/app", url.Values{"action": {"delete-images"}, "digest": {d.String()}}},
		{"/console/repositories/dev/app", url.Values{"action": {"settings"}, "public": {"on"}}},
		{"/console/images/dev/app@" + d.String(), url.Values{"action": {"delete"}}},
		{"/console/repositories", url.Values{"name": {"made-by-bob"}}},
	} {
		p := e.as("dev/bob", "POST", tt.target, tt.form)
		if p.status != http.StatusForbidden {
			t.Errorf("a reader's POST %s %v: %d, want 403", tt.target, tt.form, p.status)
		}
	}
	ctx := t.Context()
	if r, err := e.meta.GetRepository(ctx, "dev/app"); err != nil || r.Public {
		t.Errorf("dev/app after the forged writes: %+v, %v", r, err)
	}
	if _, err := e.meta.GetManifest(ctx, "dev/app", d); err != nil {
		t.Errorf("the image after the forged deletes: %v", err)
	}
	if _, err := e.meta.GetRepository(ctx, "dev/made-by-bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a reader created a repository: %v", err)
	}
}

func TestCrossSiteWritesAreRefused(t *testing.T) {
	e := newRepoEnv(t)
	e.image("dev/app", "one", t0, "v1")
	form := url.Values{"action": {"delete"}, "confirm": {"dev/app"}}
	r := httptest.NewRequest("POST", "/console/repositories/dev/app", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, withSession(r, "dev/admin"))
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "another site") {
		t.Errorf("cross-site delete by an administrator's session: %d", w.Code)
	}
	if _, err := e.meta.GetRepository(t.Context(), "dev/app"); err != nil {
		t.Errorf("dev/app after a cross-site delete: %v", err)
	}
}

func TestDeletingARepositoryTakesItsNameTyped(t *testing.T) {
	e := newRepoEnv(t)
	e.image("dev/app", "one", t0, "v1")
	p := e.as("dev/admin", "POST", "/console/repositories/dev/app", url.Values{"action": {"delete"}, "confirm": {"app"}})
	if p.status != http.StatusBadRequest {
		t.Fatalf("delete with the wrong name typed: %d", p.status)
	}
	p.has(t, "a wrong confirmation", "Type dev/app exactly", `aria-invalid="true"`)
	if _, err := e.meta.GetRepository(t.Context(), "dev/app"); err != nil {
		t.Fatalf("deleted without its name typed: %v", err)
	}
	p = e.as("dev/admin", "POST", "/console/repositories/dev/app", url.Values{"action": {"delete"}, "confirm": {"dev/app"}})
	p.has(t, "after deleting", "Deleted dev/app: 1 tags, 1 images.")
	if _, err := e.meta.GetRepository(t.Context(), "dev/app"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dev/app after its deletion: %v", err)
	}
}

func TestDeletingSelectedImages(t *testing.T) {
	e := newRepoEnv(t)
	a := e.image("dev/app", "a", t0, "v1")
	b := e.image("dev/app", "b", t0.Add(1), "v2")
	keep := e.image("dev/app", "c", t0.Add(2), "v3")
	p := e.as("dev/admin", "POST", "/console/repositories/dev/app", url.Values{"action": {"delete-images"}, "digest": {a.String(), b.String()}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("delete two images: %d %s", p.status, p.body)
	}
	ctx := t.Context()
	for _, d := range []string{a.String(), b.String()} {
		if _, err := e.meta.GetManifest(ctx, "dev/app", mustDigest(t, d)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after its deletion: %v", d, err)
		}
	}
	if _, err := e.meta.GetManifest(ctx, "dev/app", keep); err != nil {
		t.Errorf("the image not selected: %v", err)
	}
	if _, err := e.meta.GetTag(ctx, "dev/app", "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the deleted image's tag: %v", err)
	}
}

func TestRepositoriesFilterAndSort(t *testing.T) {
	e := newRepoEnv(t)
	for _, name := range []string{"dev/alpha", "dev/beta", "dev/team/gamma"} {
		e.image(name, name, t0, "v1")
	}
	p := e.as("dev/admin", "GET", "/console/repositories?sort=name&dir=desc", nil)
	if i, j := strings.Index(p.body, ">team/gamma<"), strings.Index(p.body, ">alpha<"); i < 0 || j < 0 || i > j {
		t.Errorf("sorted by name descending: team/gamma at %d, alpha at %d", i, j)
	}
	p.has(t, "sorted", `aria-sort="descending"`)
	p = e.as("dev/admin", "GET", "/console/repositories?q=team", nil)
	if strings.Contains(p.body, ">alpha<") || !strings.Contains(p.body, ">team/gamma<") {
		t.Errorf("filtered by team: %s", p.body)
	}
	p = e.as("dev/admin", "GET", "/console/repositories?q=BETA%20", nil)
	p.has(t, "a filter is trimmed and lower-cased", ">beta<")
}

func TestEveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	e := newRepoEnv(t)
	for _, tt := range []struct {
		target string
		signed bool
		status int
	}{
		{"/console/repositories", true, 200},
		{"/console/repositories", false, http.StatusSeeOther},
		{"/console/nothing-here", true, 404},
		{"/console/static/console.css", false, 200},
	} {
		r := httptest.NewRequest("GET", tt.target, nil)
		if tt.signed {
			r = withSession(r, "dev/admin")
		} else {
			r = withAnonymous(r, tt.target)
		}
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("GET %s: %d, want %d", tt.target, w.Code, tt.status)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", tt.target, csp)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tt.target)
		}
	}
	r := withAnonymous(httptest.NewRequest("GET", "/console/repositories/dev/app?sort=pulls", nil), "/console/repositories/dev/app")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if loc := w.Header().Get("Location"); loc != "/console/sign-in?next=%2Fconsole%2Frepositories%2Fdev%2Fapp%3Fsort%3Dpulls" {
		t.Errorf("an anonymous page visit goes to %q, want the sign-in page with where it was going", loc)
	}
}

// withSession gives r the decision the authorizer makes for a session
// of login.
func withSession(r *http.Request, login string) *http.Request {
	ten, user, _ := strings.Cut(login, "/")
	d := authz.Decision{Allow: true, Principal: auth.Principal{Tenancy: ten, User: user}, Via: "session"}
	return r.WithContext(authz.WithAuthorizerContext(r.Context(), d.Context()))
}

// withAnonymous gives r the decision the authorizer makes without a
// session: allowed on the anonymous routes, else 401.
func withAnonymous(r *http.Request, target string) *http.Request {
	m, _ := route.Find(r.Method, target)
	d := authz.Decision{Allow: m.Route.Anonymous, Via: "none"}
	if !d.Allow {
		d.Status = http.StatusUnauthorized
	}
	return r.WithContext(authz.WithAuthorizerContext(r.Context(), d.Context()))
}

func mustDigest(t *testing.T, s string) digest.Digest {
	t.Helper()
	d, err := digest.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRepositoryRetentionOverride(t *testing.T) {
	e := newPagesEnv(t) // with the retention services
	e.image("dev/app", "one", t0, "v1")
	ctx := t.Context()
	e.must(e.meta.PutRetentionPolicy(ctx, store.RetentionPolicy{Tenancy: "dev", Name: "ci", UntaggedDays: 7, Version: 1, Changed: t0}))
	p := e.as("dev/admin", "GET", "/console/repositories/dev/app", nil)
	p.has(t, "the administrator's repository page", `id="retention-policy"`, `<option value="ci">ci</option>`)
	if p := e.as("dev/alice", "GET", "/console/repositories/dev/app", nil); strings.Contains(p.body, `id="retention-policy"`) {
		t.Error("a user who administers nothing sees the retention control")
	}
	p = e.as("dev/admin", "POST", "/console/repositories/dev/app", url.Values{"action": {"retention"}, "policy": {"ci"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("assign ci: %d %s", p.status, p.body)
	}
	if as, err := e.meta.GetAssignment(ctx, "dev", "dev/app"); err != nil || as.Policy != "ci" {
		t.Fatalf("dev/app under %+v, %v; want ci", as, err)
	}
	e.as("dev/admin", "GET", "/console/repositories", nil).has(t, "the list", `>ci</a>`)
	if p := e.as("dev/alice", "POST", "/console/repositories/dev/app", url.Values{"action": {"retention"}, "policy": {"global"}}); p.status != http.StatusForbidden {
		t.Errorf("a forged unassign: %d, want 403", p.status)
	}
	p = e.as("dev/admin", "POST", "/console/repositories/dev/app", url.Values{"action": {"retention"}, "policy": {"global"}})
	if _, err := e.meta.GetAssignment(ctx, "dev", "dev/app"); p.status != http.StatusSeeOther || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("back to global: %d, assignment %v", p.status, err)
	}
}

func TestOperatorsSwitchTenancy(t *testing.T) {
	e := newRepoEnv(t)
	ctx := t.Context()
	e.must(e.meta.CreateTenancy(ctx, store.Tenancy{Name: "other", Created: t0}))
	e.image("other/secret", "s", t0, "v1")
	e.image("dev/app", "a", t0, "v1")
	p := e.as("dev/admin", "GET", "/console/repositories?tenancy=other", nil)
	p.has(t, "an operator in tenancy other", `/console/repositories/other/secret?tenancy=other"`, `<option value="other" selected>`)
	if strings.Contains(p.body, `/console/repositories/dev/app"`) {
		t.Error("tenancy other's list shows dev/app")
	}
	if p := e.as("dev/bob", "GET", "/console/repositories?tenancy=other", nil); p.status != http.StatusForbidden {
		t.Errorf("a user of dev asking for tenancy other: %d, want 403", p.status)
	}
	if p := e.as("dev/bob", "GET", "/console/repositories", nil); strings.Contains(p.body, `id="tenancy-switch"`) {
		t.Error("a user who operates nothing has the tenancy switch")
	}
}

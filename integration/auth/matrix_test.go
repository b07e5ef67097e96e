package auth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// world is the content every matrix case starts from.
type world struct {
	r    *registry
	team image // dev/team-a/app:v1
	app  image // dev/app:v1
}

func newWorld(t *testing.T, backend string) *world {
	r := start(t, backend)
	w := &world{r: r, team: newImage("team"), app: newImage("app")}
	adm := r.admin()
	adm.pushImage("dev/app", "v1", w.app)
	adm.pushImage("dev/team-a/app", "v1", w.team)
	r.setRepository("dev/pub", func(rec *store.Repository) { rec.Public = true })
	adm.pushImage("dev/pub", "v1", newImage("pub"))
	client{r, r.as("other/root"), basicMode}.pushImage("other/secret", "v1", newImage("secret"))
	return w
}

// outcome is what a principal should meet doing an action.
type outcome byte

const (
	ok      outcome = 'O' // the action's success statuses
	fresh   outcome = 'F' // a mount answered by a fresh upload (202), not 201
	deny    outcome = 'D' // authorizer: 403 DENIED with Basic; 401 + challenge with a token
	refused outcome = 'R' // registry: 403 DENIED either way (creating needs manage)
	unauth  outcome = 'U' // 401 + challenge either way
	anonOK  outcome = 'P' // 401 + challenge with nothing; 200 with docker's anonymous token
)

// matrixAction is one thing a principal tries. run does it and returns
// the response that decides it (checking follow-up steps itself when
// that response is a success).
type matrixAction struct {
	name  string
	scope func(id string) string // what a refusal challenges for
	want  int                    // the deciding status on success
	run   func(t *testing.T, w *world, c client, id string) *response
}

func fixedScope(s string) func(string) string { return func(string) string { return s } }

const (
	teamRepo  = "dev/team-a/app"
	teamPush  = "repository:dev/team-a/app:pull,push"
	teamPull  = "repository:dev/team-a/app:pull"
	teamDel   = "repository:dev/team-a/app:delete"
	appPull   = "repository:dev/app:pull"
	uploadCT  = "application/octet-stream"
	newPrefix = "dev/new-"
)

var matrixActions = []matrixAction{
	{"ping", fixedScope(""), 200, func(t *testing.T, w *world, c client, _ string) *response {
		return c.do("GET", "/v2/", nil, nil)
	}},
	{"catalog", fixedScope("registry:catalog:*"), 200, func(t *testing.T, w *world, c client, _ string) *response {
		return c.do("GET", "/v2/_catalog", nil, nil)
	}},
	{"pull", fixedScope(teamPull), 200, func(t *testing.T, w *world, c client, _ string) *response {
		res := c.do("GET", "/v2/"+teamRepo+"/manifests/v1", nil, http.Header{"Accept": {manifestType}})
		if res.Status == 200 {
			if string(res.Body) != string(w.team.manifest) {
				t.Errorf("pulled manifest %q, want the pushed one", res.Body)
			}
			if h := c.do("HEAD", "/v2/"+teamRepo+"/blobs/"+w.team.layerD.String(), nil, nil); h.Status != 200 {
				t.Errorf("HEAD layer: %v", h)
			}
			if g := c.do("GET", "/v2/"+teamRepo+"/blobs/"+w.team.layerD.String(), nil, nil); g.Status != http.StatusTemporaryRedirect || g.Header.Get("Location") == "" {
				t.Errorf("GET layer: %v, want 307 to a signed URL", g)
			}
		}
		return res
	}},
	{"pull-other-repo", fixedScope(appPull), 200, func(t *testing.T, w *world, c client, _ string) *response {
		return c.do("GET", "/v2/dev/app/manifests/v1", nil, http.Header{"Accept": {manifestType}})
	}},
	{"push", fixedScope(teamPush), 202, func(t *testing.T, w *world, c client, id string) *response {
		res := c.do("POST", "/v2/"+teamRepo+"/blobs/uploads/", nil, nil)
		if res.Status == 202 {
			layer := []byte("pushed by " + id)
			d := digest.FromBytes(layer)
			put := c.do("PUT", withQuery(res.Header.Get("Location"), "digest", d.String()), layer, http.Header{"Content-Type": {uploadCT}})
			if put.Status != 201 {
				t.Errorf("PUT upload: %v", put)
			}
			m := manifestFor(w.team.configD, len(w.team.config), d, len(layer), id)
			if mr := c.putManifest(teamRepo, "p-"+id, m); mr.Status != 201 {
				t.Errorf("PUT manifest: %v", mr)
			}
		}
		return res
	}},
	{"push-new-repo", func(id string) string { return "repository:" + newPrefix + id + ":pull,push" }, 202,
		func(t *testing.T, w *world, c client, id string) *response { return createRepo(t, w, c, newPrefix+id) }},
	{"push-new-team-repo", func(id string) string { return "repository:dev/team-" + id + ":pull,push" }, 202,
		func(t *testing.T, w *world, c client, id string) *response {
			return createRepo(t, w, c, "dev/team-"+id)
		}},
	{"delete-manifest", fixedScope(teamDel), 202, func(t *testing.T, w *world, c client, id string) *response {
		m := manifestFor(w.team.configD, len(w.team.config), w.team.layerD, len(w.team.layer), "delete "+id)
		if res := w.r.admin().putManifest(teamRepo, "d-"+id, m); res.Status != 201 {
			t.Fatalf("setup: %v", res)
		}
		d := digest.FromBytes(m)
		res := c.do("DELETE", "/v2/"+teamRepo+"/manifests/"+d.String(), nil, nil)
		after := w.r.admin().do("GET", "/v2/"+teamRepo+"/manifests/"+d.String(), nil, nil).Status
		if (res.Status == 202) != (after == 404) {
			t.Errorf("DELETE answered %d, and the manifest then answers %d", res.Status, after)
		}
		return res
	}},
	{"delete-tag", fixedScope(teamDel), 202, func(t *testing.T, w *world, c client, id string) *response {
		if res := w.r.admin().putManifest(teamRepo, "t-"+id, w.team.manifest); res.Status != 201 {
			t.Fatalf("setup: %v", res)
		}
		res := c.do("DELETE", "/v2/"+teamRepo+"/manifests/t-"+id, nil, nil)
		after := w.r.admin().do("GET", "/v2/"+teamRepo+"/manifests/t-"+id, nil, nil).Status
		if (res.Status == 202) != (after == 404) {
			t.Errorf("DELETE answered %d, and the tag then answers %d", res.Status, after)
		}
		return res
	}},
	{"mount", fixedScope(teamPush), 201, func(t *testing.T, w *world, c client, id string) *response {
		d := w.r.admin().pushBlob("dev/app", []byte("only in dev/app: "+id))
		res := c.do("POST", "/v2/"+teamRepo+"/blobs/uploads/?mount="+d.String()+"&from=dev/app", nil, nil, appPull)
		linked := w.r.admin().do("HEAD", "/v2/"+teamRepo+"/blobs/"+d.String(), nil, nil).Status
		if (res.Status == 201) != (linked == 200) {
			t.Errorf("mount answered %d, and the blob in %s then answers %d", res.Status, teamRepo, linked)
		}
		if res.Status == 202 && !strings.Contains(res.Header.Get("Location"), "/blobs/uploads/") {
			t.Errorf("202 without an upload Location: %v", res.Header)
		}
		return res
	}},
}

// createRepo starts a push to a repository that does not exist; the
// repository must exist afterwards exactly when the push was accepted.
func createRepo(t *testing.T, w *world, c client, name string) *response {
	t.Helper()
	res := c.do("POST", "/v2/"+name+"/blobs/uploads/", nil, nil)
	_, err := w.r.local.Stores.Meta.GetRepository(t.Context(), name)
	if (res.Status == 202) != (err == nil) {
		t.Errorf("POST to new %s answered %d; repository lookup afterwards: %v", name, res.Status, err)
	}
	return res
}

func withQuery(loc, k, v string) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + url.QueryEscape(k) + "=" + url.QueryEscape(v)
}

// matrixPrincipals: who, their expected outcomes in matrixActions order,
// and what their catalog may list.
var matrixPrincipals = []struct {
	name, login string
	outcomes    string
	visible     func(repo string) bool
	mustSee     []string
}{
	{"admin", "dev/admin", "OOOOOOOOOO", inDev, []string{"dev/app", teamRepo, "dev/pub"}},
	{"manager", "dev/manager", "OOOOOOOOOO", inDev, []string{"dev/app", teamRepo, "dev/pub"}},
	{"user", "dev/user", "OOOOORRDDO", inDev, []string{"dev/app", teamRepo, "dev/pub"}},
	{"reader", "dev/reader", "OOOODDDDDD", inDev, []string{"dev/app", teamRepo, "dev/pub"}},
	{"viewer", "dev/viewer", "OODDDDDDDD", inDev, []string{"dev/app", teamRepo, "dev/pub"}},
	{"team", "dev/team", "OOODODRDDF", func(n string) bool { return strings.HasPrefix(n, "dev/team-") || n == "dev/pub" }, []string{teamRepo, "dev/pub"}},
	{"nobody", "dev/nobody", "OODDDDDDDD", func(n string) bool { return n == "dev/pub" }, []string{"dev/pub"}},
	{"other-tenancy", "other/root", "OODDDDDDDD", func(n string) bool { return strings.HasPrefix(n, "other/") }, []string{"other/secret"}},
	{"anonymous", "", "PUUUUUUUUU", nil, nil},
}

func inDev(n string) bool { return strings.HasPrefix(n, "dev/") }

// TestPolicyMatrix runs every principal × action with Basic credentials
// and through docker's token flow, checking the exact answer.
func TestPolicyMatrix(t *testing.T) { onBackends(t, policyMatrix) }

func policyMatrix(t *testing.T, backend string) {
	w := newWorld(t, backend)
	for _, p := range matrixPrincipals {
		if len(p.outcomes) != len(matrixActions) {
			t.Fatalf("%s: %d outcomes for %d actions", p.name, len(p.outcomes), len(matrixActions))
		}
		for _, m := range []mode{basicMode, bearerMode} {
			for i, a := range matrixActions {
				want := outcome(p.outcomes[i])
				t.Run(p.name+"/"+string(m)+"/"+a.name, func(t *testing.T) {
					id := p.name + "-" + string(m)
					c := client{w.r, w.r.as(p.login), m}
					res := a.run(t, w, c, id)
					if msg := w.r.judge(res, want, m, a.want, a.scope(id)); msg != "" {
						t.Fatalf("%s as %s (%s): %s", a.name, p.name, m, msg)
					}
					if a.name == "catalog" && res.Status == 200 {
						checkCatalog(t, res, p.visible, p.mustSee)
					}
				})
			}
		}
	}
}

// judge reports what is wrong with res for the wanted outcome, or "".
func (r *registry) judge(res *response, want outcome, m mode, okStatus int, scope string) string {
	switch {
	case want == ok, want == anonOK && m == bearerMode:
		if res.Status != okStatus {
			return "want " + http.StatusText(okStatus) + ", got " + res.String()
		}
	case want == fresh:
		if res.Status != http.StatusAccepted {
			return "want 202 (a fresh upload, not a mount), got " + res.String()
		}
	case want == anonOK:
		return r.checkChallenge(res, "")
	case want == unauth, want == deny && m == bearerMode:
		return r.checkChallenge(res, scope)
	case want == deny, want == refused:
		return checkDenied(res)
	}
	return ""
}

func checkCatalog(t *testing.T, res *response, visible func(string) bool, mustSee []string) {
	t.Helper()
	var body struct{ Repositories []string }
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatalf("catalog %s: %v", res.Body, err)
	}
	for _, n := range body.Repositories {
		if !visible(n) {
			t.Errorf("catalog lists %s, which this principal may not see (%v)", n, body.Repositories)
		}
	}
	for _, n := range mustSee {
		if !slices.Contains(body.Repositories, n) {
			t.Errorf("catalog %v lacks %s", body.Repositories, n)
		}
	}
}

package authz

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/route"
)

// request is what the gateway hands the authorizer for method and target.
func request(t *testing.T, method, target, authorization string) Request {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := route.Find(method, u.Path)
	if !ok {
		t.Fatalf("no route for %s %s", method, u.Path)
	}
	return Request{Method: method, Path: u.Path, Query: u.Query(), Authorization: authorization, Match: m}
}

// as is the Basic header of a fixture login ("" for anonymous).
func as(login string) string {
	if login == "" {
		return ""
	}
	return basic(login, fixtureSecret(login))
}

const someDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

// outcome is what a decision must say.
type outcome struct {
	allow  bool
	status int
	scope  string
}

var (
	allowed = outcome{allow: true}
	// 401 and 403 carry the scope the route needs.
	unauth    = func(scope string) outcome { return outcome{status: http.StatusUnauthorized, scope: scope} }
	forbidden = func(scope string) outcome { return outcome{status: http.StatusForbidden, scope: scope} }
)

func TestDecideEachRouteAction(t *testing.T) {
	f := newFixture(t)
	const (
		pull     = "repository:dev/app:pull"
		push     = "repository:dev/app:pull,push"
		del      = "repository:dev/app:delete"
		catalog  = "registry:catalog:*"
		manifest = "/v2/dev/app/manifests/v1"
		blob     = "/v2/dev/app/blobs/" + someDigest
		uploads  = "/v2/dev/app/blobs/uploads/"
		upload   = "/v2/dev/app/blobs/uploads/some-id"
	)
	bearer := func(subject string, access ...auth.Access) string { return f.bearer(t, subject, access...) }
	tests := []struct {
		name          string
		method, path  string
		authorization string
		want          outcome
	}{
		// GET /v2/: docker login's probe needs the challenge.
		{"ping, anonymous → challenge", "GET", "/v2/", "", unauth("")},
		{"ping HEAD, anonymous → challenge", "HEAD", "/v2/", "", unauth("")},
		{"ping, any user", "GET", "/v2/", as("dev/nobody"), allowed},
		{"ping, anonymous registry token (docker's anonymous flow)", "GET", "/v2/", bearer(""), allowed},
		{"ping, bad credentials → challenge", "GET", "/v2/", basic("dev/nobody", "nope"), unauth("")},
		{"unmatched /v2 path, anonymous", "GET", "/v2/a/b/c/d/e/f/g/h/i/manifests/x", "", unauth("")},

		// Catalog.
		{"catalog, anonymous", "GET", "/v2/_catalog", "", unauth(catalog)},
		{"catalog, a user (the listing filters by policy)", "GET", "/v2/_catalog", as("dev/nobody"), allowed},
		{"catalog, token granting it", "GET", "/v2/_catalog", bearer("dev/viewer", auth.Access{Type: "registry", Name: "catalog", Actions: []string{"*"}}), allowed},
		{"catalog, token without it", "GET", "/v2/_catalog", bearer("dev/viewer", repoAccess("dev/app", "pull")), unauth(catalog)},
		{"catalog, anonymous token even if it claims it", "GET", "/v2/_catalog", bearer("", auth.Access{Type: "registry", Name: "catalog", Actions: []string{"*"}}), unauth(catalog)},

		// Pull: manifests, blobs, tags, referrers.
		{"pull manifest, reader", "GET", manifest, as("dev/reader"), allowed},
		{"HEAD manifest, reader", "HEAD", manifest, as("dev/reader"), allowed},
		{"pull blob, reader", "GET", blob, as("dev/reader"), allowed},
		{"tags list, reader", "GET", "/v2/dev/app/tags/list", as("dev/reader"), allowed},
		{"referrers, reader", "GET", "/v2/dev/app/referrers/" + someDigest, as("dev/reader"), allowed},
		{"pull, inspect is not enough", "GET", manifest, as("dev/viewer"), forbidden(pull)},
		{"pull, no groups", "GET", manifest, as("dev/nobody"), forbidden(pull)},
		{"pull, anonymous", "GET", manifest, "", unauth(pull)},
		{"pull, another tenancy's admin", "GET", manifest, as("other/root"), forbidden(pull)},
		{"pull, glob grant elsewhere", "GET", manifest, as("dev/team"), forbidden(pull)},
		{"pull, glob grant matches", "GET", "/v2/dev/team-a/app/manifests/v1", as("dev/team"), allowed},
		{"pull, token for it", "GET", manifest, bearer("dev/reader", repoAccess("dev/app", "pull")), allowed},
		{"pull, token for another repository", "GET", manifest, bearer("dev/admin", repoAccess("dev/pub", "pull", "push", "delete")), unauth(pull)},
		{"pull, token of an admin without scopes", "GET", manifest, bearer("dev/admin"), unauth(pull)},
		{"pull public, anonymous", "GET", "/v2/dev/pub/manifests/v1", "", allowed},
		{"HEAD blob public, anonymous", "HEAD", "/v2/dev/pub/blobs/" + someDigest, "", allowed},
		{"tags list public, anonymous", "GET", "/v2/dev/pub/tags/list", "", allowed},
		{"pull public, another tenancy", "GET", "/v2/dev/pub/manifests/v1", as("other/root"), allowed},
		{"pull another tenancy's repository, admin", "GET", "/v2/other/secret/manifests/v1", as("dev/admin"), forbidden("repository:other/secret:pull")},

		// Push: uploads and manifest PUT.
		{"start upload, pusher", "POST", uploads, as("dev/pusher"), allowed},
		{"start upload, reader", "POST", uploads, as("dev/reader"), forbidden(push)},
		{"PATCH upload, reader", "PATCH", upload, as("dev/reader"), forbidden(push)},
		{"upload status belongs to the pusher", "GET", upload, as("dev/reader"), forbidden(push)},
		{"cancel upload is a push", "DELETE", upload, as("dev/pusher"), allowed},
		{"cancel upload, reader", "DELETE", upload, as("dev/reader"), forbidden(push)},
		{"PUT manifest, pusher", "PUT", manifest, as("dev/pusher"), allowed},
		{"PUT manifest, anonymous", "PUT", manifest, "", unauth(push)},
		{"push public, anonymous", "POST", "/v2/dev/pub/blobs/uploads/", "", unauth("repository:dev/pub:pull,push")},
		{"push public, another tenancy", "POST", "/v2/dev/pub/blobs/uploads/", as("other/root"), forbidden("repository:dev/pub:pull,push")},
		{"push, token with pull only", "PUT", manifest, bearer("dev/pusher", repoAccess("dev/app", "pull")), unauth(push)},
		{"push, token with push", "PUT", manifest, bearer("dev/pusher", repoAccess("dev/app", "pull", "push")), allowed},
		{"push to a new name the glob covers (creation is the registry's call)", "POST", "/v2/dev/team-new/blobs/uploads/", as("dev/team"), allowed},
		{"push to a new name outside the glob", "POST", "/v2/dev/new/blobs/uploads/", as("dev/team"), forbidden("repository:dev/new:pull,push")},

		// Delete: manifests, tags, blobs.
		{"delete manifest, manager", "DELETE", "/v2/dev/app/manifests/" + someDigest, as("dev/manager"), allowed},
		{"delete tag, admin", "DELETE", manifest, as("dev/admin"), allowed},
		{"delete manifest, pusher", "DELETE", manifest, as("dev/pusher"), forbidden(del)},
		{"delete blob, manager", "DELETE", blob, as("dev/manager"), allowed},
		{"delete blob, reader", "DELETE", blob, as("dev/reader"), forbidden(del)},
		{"delete, anonymous on a public repository", "DELETE", "/v2/dev/pub/manifests/v1", "", unauth("repository:dev/pub:delete")},
		{"delete, another tenancy's admin", "DELETE", manifest, as("other/root"), forbidden(del)},
		{"delete, token with delete", "DELETE", manifest, bearer("dev/manager", repoAccess("dev/app", "delete")), allowed},
		{"delete, token with *", "DELETE", manifest, bearer("dev/manager", repoAccess("dev/app", "*")), allowed},
		{"delete, token with pull and push", "DELETE", manifest, bearer("dev/manager", repoAccess("dev/app", "pull", "push")), unauth(del)},

		// Names that are not names: the function answers NAME_INVALID.
		{"upper-case name, user", "GET", "/v2/dev/App/manifests/v1", as("dev/nobody"), allowed},
		// An invalid name never reaches the challenge: it could carry quotes.
		{"upper-case name, anonymous", "GET", "/v2/dev/App/manifests/v1", "", unauth("")},
		{"dot-dot name, anonymous", "GET", "/v2/dev/../other/secret/manifests/v1", "", unauth("")},

		// Admin API.
		{"admin API, anonymous", "GET", "/api/users", "", unauth("")},
		{"admin API, a user (the API checks its own rules)", "GET", "/api/users", as("dev/nobody"), allowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := f.a.Decide(context.Background(), request(t, tc.method, tc.path, tc.authorization))
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if d.Allow != tc.want.allow || (!d.Allow && (d.Status != tc.want.status || d.Scope != tc.want.scope)) {
				t.Errorf("decision allow=%v status=%d scope=%q (%s); want allow=%v status=%d scope=%q",
					d.Allow, d.Status, d.Scope, d.Message, tc.want.allow, tc.want.status, tc.want.scope)
			}
			if !d.Allow && d.Message == "" {
				t.Error("a refusal without a message")
			}
			if !d.Allow && !d.Principal.Anonymous() {
				t.Errorf("a refusal carries principal %v", d.Principal)
			}
		})
	}
}

func TestDecideCarriesThePrincipal(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d, err := f.a.Decide(ctx, request(t, "GET", "/v2/dev/app/manifests/v1", as("dev/reader")))
	if err != nil || !d.Allow || d.Principal.String() != "dev/reader" || d.Via != "basic" || d.Scope != "repository:dev/app:pull" {
		t.Errorf("Basic: %+v, %v", d, err)
	}
	d, err = f.a.Decide(ctx, request(t, "GET", "/v2/dev/app/manifests/v1", f.bearer(t, "dev/reader", repoAccess("dev/app", "pull"))))
	if err != nil || !d.Allow || d.Principal.String() != "dev/reader" || d.Via != "bearer" {
		t.Errorf("Bearer: %+v, %v", d, err)
	}
	d, err = f.a.Decide(ctx, request(t, "GET", "/v2/dev/pub/manifests/v1", ""))
	if err != nil || !d.Allow || !d.Principal.Anonymous() || d.Via != "none" {
		t.Errorf("anonymous: %+v, %v", d, err)
	}
}

func TestDecideMountFrom(t *testing.T) {
	f := newFixture(t)
	mount := func(from string) string {
		return "/v2/dev/team-a/app/blobs/uploads/?mount=" + someDigest + "&from=" + url.QueryEscape(from)
	}
	onlyTarget := repoAccess("dev/team-a/app", "pull", "push")
	tests := []struct {
		name          string
		target        string
		authorization string
		wantMount     bool
	}{
		{"source the pusher may pull", mount("dev/app"), as("dev/pusher"), true},
		{"source the pusher may not pull", mount("dev/app"), as("dev/team"), false},
		{"public source", mount("dev/pub"), as("dev/team"), true},
		{"another tenancy's source, even for an admin", mount("other/secret"), as("dev/admin"), false},
		{"source that does not exist but policy covers", mount("dev/nothing"), as("dev/pusher"), true},
		{"invalid source name", mount("dev/../other/secret"), as("dev/admin"), false},
		{"from without mount", "/v2/dev/team-a/app/blobs/uploads/?from=dev/app", as("dev/admin"), false},
		{"token without the source's scope: policy decides (allowed)", mount("dev/app"), f.bearer(t, "dev/pusher", onlyTarget), true},
		{"token without the source's scope: policy decides (refused)", mount("dev/app"), f.bearer(t, "dev/team", onlyTarget), false},
		{"token with the source's scope", mount("dev/app"), f.bearer(t, "dev/team", onlyTarget, repoAccess("dev/app", "pull")), true},
		{"token of a deleted-then-unknown user", mount("dev/app"), f.bearer(t, "dev/ghost", onlyTarget), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := f.a.Decide(context.Background(), request(t, "POST", tc.target, tc.authorization))
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if !d.Allow {
				t.Fatalf("the push itself was refused: %+v", d)
			}
			if d.MountFrom != tc.wantMount {
				t.Errorf("MountFrom = %v, want %v", d.MountFrom, tc.wantMount)
			}
		})
	}
}

// TestDecideFailsWhenStorageFails: with storage down Decide errs rather
// than deciding (the authorizer's adapter answers the error with
// Unavailable, shared/lambdahttp), and Unavailable is what the
// enforcement point answers 503 UNAVAILABLE with Retry-After.
func TestDecideFailsWhenStorageFails(t *testing.T) {
	f := newFixture(t)
	if err := f.meta.Close(); err != nil {
		t.Fatal(err)
	}
	if d, err := f.a.Decide(context.Background(), request(t, "GET", "/v2/", as("dev/reader"))); err == nil {
		t.Fatalf("with storage down Decide gave %+v and no error", d)
	}
	d, ok := FromContext(roundTrip(t, Unavailable().Context()))
	if !ok || d.Allow || d.Status != http.StatusServiceUnavailable {
		t.Fatalf("Unavailable() = %+v, want a refusal with status 503", d)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v2/", nil)
	req = req.WithContext(WithAuthorizerContext(req.Context(), Unavailable().Context()))
	Enforce(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the function ran") }), "berth").ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"UNAVAILABLE"`) || rec.Header().Get("Retry-After") == "" {
		t.Errorf("enforced: %d %s %v, want 503 UNAVAILABLE with Retry-After", rec.Code, rec.Body, rec.Header())
	}
}

// roundTrip is an authorizer context as the function receives it: it
// crosses API Gateway as JSON.
func roundTrip(t *testing.T, c map[string]any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(c)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

package route_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/route"
)

// apiGatewayRouteQuota is API Gateway's default quota of routes per HTTP
// API (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html).
const apiGatewayRouteQuota = 300

// shapes is the API the table must offer at every name depth, written out
// here independently of the table's own definition.
var shapes = []struct {
	method, suffix, function, action string
}{
	{"GET", "/manifests/{ref}", route.Manifests, route.ActionPull},
	{"HEAD", "/manifests/{ref}", route.Manifests, route.ActionPull},
	{"PUT", "/manifests/{ref}", route.Manifests, route.ActionPush},
	{"DELETE", "/manifests/{ref}", route.Manifests, route.ActionDelete},
	{"GET", "/blobs/{digest}", route.Blobs, route.ActionPull},
	{"HEAD", "/blobs/{digest}", route.Blobs, route.ActionPull},
	{"DELETE", "/blobs/{digest}", route.Blobs, route.ActionDelete},
	{"POST", "/blobs/uploads", route.Uploads, route.ActionPush},
	{"GET", "/blobs/uploads/{id}", route.Uploads, route.ActionPush},
	{"PATCH", "/blobs/uploads/{id}", route.Uploads, route.ActionPush},
	{"PUT", "/blobs/uploads/{id}", route.Uploads, route.ActionPush},
	{"DELETE", "/blobs/uploads/{id}", route.Uploads, route.ActionPush},
	{"GET", "/tags/list", route.Tags, route.ActionPull},
	{"GET", "/referrers/{digest}", route.Referrers, route.ActionPull},
}

func namePrefix(depth int) string {
	vars := make([]string, depth)
	for i := range vars {
		vars[i] = fmt.Sprintf("{n%d}", i+1)
	}
	return "/v2/" + strings.Join(vars, "/")
}

func TestTableRouteKeysAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range route.Table() {
		if seen[r.Key()] {
			t.Errorf("route key %q appears twice", r.Key())
		}
		seen[r.Key()] = true
	}
}

func TestTableFitsAPIGatewayRouteQuota(t *testing.T) {
	if n := len(route.Table()); n >= apiGatewayRouteQuota {
		t.Fatalf("table has %d routes; API Gateway allows %d per API by default", n, apiGatewayRouteQuota)
	}
}

func TestTableHasEveryShapeAtEveryDepth(t *testing.T) {
	byKey := map[string]route.Route{}
	for _, r := range route.Table() {
		byKey[r.Key()] = r
	}
	for depth := 1; depth <= route.MaxDepth; depth++ {
		for _, s := range shapes {
			key := s.method + " " + namePrefix(depth) + s.suffix
			r, ok := byKey[key]
			if !ok {
				t.Errorf("missing route %q", key)
				continue
			}
			if r.Function != s.function || r.Depth != depth || r.Action != s.action {
				t.Errorf("%q: function %q depth %d action %q, want %q depth %d action %q",
					key, r.Function, r.Depth, r.Action, s.function, depth, s.action)
			}
		}
	}
	if _, ok := byKey["GET "+namePrefix(route.MaxDepth+1)+"/manifests/{ref}"]; ok {
		t.Errorf("table goes deeper than MaxDepth=%d", route.MaxDepth)
	}
}

func TestTableFixedRoutes(t *testing.T) {
	want := map[string]string{
		"GET /v2":                      route.Base,
		"HEAD /v2":                     route.Base,
		"GET /v2/_catalog":             route.Catalog + " " + route.ActionCatalog,
		"ANY /v2/{proxy+}":             route.Base,
		"GET /token":                   route.Token,
		"POST /token":                  route.Token,
		"ANY /api/{proxy+}":            route.Admin,
		"ANY /console":                 route.Console,
		"ANY /console/{proxy+}":        route.Console,
		"GET /console/sign-in":         route.Console,
		"POST /console/sign-in":        route.Token,
		"GET /console/static/{proxy+}": route.Console,
	}
	got := map[string]string{}
	for _, r := range route.Table() {
		if r.Depth == 0 {
			got[r.Key()] = strings.TrimSpace(r.Function + " " + r.Action)
		}
	}
	for k, f := range want {
		if got[k] != f {
			t.Errorf("%q serves %q, want %q", k, got[k], f)
		}
	}
	if len(got) != len(want) {
		t.Errorf("routes without a name: %v, want %v", got, want)
	}
}

func TestTableRoutesAreValidAPIGatewayKeys(t *testing.T) {
	for _, r := range route.Table() {
		if !strings.HasPrefix(r.Path, "/") || strings.HasSuffix(r.Path, "/") {
			t.Errorf("%q: a route path starts with / and cannot end in /", r.Key())
		}
		if i := strings.Index(r.Path, "+}"); i >= 0 && i != len(r.Path)-2 {
			t.Errorf("%q: a greedy variable must be last", r.Key())
		}
	}
}

func TestOnlyTokenSkipsTheAuthorizer(t *testing.T) {
	for _, r := range route.Table() {
		if r.NoAuth != (r.Function == route.Token) {
			t.Errorf("%q → %s: NoAuth = %v; only the token function (/token, signing in) runs without the authorizer", r.Key(), r.Function, r.NoAuth)
		}
		if r.Anonymous && (r.Function != route.Console || r.Method != "GET") {
			t.Errorf("%q → %s: only GETs of console pages may be Anonymous", r.Key(), r.Function)
		}
	}
}

func TestFunctionsListsEveryFunctionInTheTable(t *testing.T) {
	listed := map[string]bool{}
	for _, f := range route.Functions {
		listed[f] = true
	}
	used := map[string]bool{}
	for _, r := range route.Table() {
		used[r.Function] = true
		if !listed[r.Function] {
			t.Errorf("%q routes to %q, which route.Functions does not list", r.Key(), r.Function)
		}
	}
	for f := range listed {
		if !used[f] {
			t.Errorf("function %q has no route", f)
		}
	}
}

// deepName is a repository name of n components.
func deepName(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("c%d", i+1)
	}
	return strings.Join(parts, "/")
}

func TestFind(t *testing.T) {
	maxName := deepName(route.MaxDepth)
	tooDeep := deepName(route.MaxDepth + 1)
	tests := []struct {
		name, method, path string
		key, function      string
		repo               string
		params             map[string]string
	}{
		{"GET /v2/ matches GET /v2", "GET", "/v2/", "GET /v2", route.Base, "", nil},
		{"GET /v2 matches GET /v2", "GET", "/v2", "GET /v2", route.Base, "", nil},
		{"HEAD /v2/ matches HEAD /v2", "HEAD", "/v2/", "HEAD /v2", route.Base, "", nil},
		{"catalog", "GET", "/v2/_catalog", "GET /v2/_catalog", route.Catalog, "", nil},
		{"token", "GET", "/token", "GET /token", route.Token, "", nil},
		{"console root", "GET", "/console", "ANY /console", route.Console, "", nil},
		{"console root with a slash", "GET", "/console/", "ANY /console", route.Console, "", nil},
		{"console page", "GET", "/console/repositories/dev/app", "ANY /console/{proxy+}", route.Console, "",
			map[string]string{"proxy": "repositories/dev/app"}},
		{"console sign-in page", "GET", "/console/sign-in", "GET /console/sign-in", route.Console, "", nil},
		{"console sign-in goes to the token function", "POST", "/console/sign-in", "POST /console/sign-in", route.Token, "", nil},
		{"console static asset", "GET", "/console/static/htmx.min.js", "GET /console/static/{proxy+}", route.Console, "",
			map[string]string{"proxy": "htmx.min.js"}},
		{"a POST under static is a page route", "POST", "/console/static/x", "ANY /console/{proxy+}", route.Console, "",
			map[string]string{"proxy": "static/x"}},
		{"admin API", "DELETE", "/api/repositories/library%2Fhello", "ANY /api/{proxy+}", route.Admin, "",
			map[string]string{"proxy": "repositories/library/hello"}},
		{"blob GET at depth 2", "GET", "/v2/a/blobs/b", "GET /v2/{n1}/blobs/{digest}", route.Blobs, "a",
			map[string]string{"digest": "b"}},
		{"manifest GET", "GET", "/v2/x/manifests/y", "GET /v2/{n1}/manifests/{ref}", route.Manifests, "x",
			map[string]string{"ref": "y"}},
		{"HEAD manifest matches the explicit HEAD route", "HEAD", "/v2/x/manifests/y", "HEAD /v2/{n1}/manifests/{ref}", route.Manifests, "x",
			map[string]string{"ref": "y"}},
		{"name a/blobs/b: blob GET", "GET", "/v2/a/blobs/b/blobs/sha256:abc", "GET /v2/{n1}/{n2}/{n3}/blobs/{digest}", route.Blobs, "a/blobs/b",
			map[string]string{"digest": "sha256:abc"}},
		{"name a/blobs/b: manifest GET", "GET", "/v2/a/blobs/b/manifests/v1", "GET /v2/{n1}/{n2}/{n3}/manifests/{ref}", route.Manifests, "a/blobs/b",
			map[string]string{"ref": "v1"}},
		{"name x/manifests/y: manifest HEAD", "HEAD", "/v2/x/manifests/y/manifests/latest", "HEAD /v2/{n1}/{n2}/{n3}/manifests/{ref}", route.Manifests, "x/manifests/y",
			map[string]string{"ref": "latest"}},
		{"name x/manifests/y: blob DELETE", "DELETE", "/v2/x/manifests/y/blobs/sha256:abc", "DELETE /v2/{n1}/{n2}/{n3}/blobs/{digest}", route.Blobs, "x/manifests/y",
			map[string]string{"digest": "sha256:abc"}},
		{"name t/tags/list/z: tags list", "GET", "/v2/t/tags/list/z/tags/list", "GET /v2/{n1}/{n2}/{n3}/{n4}/tags/list", route.Tags, "t/tags/list/z", nil},
		{"name t/tags/list/z manifest", "GET", "/v2/t/tags/list/z/manifests/v1", "GET /v2/{n1}/{n2}/{n3}/{n4}/manifests/{ref}", route.Manifests, "t/tags/list/z",
			map[string]string{"ref": "v1"}},
		{"name u/blobs/uploads/v: uploads PATCH", "PATCH", "/v2/u/blobs/uploads/v/blobs/uploads/123", "PATCH /v2/{n1}/{n2}/{n3}/{n4}/blobs/uploads/{id}", route.Uploads, "u/blobs/uploads/v",
			map[string]string{"id": "123"}},
		{"name u/blobs/uploads/v: uploads POST with trailing slash", "POST", "/v2/u/blobs/uploads/v/blobs/uploads/", "POST /v2/{n1}/{n2}/{n3}/{n4}/blobs/uploads", route.Uploads, "u/blobs/uploads/v", nil},
		{"name r/referrers/q: referrers", "GET", "/v2/r/referrers/q/referrers/sha256:abc", "GET /v2/{n1}/{n2}/{n3}/referrers/{digest}", route.Referrers, "r/referrers/q",
			map[string]string{"digest": "sha256:abc"}},
		{"name r/referrers/q: tags list", "GET", "/v2/r/referrers/q/tags/list", "GET /v2/{n1}/{n2}/{n3}/tags/list", route.Tags, "r/referrers/q", nil},
		{"uploads POST", "POST", "/v2/u/blobs/uploads", "POST /v2/{n1}/blobs/uploads", route.Uploads, "u", nil},
		{"uploads POST with trailing slash", "POST", "/v2/a/blobs/uploads/", "POST /v2/{n1}/blobs/uploads", route.Uploads, "a", nil},
		{"uploads GET is not a blob GET", "GET", "/v2/a/blobs/uploads/xyz", "GET /v2/{n1}/blobs/uploads/{id}", route.Uploads, "a",
			map[string]string{"id": "xyz"}},
		{"referrers", "GET", "/v2/r/referrers/q", "GET /v2/{n1}/referrers/{digest}", route.Referrers, "r",
			map[string]string{"digest": "q"}},
		{"percent-encoded digest is decoded", "GET", "/v2/a/blobs/sha256%3Aabc", "GET /v2/{n1}/blobs/{digest}", route.Blobs, "a",
			map[string]string{"digest": "sha256:abc"}},
		{"decoded digest as API Gateway passes rawPath", "HEAD", "/v2/a/b/blobs/sha256:abc", "HEAD /v2/{n1}/{n2}/blobs/{digest}", route.Blobs, "a/b",
			map[string]string{"digest": "sha256:abc"}},
		{"name of MaxDepth components", "PUT", "/v2/" + maxName + "/manifests/latest", "PUT " + namePrefix(route.MaxDepth) + "/manifests/{ref}", route.Manifests, maxName,
			map[string]string{"ref": "latest"}},
		{"name of MaxDepth+1 components falls to the catch-all", "GET", "/v2/" + tooDeep + "/manifests/latest", "ANY /v2/{proxy+}", route.Base, "",
			map[string]string{"proxy": tooDeep + "/manifests/latest"}},
		{"method without a route falls to the catch-all", "POST", "/v2/a/manifests/b", "ANY /v2/{proxy+}", route.Base, "",
			map[string]string{"proxy": "a/manifests/b"}},
		{"PATCH on a blob falls to the catch-all", "PATCH", "/v2/a/blobs/sha256:abc", "ANY /v2/{proxy+}", route.Base, "",
			map[string]string{"proxy": "a/blobs/sha256:abc"}},
		{"unknown path under /v2 falls to the catch-all", "GET", "/v2/a/nothing", "ANY /v2/{proxy+}", route.Base, "",
			map[string]string{"proxy": "a/nothing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := route.Find(tt.method, tt.path)
			if !ok {
				t.Fatalf("Find(%s %s): no route", tt.method, tt.path)
			}
			if m.Route.Key() != tt.key || m.Route.Function != tt.function {
				t.Fatalf("Find(%s %s) = %q → %s, want %q → %s", tt.method, tt.path, m.Route.Key(), m.Route.Function, tt.key, tt.function)
			}
			if got := m.Name(); got != tt.repo {
				t.Errorf("Name() = %q, want %q", got, tt.repo)
			}
			for k, v := range tt.params {
				if got := m.Param(k); got != v {
					t.Errorf("Param(%q) = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestFindUnknownPathMatchesNothing(t *testing.T) {
	for _, p := range []string{"/", "/tokens", "/api", "/v1/x", "/v2x/a/manifests/b"} {
		if m, ok := route.Find("GET", p); ok {
			t.Errorf("Find(GET %s) = %q, want no route", p, m.Route.Key())
		}
	}
}

func TestFindGreedyNeedsARemainder(t *testing.T) {
	// PATCH /v2 has no route of its own, and {proxy+} does not match an
	// empty remainder, so nothing matches (API Gateway answers 404).
	if m, ok := route.Find("PATCH", "/v2/"); ok {
		t.Fatalf("Find(PATCH /v2/) = %q, want no route", m.Route.Key())
	}
}

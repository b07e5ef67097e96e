package route

import (
	"net/url"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/oci"
)

// FuzzFind checks route matching on any method and raw path: it never
// panics; a route with a repository name has that many non-empty name
// parameters (one may hold an encoded '/': "/v2/dev%2Fapp/..." is
// dev/app, for the authorizer and the function alike); and a match whose name the grammar allows is found again,
// the same route with the same parameters, from a path rebuilt by
// escaping each parameter — the round trip API Gateway's event and the
// local gateway both rely on.
func FuzzFind(f *testing.F) {
	for _, s := range []struct{ method, path string }{
		{"GET", "/v2/"}, {"GET", "/v2/dev/app/manifests/v1"}, {"HEAD", "/v2/dev/app/blobs/sha256:00"},
		{"POST", "/v2/dev/app/blobs/uploads/"}, {"PATCH", "/v2/a/b/c/blobs/uploads/0f"}, {"GET", "/v2/dev//app/tags/list"},
		{"GET", "/v2/dev%2Fapp/manifests/v1"}, {"DELETE", "/api/tenancies/dev"}, {"GET", "/v2/a/b/c/d/e/f/g/h/i/manifests/x"},
		{"GET", "/v2/_catalog"}, {"PUT", "/v2/dev/a%22,realm=%22x/manifests/%00"}, {"GET", "/token"},
	} {
		f.Add(s.method, s.path)
	}
	f.Fuzz(func(t *testing.T, method, rawPath string) {
		m, ok := Find(method, rawPath)
		if !ok || m.Route.Depth == 0 {
			return
		}
		name := m.Name()
		if n := strings.Count(name, "/") + 1; n < m.Route.Depth {
			t.Fatalf("Find(%q, %q): name %q has %d components, route depth %d", method, rawPath, name, n, m.Route.Depth)
		}
		for k, v := range m.Params {
			if v == "" {
				t.Fatalf("Find(%q, %q): empty parameter %s", method, rawPath, k)
			}
		}
		if oci.ValidName(name) != nil {
			return
		}
		segs := strings.Split(m.Route.Path, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, "{") {
				segs[i] = url.PathEscape(m.Params[strings.Trim(s, "{}+")])
			}
		}
		again, ok := Find(method, strings.Join(segs, "/"))
		if !ok || again.Route != m.Route || len(again.Params) != len(m.Params) {
			t.Fatalf("Find(%q, %q) = %s %v; rebuilt %q finds %s %v", method, rawPath, m.Route.Key(), m.Params, strings.Join(segs, "/"), again.Route.Key(), again.Params)
		}
		for k, v := range m.Params {
			if again.Params[k] != v {
				t.Fatalf("Find(%q, %q): parameter %s %q comes back as %q", method, rawPath, k, v, again.Params[k])
			}
		}
	})
}

package route_test

import (
	"context"
	"slices"
	"testing"

	"github.com/berth-registry/berth/shared/route"
)

// TestRouterSpecificity proves API Gateway's choice among routes that all
// match (docs/gateway-facts.md §1) on small tables, in both table orders
// so that no rule depends on the order routes were declared in.
func TestRouterSpecificity(t *testing.T) {
	tests := []struct {
		name         string
		routes       []route.Route
		method, path string
		want         string // route key
	}{
		{"literal beats variable at the first differing segment",
			[]route.Route{{Method: "GET", Path: "/v2/{a}/x"}, {Method: "GET", Path: "/v2/b/{c}"}},
			"GET", "/v2/b/x", "GET /v2/b/{c}"},
		{"all-literal route beats a templated one",
			[]route.Route{{Method: "GET", Path: "/v2/{a}/{b}"}, {Method: "GET", Path: "/v2/b/x"}},
			"GET", "/v2/b/x", "GET /v2/b/x"},
		{"non-greedy beats greedy",
			[]route.Route{{Method: "GET", Path: "/v2/{proxy+}"}, {Method: "GET", Path: "/v2/{a}/{b}"}},
			"GET", "/v2/x/y", "GET /v2/{a}/{b}"},
		{"greedy catches what non-greedy cannot",
			[]route.Route{{Method: "GET", Path: "/v2/{proxy+}"}, {Method: "GET", Path: "/v2/{a}/{b}"}},
			"GET", "/v2/x/y/z", "GET /v2/{proxy+}"},
		{"longer literal prefix wins among greedy routes",
			[]route.Route{{Method: "GET", Path: "/v2/{proxy+}"}, {Method: "GET", Path: "/v2/a/{proxy+}"}},
			"GET", "/v2/a/b/c", "GET /v2/a/{proxy+}"},
		{"explicit method beats ANY",
			[]route.Route{{Method: "ANY", Path: "/v2/{a}"}, {Method: "GET", Path: "/v2/{a}"}},
			"GET", "/v2/x", "GET /v2/{a}"},
		{"ANY answers a method without its own route",
			[]route.Route{{Method: "ANY", Path: "/v2/{a}"}, {Method: "GET", Path: "/v2/{a}"}},
			"POST", "/v2/x", "ANY /v2/{a}"},
		{"HEAD does not fall back to GET",
			[]route.Route{{Method: "GET", Path: "/v2/{a}"}, {Method: "ANY", Path: "/v2/{proxy+}"}},
			"HEAD", "/v2/x", "ANY /v2/{proxy+}"},
		{"ANY with a literal beats an explicit method with a variable",
			[]route.Route{{Method: "GET", Path: "/v2/{a}"}, {Method: "ANY", Path: "/v2/x"}},
			"GET", "/v2/x", "ANY /v2/x"},
	}
	for _, tt := range tests {
		for _, order := range []string{"declared", "reversed"} {
			t.Run(tt.name+"/"+order, func(t *testing.T) {
				routes := slices.Clone(tt.routes)
				if order == "reversed" {
					slices.Reverse(routes)
				}
				m, ok := route.NewRouter(routes).Find(tt.method, tt.path)
				if !ok {
					t.Fatalf("Find(%s %s): no route, want %q", tt.method, tt.path, tt.want)
				}
				if got := m.Route.Key(); got != tt.want {
					t.Errorf("Find(%s %s) = %q, want %q", tt.method, tt.path, got, tt.want)
				}
			})
		}
	}
}

func TestRouterParams(t *testing.T) {
	r := route.NewRouter([]route.Route{
		{Method: "GET", Path: "/v2/{a}/x"},
		{Method: "GET", Path: "/files/{proxy+}"},
	})
	tests := []struct {
		name, path string
		want       map[string]string
	}{
		{"percent-encoded variable is decoded", "/v2/sha256%3Aabc/x", map[string]string{"a": "sha256:abc"}},
		{"encoded slash stays inside its segment", "/v2/a%2Fb/x", map[string]string{"a": "a/b"}},
		{"greedy variable takes the rest, decoded", "/files/a/b%20c/d", map[string]string{"proxy": "a/b c/d"}},
		{"invalid escape is kept as sent", "/v2/100%/x", map[string]string{"a": "100%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := r.Find("GET", tt.path)
			if !ok {
				t.Fatalf("Find(GET %s): no route", tt.path)
			}
			for k, v := range tt.want {
				if got := m.Param(k); got != v {
					t.Errorf("Param(%q) = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestRouterEmptySegmentIsNotAVariable(t *testing.T) {
	r := route.NewRouter([]route.Route{{Method: "GET", Path: "/v2/{a}/x"}})
	if m, ok := r.Find("GET", "/v2//x"); ok {
		t.Fatalf("Find(GET /v2//x) = %v, want no route: a variable needs a value", m.Params)
	}
}

func TestFromKey(t *testing.T) {
	tests := []struct {
		name, key string
		params    map[string]string
		ok        bool
		function  string
		repo      string
	}{
		{"manifest route of depth 2", "PUT /v2/{n1}/{n2}/manifests/{ref}",
			map[string]string{"n1": "library", "n2": "hello", "ref": "v1"}, true, route.Manifests, "library/hello"},
		{"catch-all", "ANY /v2/{proxy+}", map[string]string{"proxy": "a/b"}, true, route.Base, ""},
		{"base", "GET /v2", nil, true, route.Base, ""},
		{"$default is not in the table", "$default", nil, false, "", ""},
		{"unknown key", "GET /v3", nil, false, "", ""},
		// FromKey parses the key against the table's shapes: keys near
		// a route are not routes.
		{"a name and no shape", "GET /v2/{n1}/{n2}", nil, false, "", ""},
		{"a method the shape lacks", "PATCH /v2/{n1}/manifests/{ref}", nil, false, "", ""},
		{"name variables out of order", "GET /v2/{n2}/manifests/{ref}", nil, false, "", ""},
		{"a name variable twice", "GET /v2/{n1}/{n1}/manifests/{ref}", nil, false, "", ""},
		{"deeper than MaxDepth", "GET " + namePrefix(route.MaxDepth+1) + "/manifests/{ref}", nil, false, "", ""},
		{"a trailing slash", "GET /v2/{n1}/tags/list/", nil, false, "", ""},
		{"catch-all with a method of its own", "GET /v2/{proxy+}", nil, false, "", ""},
		{"no method", "/v2", nil, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := route.FromKey(tt.key, tt.params)
			if ok != tt.ok {
				t.Fatalf("FromKey(%q) ok = %v, want %v", tt.key, ok, tt.ok)
			}
			if !ok {
				return
			}
			if m.Route.Key() != tt.key || m.Route.Function != tt.function || m.Name() != tt.repo {
				t.Errorf("FromKey(%q) = %q → %s name %q, want → %s name %q", tt.key, m.Route.Key(), m.Route.Function, m.Name(), tt.function, tt.repo)
			}
		})
	}
}

func TestFromKeyKnowsEveryRoute(t *testing.T) {
	for _, r := range route.Table() {
		m, ok := route.FromKey(r.Key(), nil)
		if !ok || m.Route != r {
			t.Errorf("FromKey(%q) = %+v, %v; want %+v", r.Key(), m.Route, ok, r)
		}
	}
}

func TestContextCarriesMatch(t *testing.T) {
	if _, ok := route.FromContext(context.Background()); ok {
		t.Fatal("FromContext of a bare context reported a match")
	}
	want, _ := route.Find("GET", "/v2/a/b/tags/list")
	got, ok := route.FromContext(route.WithMatch(context.Background(), want))
	if !ok || got.Route != want.Route || got.Name() != "a/b" {
		t.Fatalf("FromContext = %+v, %v; want %+v", got, ok, want)
	}
}

func TestFromEvent(t *testing.T) {
	tests := []struct {
		name, key, method, rawPath string
		params                     map[string]string
		ok                         bool
		wantKey, repo              string
	}{
		{"a named route is taken as API Gateway chose it", "POST /v2/{n1}/{n2}/blobs/uploads", "POST", "/v2/library/hello/blobs/uploads/",
			map[string]string{"n1": "library", "n2": "hello"}, true, "POST /v2/{n1}/{n2}/blobs/uploads", "library/hello"},
		{"catch-all with a trailing slash resolves to the route it names", "ANY /v2/{proxy+}", "POST", "/v2/library/hello/blobs/uploads/",
			map[string]string{"proxy": "library/hello/blobs/uploads/"}, true, "POST /v2/{n1}/{n2}/blobs/uploads", "library/hello"},
		{"catch-all without a trailing slash stays the catch-all", "ANY /v2/{proxy+}", "POST", "/v2/library/hello/manifests/v1",
			map[string]string{"proxy": "library/hello/manifests/v1"}, true, "ANY /v2/{proxy+}", ""},
		{"catch-all with a slash but no route stays the catch-all", "ANY /v2/{proxy+}", "GET", "/v2/library/hello/nothing/",
			map[string]string{"proxy": "library/hello/nothing/"}, true, "ANY /v2/{proxy+}", ""},
		{"too deep with a slash stays the catch-all", "ANY /v2/{proxy+}", "POST", "/v2/" + deepName(route.MaxDepth+1) + "/blobs/uploads/",
			map[string]string{"proxy": deepName(route.MaxDepth+1) + "/blobs/uploads/"}, true, "ANY /v2/{proxy+}", ""},
		{"$default is not in the table", "$default", "GET", "/v2/", nil, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := route.FromEvent(tt.key, tt.params, tt.method, tt.rawPath)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && (m.Route.Key() != tt.wantKey || m.Name() != tt.repo) {
				t.Errorf("FromEvent = %q name %q, want %q name %q", m.Route.Key(), m.Name(), tt.wantKey, tt.repo)
			}
		})
	}
}

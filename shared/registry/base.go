package registry

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/route"
)

// base answers GET /v2/ (spec: "Determining support") and, through the
// catch-all route, every /v2 path no other route matched.
func (reg *Registry) base(w http.ResponseWriter, r *http.Request, m route.Match) error {
	if m.Route.Path == "/v2" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte("{}"))
		}
		return nil
	}
	// A trailing-slash request that reached the catch-all (should API
	// Gateway not strip the slash) is served as the route it names — the
	// rule route.FromEvent applies, so the authorizer decided that route.
	// Any other path stays unmatched: the authorizer decided only the
	// catch-all (e.g. "/v2/dev%2Fapp%2Fmanifests%2Fv1", one segment for
	// API Gateway, arrives with rawPath decoded).
	if strings.HasSuffix(r.URL.Path, "/") {
		if alt, ok := route.Find(r.Method, r.URL.Path); ok && alt.Route.Function != route.Base {
			reg.Handler(alt.Route.Function).ServeHTTP(w, r.WithContext(route.WithMatch(r.Context(), alt)))
			return nil
		}
	}
	return unmatched(r.Method, m.Param("proxy"))
}

// apiSuffixes are the route shapes after a repository name, as segment
// lists, used to explain why a request under /v2 matched no route.
var apiSuffixes = [][]string{
	{"manifests", "*"}, {"blobs", "uploads"}, {"blobs", "uploads", "*"},
	{"blobs", "*"}, {"tags", "list"}, {"referrers", "*"},
}

// unmatched explains a /v2 request no route took: a name deeper than the
// route table serves, a method the endpoint does not have, or no endpoint.
func unmatched(method, rest string) error {
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	for _, suf := range apiSuffixes {
		n := len(segs) - len(suf)
		if n < 1 || !suffixMatches(segs[n:], suf) {
			continue
		}
		// An API Gateway path variable matches no empty segment, so a
		// name with one ("dev//app") or deeper than the table comes here.
		if err := oci.ValidName(strings.Join(segs[:n], "/")); err != nil {
			return errcode.New(errcode.NameInvalid, "%v", err)
		}
		return errcode.New(errcode.Unsupported, "%s is not supported on /v2/<name>/%s", method, strings.Join(suf, "/"))
	}
	return errcode.New(errcode.Unsupported, "no such API endpoint: /v2/%s", rest).WithStatus(http.StatusNotFound)
}

func suffixMatches(segs, pattern []string) bool {
	for i, p := range pattern {
		if p != "*" && p != segs[i] {
			return false
		}
		if p == "*" && segs[i] == "" {
			return false
		}
	}
	return true
}

// writeJSON writes a JSON body with its length.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

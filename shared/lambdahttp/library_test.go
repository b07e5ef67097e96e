package lambdahttp_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/berth-registry/berth/shared/route"
)

// These tests run aws-lambda-go-api-proxy's httpadapter alone on what
// the registry needs, and pin where it falls short — each the reason for
// a few lines of this package's own (lambdahttp.go's package doc). If
// one fails, the library now does it: drop our code for it.

// libraryRequest serves ev with the library alone and returns what the
// handler saw (nil if it never ran) and the response status.
func libraryRequest(t *testing.T, ev eventV2, h http.HandlerFunc) (*http.Request, int, error) {
	t.Helper()
	var seen *http.Request
	res, err := httpadapter.NewV2(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		h(w, r)
	})).ProxyWithContext(context.Background(), ev)
	return seen, res.StatusCode, err
}

func TestLibraryLosesThePathParameters(t *testing.T) {
	ev := event("GET", "/v2/library/hello/manifests/v1")
	ev.RouteKey, ev.RequestContext.RouteKey = "GET /v2/{n1}/{n2}/manifests/{ref}", "GET /v2/{n1}/{n2}/manifests/{ref}"
	ev.PathParameters = map[string]string{"n1": "library", "n2": "hello", "ref": "v1"}
	r, _, err := libraryRequest(t, ev, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	if err != nil || r == nil {
		t.Fatalf("library: %v", err)
	}
	if _, ok := route.FromContext(r.Context()); ok {
		t.Error("the library now passes the route on: lambdahttp need not")
	}
	// What it keeps is the request context (route key, request id,
	// authorizer), in aws-lambda-go's types, which the domain packages
	// may not import: lambdahttp passes those on in the domain's terms.
}

func TestLibraryMisreadsADecodedRawPath(t *testing.T) {
	ev := event("GET", "/v2/a?b/tags/list") // rawPath arrives percent-decoded
	r, _, err := libraryRequest(t, ev, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	if err == nil && r != nil && r.URL.Path == "/v2/a?b/tags/list" {
		t.Errorf("the library now keeps a decoded rawPath's \"?\" in the path: drop escapePath")
	}
	ev = event("GET", "/v2/100%/tags/list")
	if _, status, err := libraryRequest(t, ev, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }); err == nil {
		t.Errorf("the library now serves a rawPath holding %%: drop escapePath (status %d)", status)
	}
}

func TestLibraryFailsAHandlerThatWritesNothing(t *testing.T) {
	if _, status, err := libraryRequest(t, event("HEAD", "/v2/"), func(http.ResponseWriter, *http.Request) {}); err == nil {
		t.Errorf("the library now answers a handler that wrote nothing (%d): drop statusWriter's default", status)
	}
}

func TestLibraryLetsTheLastStatusWin(t *testing.T) {
	_, status, err := libraryRequest(t, event("GET", "/v2/"), func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		w.WriteHeader(http.StatusInternalServerError)
	})
	if err != nil || status == http.StatusAccepted {
		t.Errorf("the library now keeps the first status (%d, %v): drop statusWriter", status, err)
	}
}

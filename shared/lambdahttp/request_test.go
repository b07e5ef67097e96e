package lambdahttp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/reqinfo"
	"github.com/berth-registry/berth/shared/route"
)

// quiet discards the adapter's log lines.
var quiet = slog.New(slog.DiscardHandler)

// seen is what a handler observed of its request.
type seen struct {
	r    *http.Request
	body []byte
}

// capture serves one event with a handler that records the request.
func capture(t *testing.T, ev events.APIGatewayV2HTTPRequest) seen {
	t.Helper()
	var s seen
	h := lambdahttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		s = seen{r: r, body: b}
	}), quiet)
	res, err := h(context.Background(), ev)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	if s.r == nil {
		t.Fatalf("handler never ran; response %d %q", res.StatusCode, res.Body)
	}
	return s
}

// event is a minimal payload-2.0 event for method and path.
// eventV2 is the event type the adapter takes.
type eventV2 = events.APIGatewayV2HTTPRequest

func event(method, path string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: "$default",
		RawPath:  path,
		Headers:  map[string]string{"host": "abc123.execute-api.eu-west-1.amazonaws.com"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   "$default",
			RequestID:  "ATfSmjLgPHcESJw=",
			DomainName: "abc123.execute-api.eu-west-1.amazonaws.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7",
			},
		},
	}
}

func TestRequestBody(t *testing.T) {
	binary := make([]byte, 1024)
	for i := range binary {
		binary[i] = byte(i * 7) // every byte value, invalid UTF-8 included
	}
	chunk := make([]byte, 4<<20+3) // a layer chunk, through the SIMD decoder's blocks and its tail
	for i := range chunk {
		chunk[i] = byte(i*31 + i>>9)
	}
	tests := []struct {
		name   string
		body   string
		base64 bool
		want   []byte
	}{
		{"binary body arrives byte-exact", base64.StdEncoding.EncodeToString(binary), true, binary},
		{"text body arrives as sent", `{"a":"é"}`, false, []byte(`{"a":"é"}`)},
		{"base64-looking text is not decoded", "aGVsbG8=", false, []byte("aGVsbG8=")},
		{"no body", "", false, []byte{}},
		{"an empty base64 body", "", true, []byte{}},
		{"a 4 MiB binary chunk arrives byte-exact", base64.StdEncoding.EncodeToString(chunk), true, chunk},
		{"a padded one-byte body", base64.StdEncoding.EncodeToString([]byte{0xff}), true, []byte{0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event("PATCH", "/v2/a/blobs/uploads/1")
			ev.Body, ev.IsBase64Encoded = tt.body, tt.base64
			s := capture(t, ev)
			if !bytes.Equal(s.body, tt.want) {
				t.Errorf("body = %q, want %q", s.body, tt.want)
			}
			if s.r.ContentLength != int64(len(tt.want)) {
				t.Errorf("ContentLength = %d, want %d", s.r.ContentLength, len(tt.want))
			}
		})
	}
}

// TestRequestMalformedBase64IsAnError: API Gateway never sends one; if
// something did, the invocation fails (API Gateway answers 500) and the
// handler never sees a corrupted body.
func TestRequestMalformedBase64IsAnError(t *testing.T) {
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("layer bytes "), 100))
	for _, body := range []string{
		"not base64!",
		"aGVsbG8",                     // padding missing
		"aGVsbG8=x",                   // bytes after the padding
		long[:200] + "*" + long[201:], // a bad byte inside a SIMD block
		long[:len(long)-4] + "!!!!",   // in the tail the scalar code decodes
	} {
		ev := event("PUT", "/v2/a/manifests/b")
		ev.Body, ev.IsBase64Encoded = body, true
		ran := false
		h := lambdahttp.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }), quiet)
		if _, err := h(context.Background(), ev); ran || err == nil {
			t.Fatalf("%.20q...: handler ran = %v, error %v; want not run, an error", body, ran, err)
		}
	}
}

func TestRequestHeadersCookiesQuery(t *testing.T) {
	ev := event("GET", "/v2/a/tags/list")
	ev.RawQueryString = "n=10&last=v%2B1&tag=a&tag=b"
	ev.QueryStringParameters = map[string]string{"n": "10", "last": "v+1", "tag": "a,b"}
	// Repeated headers reach Lambda comma-joined (payload 2.0); the
	// handler sees them as separate values again.
	ev.Headers["accept"] = "application/vnd.oci.image.index.v1+json,application/json"
	ev.Headers["authorization"] = "Bearer t0ken"
	ev.Headers["x-forwarded-proto"] = "https"
	ev.Cookies = []string{"session=abc123", "theme=dark"}
	s := capture(t, ev)
	r := s.r
	if got, want := r.Header.Values("Accept"), []string{"application/vnd.oci.image.index.v1+json", "application/json"}; !slices.Equal(got, want) {
		t.Errorf("Accept values = %q, want %q", got, want)
	}
	for k, want := range map[string]string{
		"Authorization":     "Bearer t0ken",
		"X-Forwarded-Proto": "https",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	for name, want := range map[string]string{"session": "abc123", "theme": "dark"} {
		c, err := r.Cookie(name)
		if err != nil || c.Value != want {
			t.Errorf("cookie %s = %v (%v), want %q", name, c, err, want)
		}
	}
	q := r.URL.Query()
	if q.Get("n") != "10" || q.Get("last") != "v+1" || len(q["tag"]) != 2 {
		t.Errorf("query = %v, want n=10 last=v+1 and two tags", q)
	}
	if r.Host != "abc123.execute-api.eu-west-1.amazonaws.com" || r.RemoteAddr != "203.0.113.7" {
		t.Errorf("Host %q RemoteAddr %q", r.Host, r.RemoteAddr)
	}
	if r.Method != "GET" || r.URL.Path != "/v2/a/tags/list" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
}

func TestRequestDecodedRawPath(t *testing.T) {
	// API Gateway passes rawPath percent-decoded (docs/gateway-facts.md §3).
	tests := []struct{ name, rawPath, escaped string }{
		{"colon of a digest", "/v2/a/blobs/sha256:abc", "/v2/a/blobs/sha256:abc"},
		{"space", "/v2/a b/tags/list", "/v2/a%20b/tags/list"},
		{"question mark stays in the path", "/v2/a?b/tags/list", "/v2/a%3Fb/tags/list"},
		{"trailing slash is kept", "/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event("GET", tt.rawPath)
			ev.RawQueryString = "x=1"
			r := capture(t, ev).r
			if r.URL.Path != tt.rawPath || r.URL.EscapedPath() != tt.escaped {
				t.Errorf("Path %q EscapedPath %q, want %q %q", r.URL.Path, r.URL.EscapedPath(), tt.rawPath, tt.escaped)
			}
			if r.URL.RawQuery != "x=1" {
				t.Errorf("RawQuery = %q, want x=1", r.URL.RawQuery)
			}
		})
	}
}

func TestRequestRouteAndRequestID(t *testing.T) {
	tests := []struct {
		name, routeKey string
		params         map[string]string
		ok             bool
		function, repo string
		param, value   string
	}{
		{"route key and path parameters become the match", "GET /v2/{n1}/{n2}/manifests/{ref}",
			map[string]string{"n1": "library", "n2": "hello", "ref": "sha256:abc"}, true, route.Manifests, "library/hello", "ref", "sha256:abc"},
		{"catch-all keeps its proxy parameter", "ANY /v2/{proxy+}",
			map[string]string{"proxy": "a/b/c"}, true, route.Base, "", "proxy", "a/b/c"},
		{"$default records no match", "$default", nil, false, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event("GET", "/v2/library/hello/manifests/sha256:abc")
			ev.RouteKey, ev.RequestContext.RouteKey = tt.routeKey, tt.routeKey
			ev.PathParameters = tt.params
			r := capture(t, ev).r
			if got := reqinfo.ID(r.Context()); got != "ATfSmjLgPHcESJw=" {
				t.Errorf("RequestID = %q", got)
			}
			m, ok := route.FromContext(r.Context())
			if ok != tt.ok {
				t.Fatalf("FromContext ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if m.Route.Key() != tt.routeKey || m.Route.Function != tt.function || m.Name() != tt.repo || m.Param(tt.param) != tt.value {
				t.Errorf("match %q → %s name %q %s=%q", m.Route.Key(), m.Route.Function, m.Name(), tt.param, m.Param(tt.param))
			}
		})
	}
}

func TestRequestCatchAllWithTrailingSlashNamesItsRoute(t *testing.T) {
	// Should API Gateway send docker's "POST .../blobs/uploads/" to the
	// catch-all, the handler still learns which route it is.
	ev := event("POST", "/v2/library/hello/blobs/uploads/")
	ev.RouteKey, ev.RequestContext.RouteKey = "ANY /v2/{proxy+}", "ANY /v2/{proxy+}"
	ev.PathParameters = map[string]string{"proxy": "library/hello/blobs/uploads/"}
	m, ok := route.FromContext(capture(t, ev).r.Context())
	if !ok || m.Route.Function != route.Uploads || m.Name() != "library/hello" {
		t.Fatalf("match %q name %q (%v), want the uploads POST of library/hello", m.Route.Key(), m.Name(), ok)
	}
}

// TestRequestBodyInMemory: a handler that wants the whole body gets the
// decoded bytes themselves (no copy); one that reads first gets the rest.
func TestRequestBodyInMemory(t *testing.T) {
	want := []byte("a chunk of a layer")
	ev := event("PATCH", "/v2/a/blobs/uploads/1")
	ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(want), true
	var whole, rest []byte
	h := lambdahttp.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mb, ok := r.Body.(interface{ Bytes() []byte })
		if !ok {
			t.Errorf("body %T has no Bytes", r.Body)
			return
		}
		whole = bytes.Clone(mb.Bytes())
		if _, err := io.ReadFull(r.Body, make([]byte, 8)); err != nil {
			t.Error(err)
		}
		rest = mb.Bytes()
	}), quiet)
	if _, err := h(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(whole, want) || !bytes.Equal(rest, want[8:]) {
		t.Errorf("Bytes() = %q, then after 8 bytes read %q", whole, rest)
	}
}

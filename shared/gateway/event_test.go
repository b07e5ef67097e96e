package gateway_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/gateway"
)

// eventFor sends req through a gateway whose every function records the
// event it receives, and returns that event and the response.
func eventFor(t *testing.T, req *http.Request) (events.APIGatewayV2HTTPRequest, *httptest.ResponseRecorder) {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	g := newGateway(t, gateway.AWSLimits(), capture(t, &ev), nil)
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %s: status %d, body %s", req.Method, req.URL, rec.Code, rec.Body)
	}
	return ev, rec
}

func TestEventCarriesRequestAsAPIGatewayDoes(t *testing.T) {
	req := httptest.NewRequest(http.MethodPut,
		"/v2/library/ubuntu/manifests/latest?repeat=one&repeat=two&encodedPlus=a%2Bb&literalPlus=a+b",
		strings.NewReader(`{"schemaVersion":2}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "docker/27.0")
	req.Header.Add("X-Probe", "first")
	req.Header.Add("X-Probe", "second")
	req.Header.Add("Cookie", "session=abc123; theme=dark")
	before := time.Now().UnixMilli()
	ev, rec := eventFor(t, req)
	after := time.Now().UnixMilli()

	checks := []struct{ what, got, want string }{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, "PUT /v2/{n1}/{n2}/manifests/{ref}"},
		{"rawPath", ev.RawPath, "/v2/library/ubuntu/manifests/latest"},
		{"rawQueryString (kept encoded)", ev.RawQueryString, "repeat=one&repeat=two&encodedPlus=a%2Bb&literalPlus=a+b"},
		{"repeated query parameter comma-joined", ev.QueryStringParameters["repeat"], "one,two"},
		{"%2B decodes to +", ev.QueryStringParameters["encodedPlus"], "a+b"},
		{"literal + decodes to space", ev.QueryStringParameters["literalPlus"], "a b"},
		{"path parameter n1", ev.PathParameters["n1"], "library"},
		{"path parameter n2", ev.PathParameters["n2"], "ubuntu"},
		{"path parameter ref", ev.PathParameters["ref"], "latest"},
		{"repeated header comma-joined, lower-case name", ev.Headers["x-probe"], "first,second"},
		{"content-type header", ev.Headers["content-type"], "application/json"},
		{"host header", ev.Headers["host"], "example.com"},
		{"x-forwarded-for", ev.Headers["x-forwarded-for"], "192.0.2.1"},
		{"x-forwarded-proto", ev.Headers["x-forwarded-proto"], "http"},
		{"x-forwarded-port is the server's port", ev.Headers["x-forwarded-port"], "80"},
		{"cookie header removed", ev.Headers["cookie"], ""},
		{"cookies array", strings.Join(ev.Cookies, "|"), "session=abc123|theme=dark"},
		{"requestContext.routeKey", ev.RequestContext.RouteKey, "PUT /v2/{n1}/{n2}/manifests/{ref}"},
		{"requestContext.stage", ev.RequestContext.Stage, "$default"},
		{"requestContext.http.method", ev.RequestContext.HTTP.Method, "PUT"},
		{"requestContext.http.path", ev.RequestContext.HTTP.Path, "/v2/library/ubuntu/manifests/latest"},
		{"requestContext.http.sourceIp", ev.RequestContext.HTTP.SourceIP, "192.0.2.1"},
		{"requestContext.http.userAgent", ev.RequestContext.HTTP.UserAgent, "docker/27.0"},
		{"requestContext.requestId is the response's Apigw-Requestid", ev.RequestContext.RequestID, rec.Header().Get("Apigw-Requestid")},
		{"body (application/json is text)", ev.Body, `{"schemaVersion":2}`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header name %q is not lower-case", k)
		}
	}
	if ev.RequestContext.RequestID == "" {
		t.Error("requestContext.requestId is empty")
	}
	if ev.IsBase64Encoded {
		t.Error("application/json body is base64-encoded")
	}
	if e := ev.RequestContext.TimeEpoch; e < before || e > after {
		t.Errorf("requestContext.timeEpoch = %d, want within [%d, %d]", e, before, after)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", ev.RequestContext.Time); err != nil {
		t.Errorf("requestContext.time %q: %v", ev.RequestContext.Time, err)
	}
}

func TestEventPathAsAPIGatewayPassesIt(t *testing.T) {
	tests := []struct {
		name, method, target string
		wantRouteKey         string
		wantRawPath          string
		wantParams           map[string]string
	}{
		{"trailing slash is kept in rawPath and matched without it", http.MethodPost, "/v2/team/app/blobs/uploads/",
			"POST /v2/{n1}/{n2}/blobs/uploads", "/v2/team/app/blobs/uploads/", map[string]string{"n1": "team", "n2": "app"}},
		{"percent-encoded path arrives decoded", http.MethodGet, "/v2/app/manifests/sha256%3Aabc",
			"GET /v2/{n1}/manifests/{ref}", "/v2/app/manifests/sha256:abc", map[string]string{"n1": "app", "ref": "sha256:abc"}},
		{"base route without query has no parameters", http.MethodGet, "/v2/",
			"GET /v2", "/v2/", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, _ := eventFor(t, httptest.NewRequest(tc.method, tc.target, nil))
			if ev.RouteKey != tc.wantRouteKey || ev.RawPath != tc.wantRawPath {
				t.Errorf("routeKey %q rawPath %q, want %q %q", ev.RouteKey, ev.RawPath, tc.wantRouteKey, tc.wantRawPath)
			}
			if len(ev.PathParameters) != len(tc.wantParams) {
				t.Errorf("pathParameters = %v, want %v", ev.PathParameters, tc.wantParams)
			}
			for k, v := range tc.wantParams {
				if ev.PathParameters[k] != v {
					t.Errorf("pathParameters[%s] = %q, want %q", k, ev.PathParameters[k], v)
				}
			}
			if ev.QueryStringParameters != nil || ev.RawQueryString != "" {
				t.Errorf("query = %q %v, want none", ev.RawQueryString, ev.QueryStringParameters)
			}
		})
	}
}

func TestEventBodyEncodingFollowsContentType(t *testing.T) {
	body := "{\"h\u00e9llo\": [1, 2]}\n"
	tests := []struct {
		name, contentType string
		base64            bool
	}{
		{"application/octet-stream is base64", "application/octet-stream", true},
		{"missing content type is base64", "", true},
		{"form data is base64", "application/x-www-form-urlencoded", true},
		{"OCI +json media type is base64 (not on the text list)", "application/vnd.oci.image.manifest.v1+json", true},
		{"application/json is text", "application/json", false},
		{"text/plain is text", "text/plain", false},
		{"text/html is text", "text/html", false},
		{"application/xml is text", "application/xml", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPatch, "/v2/app/blobs/uploads/u1", strings.NewReader(body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			ev, _ := eventFor(t, req)
			if ev.IsBase64Encoded != tc.base64 {
				t.Fatalf("isBase64Encoded = %v, want %v", ev.IsBase64Encoded, tc.base64)
			}
			got := ev.Body
			if tc.base64 {
				b, err := base64.StdEncoding.DecodeString(ev.Body)
				if err != nil {
					t.Fatalf("body is not base64: %v", err)
				}
				got = string(b)
			}
			if got != body {
				t.Errorf("body = %q, want %q", got, body)
			}
		})
	}
}

func TestEventWithoutBodyOmitsIt(t *testing.T) {
	ev, _ := eventFor(t, httptest.NewRequest(http.MethodGet, "/v2/app/tags/list", nil))
	if ev.Body != "" || ev.IsBase64Encoded {
		t.Errorf("body %q isBase64Encoded %v, want empty and false", ev.Body, ev.IsBase64Encoded)
	}
	if ev.Cookies != nil {
		t.Errorf("cookies = %v, want none", ev.Cookies)
	}
}

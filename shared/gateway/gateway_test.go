package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/berth-registry/berth/shared/gateway"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/route"
)

// invokerFunc is a fake function.
type invokerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// newGateway returns a gateway that sends every route to fn, logging as
// JSON to logs (discarded when nil).
func newGateway(t *testing.T, limits gateway.Limits, fn gateway.Invoker, logs *bytes.Buffer) *gateway.Gateway {
	t.Helper()
	var w io.Writer = io.Discard
	if logs != nil {
		w = logs
	}
	fns := map[string]gateway.Invoker{}
	for _, name := range route.Functions {
		fns[name] = fn
	}
	return gateway.New(fns, limits, slog.New(slog.NewJSONHandler(w, nil)))
}

// respond is a function that always answers res.
func respond(t *testing.T, res events.APIGatewayV2HTTPResponse) gateway.Invoker {
	t.Helper()
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return invokerFunc(func(context.Context, []byte) ([]byte, error) { return out, nil })
}

// capture is a function that stores the event it receives in ev and
// answers 200.
func capture(t *testing.T, ev *events.APIGatewayV2HTTPRequest) gateway.Invoker {
	ok := respond(t, events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK})
	return invokerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		if err := json.Unmarshal(payload, ev); err != nil {
			return nil, err
		}
		return ok.Invoke(ctx, payload)
	})
}

// handlerFunction is a real Lambda handler serving h, as the function
// binaries build theirs.
func handlerFunction(h http.HandlerFunc) gateway.Invoker {
	return lambda.NewHandler(lambdahttp.Handler(h, slog.New(slog.DiscardHandler)))
}

// specError is the distribution-spec error body.
type specError struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// decodeSpecError parses body as a spec error with exactly one entry.
func decodeSpecError(t *testing.T, contentType string, body []byte) (code, message string) {
	t.Helper()
	if !strings.HasPrefix(contentType, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", contentType)
	}
	var e specError
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) != 1 {
		t.Fatalf("body %q is not a spec error (%v)", body, err)
	}
	return e.Errors[0].Code, e.Errors[0].Message
}

func TestRequestNoRouteMatchesIsAPIGateways404(t *testing.T) {
	called := false
	fn := invokerFunc(func(context.Context, []byte) ([]byte, error) { called = true; return nil, errors.New("unreachable") })
	g := newGateway(t, gateway.AWSLimits(), fn, nil)
	for _, target := range []string{"/", "/favicon.ico", "/v3/app/tags/list", "/v2x"} {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusNotFound || rec.Body.String() != `{"message":"Not Found"}` {
			t.Errorf("GET %s: %d %q, want 404 {\"message\":\"Not Found\"}", target, rec.Code, rec.Body)
		}
	}
	if called {
		t.Error("a function was invoked for an unmatched request")
	}
}

func TestFunctionErrorIs500WithoutItsText(t *testing.T) {
	var logs bytes.Buffer
	fn := invokerFunc(func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("dial tcp 10.0.0.7:5432: password authentication failed")
	})
	g := newGateway(t, gateway.AWSLimits(), fn, &logs)
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/app/tags/list", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	code, msg := decodeSpecError(t, rec.Header().Get("Content-Type"), rec.Body.Bytes())
	if code != "UNKNOWN" {
		t.Errorf("code %s, want UNKNOWN", code)
	}
	if strings.Contains(rec.Body.String(), "password") || strings.Contains(msg, "10.0.0.7") {
		t.Errorf("body leaks the internal error: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "password authentication failed") {
		t.Errorf("the internal error is not logged: %s", logs.String())
	}
}

func TestResponseIsWrittenAsAPIGatewayWritesIt(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		fn         gateway.Invoker
		wantStatus int
		wantHeader map[string]string
		wantCookie []string
		wantBody   string
	}{
		{
			name: "comma-joined header values reach the client as one header",
			fn: respond(t, events.APIGatewayV2HTTPResponse{StatusCode: 202,
				Headers: map[string]string{"X-Multi": "a,b", "Content-Type": "text/plain"}, Body: "ok"}),
			wantStatus: 202, wantHeader: map[string]string{"X-Multi": "a,b", "Content-Length": "2"}, wantBody: "ok",
		},
		{
			name: "repeated headers from an http.Handler are comma-joined",
			fn: handlerFunction(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("Link", "</a>; rel=next")
				w.Header().Add("Link", "</b>; rel=prev")
				w.WriteHeader(http.StatusOK)
			}),
			wantStatus: 200, wantHeader: map[string]string{"Link": "</a>; rel=next,</b>; rel=prev"},
		},
		{
			name: "each cookie becomes its own Set-Cookie",
			fn: respond(t, events.APIGatewayV2HTTPResponse{StatusCode: 200,
				Cookies: []string{"a=1; Path=/", "b=2; HttpOnly"}}),
			wantStatus: 200, wantCookie: []string{"a=1; Path=/", "b=2; HttpOnly"},
		},
		{
			name: "Set-Cookie from an http.Handler travels as cookies",
			fn: handlerFunction(func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
				http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
			}),
			wantStatus: 200, wantCookie: []string{"a=1", "b=2"},
		},
		{
			name: "base64 body is decoded",
			fn: respond(t, events.APIGatewayV2HTTPResponse{StatusCode: 200,
				Body: "AAH/", IsBase64Encoded: true}),
			wantStatus: 200, wantBody: "\x00\x01\xff",
		},
		{
			name:       "HEAD keeps the function's Content-Length and sends no body",
			method:     http.MethodHead,
			fn:         respond(t, events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Length": "1234"}}),
			wantStatus: 200, wantHeader: map[string]string{"Content-Length": "1234"},
		},
		{
			name:   "HEAD from an http.Handler keeps its Content-Length",
			method: http.MethodHead,
			fn: handlerFunction(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "5678")
				w.Header().Set("Docker-Content-Digest", "sha256:abc")
			}),
			wantStatus: 200, wantHeader: map[string]string{"Content-Length": "5678", "Docker-Content-Digest": "sha256:abc"},
		},
		{
			name:       "JSON without statusCode is a 200 application/json body (inferred format)",
			fn:         invokerFunc(func(context.Context, []byte) ([]byte, error) { return []byte(`{"message": "x"}`), nil }),
			wantStatus: 200, wantHeader: map[string]string{"Content-Type": "application/json"}, wantBody: `{"message":"x"}`,
		},
		{
			name:       "a JSON string is the body itself (inferred format)",
			fn:         invokerFunc(func(context.Context, []byte) ([]byte, error) { return []byte(`"Hello"`), nil }),
			wantStatus: 200, wantBody: "Hello",
		},
		{
			name:       "output that is not JSON is a 500",
			fn:         invokerFunc(func(context.Context, []byte) ([]byte, error) { return []byte(`Hello`), nil }),
			wantStatus: 500, wantHeader: map[string]string{"Content-Type": "application/json"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(newGateway(t, gateway.AWSLimits(), tc.fn, nil))
			defer srv.Close()
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, _ := http.NewRequest(method, srv.URL+"/v2/app/blobs/sha256:abc", nil)
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", res.StatusCode, tc.wantStatus)
			}
			for k, v := range tc.wantHeader {
				if got := res.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("header %s = %q, want exactly %q", k, got, v)
				}
			}
			if tc.wantCookie != nil && strings.Join(res.Header.Values("Set-Cookie"), "|") != strings.Join(tc.wantCookie, "|") {
				t.Errorf("Set-Cookie = %q, want %q", res.Header.Values("Set-Cookie"), tc.wantCookie)
			}
			if method == http.MethodHead {
				if len(body) != 0 {
					t.Errorf("HEAD body = %q, want none", body)
				}
			} else if tc.wantStatus < 500 && string(body) != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
		})
	}
}

// TestEachRequestLogsOneJSONLine: a request a function served is logged
// once, by the function's Lambda adapter, with the request id the client
// got in apigw-requestid (the gateway adds no line of its own: no double
// logging); a request the gateway answered itself is logged by the
// gateway, saying why, and its error body names the same id.
func TestEachRequestLogsOneJSONLine(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	fn := gateway.HTTPFunc(lambdahttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("created!"))
	}), log))
	g := newGateway(t, gateway.AWSLimits(), fn, &logs)
	lines := func() []map[string]any {
		t.Helper()
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var line map[string]any
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("log line is not JSON: %v\n%s", err, l)
			}
			out = append(out, line)
		}
		logs.Reset()
		return out
	}

	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/v2/team/app/manifests/v1", strings.NewReader("{}")))
	ls := lines()
	if len(ls) != 1 {
		t.Fatalf("got %d log lines, want the function's one: %v", len(ls), ls)
	}
	want := map[string]any{
		"msg": "request", "method": "PUT", "route": "PUT /v2/{n1}/{n2}/manifests/{ref}", "repository": "team/app",
		"status": float64(201), "bytes_out": float64(len("created!")), "request_id": rec.Header().Get("Apigw-Requestid"),
	}
	for k, v := range want {
		if ls[0][k] != v {
			t.Errorf("log %s = %v (%T), want %v", k, ls[0][k], ls[0][k], v)
		}
	}
	if id, _ := ls[0]["request_id"].(string); id == "" {
		t.Error("log request_id is empty")
	}

	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nowhere", nil))
	ls = lines()
	if len(ls) != 1 || ls[0]["msg"] != "gateway" || ls[0]["answered"] != "no route" || ls[0]["status"] != float64(404) ||
		ls[0]["request_id"] != rec.Header().Get("Apigw-Requestid") {
		t.Errorf("no route: logged %v, want one gateway line with the request id", ls)
	}

	rec = httptest.NewRecorder()
	big := strings.Repeat("x", 11<<20)
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/v2/team/app/manifests/v1", strings.NewReader(big)))
	ls = lines()
	var body struct{ RequestID string }
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusRequestEntityTooLarge || body.RequestID == "" || body.RequestID != rec.Header().Get("Apigw-Requestid") {
		t.Errorf("over the body limit: %d %s, want 413 naming request id %s", rec.Code, rec.Body, rec.Header().Get("Apigw-Requestid"))
	}
	if len(ls) != 1 || ls[0]["answered"] != "limit" {
		t.Errorf("over the body limit: logged %v, want one gateway line", ls)
	}
}

func TestRequestIDsDiffer(t *testing.T) {
	g := newGateway(t, gateway.AWSLimits(), respond(t, events.APIGatewayV2HTTPResponse{StatusCode: 200}), nil)
	seen := map[string]bool{}
	for i := range 20 {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/", nil))
		id := rec.Header().Get("Apigw-Requestid")
		if id == "" || seen[id] {
			t.Fatalf("request %d: id %q empty or repeated", i, id)
		}
		seen[id] = true
	}
}

func TestObjectPrefixIsServedByObjects(t *testing.T) {
	g := newGateway(t, gateway.AWSLimits(), invokerFunc(func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("functions must not see object URLs")
	}), nil)
	g.Objects = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "object:"+r.URL.Path) })
	g.ObjectPrefix = "/_berth/objects/"
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_berth/objects/blobs/x?signature=s", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "object:/_berth/objects/blobs/x" {
		t.Errorf("got %d %q, want the object handler's answer", rec.Code, rec.Body)
	}
}

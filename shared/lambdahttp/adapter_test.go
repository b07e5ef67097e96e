package lambdahttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/reqinfo"
	"github.com/berth-registry/berth/shared/route"
)

// TestAuthorizerContextReachesTheHandler: the decision the authorizer
// put in requestContext.authorizer.lambda is what the enforcement point
// reads, after the JSON trip through API Gateway.
func TestAuthorizerContextReachesTheHandler(t *testing.T) {
	d := authz.Decision{Allow: true, Principal: auth.Principal{Tenancy: "dev", User: "reader"}, Via: "basic"}
	raw, _ := json.Marshal(d.Context())
	var lambdaCtx map[string]any
	if err := json.Unmarshal(raw, &lambdaCtx); err != nil {
		t.Fatal(err)
	}
	ev := event("GET", "/v2/")
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
	var got authz.Decision
	var principal string
	h := authz.Enforce(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = authz.DecisionFrom(r.Context())
		principal = reqinfo.From(r.Context()).Principal
	}), "registry.test")
	res, err := lambdahttp.Handler(h, quiet)(context.Background(), ev)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("%d %s %v", res.StatusCode, res.Body, err)
	}
	if !got.Allow || got.Principal.String() != "dev/reader" || got.Via != "basic" || principal != "dev/reader" {
		t.Errorf("handler saw decision %+v, principal %q", got, principal)
	}
	// Without the authorizer's context the enforcement point fails closed.
	res, _ = lambdahttp.Handler(h, quiet)(context.Background(), event("GET", "/v2/"))
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a decision: %d, want 401", res.StatusCode)
	}
}

// logLines decodes the JSON lines a logger wrote.
func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestOneLogLinePerRequest: the adapter logs each request once, as JSON,
// with what an operator searches by; the handler's own error line
// carries the same request id (through reqinfo's log handler).
func TestOneLogLinePerRequest(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(reqinfo.LogHandler(slog.NewJSONHandler(&logs, nil)))
	ev := event("PUT", "/v2/dev/app/manifests/v1")
	ev.RouteKey = "PUT /v2/{n1}/{n2}/manifests/{ref}"
	ev.PathParameters = map[string]string{"n1": "dev", "n2": "app", "ref": "v1"}
	ev.Body = `{"schemaVersion":2}`
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqinfo.SetPrincipal(r.Context(), "dev/pusher")
		log.ErrorContext(r.Context(), "storage failed", "error", "boom")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"errors":[]}`))
	})
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-1"})
	if _, err := lambdahttp.Handler(h, log)(ctx, ev); err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, &logs)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want the handler's error and one request line:\n%s", len(lines), logs.String())
	}
	if e := lines[0]; e["msg"] != "storage failed" || e["request_id"] != "ATfSmjLgPHcESJw=" {
		t.Errorf("error line %v lacks the request id", e)
	}
	l := lines[1]
	for k, want := range map[string]any{
		"msg": "request", "request_id": "ATfSmjLgPHcESJw=", "lambda_request_id": "lambda-1",
		"route": "PUT /v2/{n1}/{n2}/manifests/{ref}", "method": "PUT", "function": route.Manifests,
		"repository": "dev/app", "principal": "dev/pusher", "status": float64(500),
		"bytes_in": float64(len(ev.Body)), "bytes_out": float64(len(`{"errors":[]}`)),
	} {
		if l[k] != want {
			t.Errorf("%s = %v, want %v", k, l[k], want)
		}
	}
	if d, ok := l["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms = %v", l["duration_ms"])
	}
	if strings.Count(logs.String(), `"request_id"`) != 2 {
		t.Errorf("a line names its request id twice:\n%s", logs.String())
	}
}

// decider records the request it was asked about.
type decider struct {
	got authz.Request
	d   authz.Decision
	err error
}

func (f *decider) Decide(_ context.Context, r authz.Request) (authz.Decision, error) {
	f.got = r
	return f.d, f.err
}

func authorizerEvent(method, target, routeKey string, params map[string]string) events.APIGatewayV2CustomAuthorizerV2Request {
	path, query, _ := strings.Cut(target, "?")
	ev := events.APIGatewayV2CustomAuthorizerV2Request{
		Version: "2.0", Type: "REQUEST", RouteKey: routeKey, RawPath: path, RawQueryString: query,
		Headers: map[string]string{"host": "registry.example", "authorization": "Basic eA=="}, PathParameters: params,
	}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.RequestID = "req-1"
	return ev
}

// TestAuthorizerAdapter: the event becomes the authz.Request the
// authorizer decides, and the decision the context API Gateway passes
// on, always authorized at the gateway.
func TestAuthorizerAdapter(t *testing.T) {
	tests := []struct {
		name               string
		ev                 events.APIGatewayV2CustomAuthorizerV2Request
		function, repo     string
		mount, from, param string
	}{
		{"route key and path parameters become the match",
			authorizerEvent("GET", "/v2/dev/app/manifests/v1", "GET /v2/{n1}/{n2}/manifests/{ref}", map[string]string{"n1": "dev", "n2": "app", "ref": "v1"}),
			route.Manifests, "dev/app", "", "", "v1"},
		{"mount query is read from the raw query string",
			authorizerEvent("POST", "/v2/dev/app/blobs/uploads/?mount=sha256:abc&from=dev/other", "POST /v2/{n1}/{n2}/blobs/uploads", map[string]string{"n1": "dev", "n2": "app"}),
			route.Uploads, "dev/app", "sha256:abc", "dev/other", ""},
		{"docker's trailing slash at the catch-all names the uploads route",
			authorizerEvent("POST", "/v2/dev/app/blobs/uploads/", "ANY /v2/{proxy+}", map[string]string{"proxy": "dev/app/blobs/uploads/"}),
			route.Uploads, "dev/app", "", "", ""},
		{"an unknown route key is decided on the path",
			authorizerEvent("GET", "/v2/dev/app/tags/list", "$default", nil),
			route.Tags, "dev/app", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := authz.Decision{Allow: true, Principal: auth.Principal{Tenancy: "dev", User: "reader"}}
			f := &decider{d: want}
			res, err := lambdahttp.Authorizer(f, quiet)(context.Background(), tc.ev)
			if err != nil || !res.IsAuthorized {
				t.Fatalf("%+v, %v: the authorizer must always authorize at the gateway", res, err)
			}
			r := f.got
			if r.Method != tc.ev.RequestContext.HTTP.Method || r.Path != tc.ev.RawPath || r.Authorization != "Basic eA==" {
				t.Errorf("request %+v", r)
			}
			if r.Match.Route.Function != tc.function || r.Match.Name() != tc.repo {
				t.Errorf("match %s %q, want %s %q", r.Match.Route.Key(), r.Match.Name(), tc.function, tc.repo)
			}
			if r.Query.Get("mount") != tc.mount || r.Query.Get("from") != tc.from || (tc.param != "" && r.Match.Param("ref") != tc.param) {
				t.Errorf("query %v params %v", r.Query, r.Match.Params)
			}
			if d, ok := authz.FromContext(res.Context); !ok || d.Principal.String() != want.Principal.String() || !d.Allow {
				t.Errorf("context %v, want the decision %+v", res.Context, want)
			}
		})
	}
}

// TestAuthorizerFailureIsA503Decision: when deciding fails the adapter
// neither fails open nor errs (API Gateway would answer a bare 500): it
// carries authz.Unavailable, logging the error once with the request id
// and never the credentials, beside its request line.
func TestAuthorizerFailureIsA503Decision(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(reqinfo.LogHandler(slog.NewJSONHandler(&logs, nil)))
	f := &decider{err: errors.New("bolt: database not open")}
	ev := authorizerEvent("GET", "/v2/", "GET /v2", nil)
	ev.Headers["authorization"] = "Basic ZGV2L3JlYWRlcjpzM2NyM3Q="
	res, err := lambdahttp.Authorizer(f, log)(context.Background(), ev)
	if err != nil || !res.IsAuthorized {
		t.Fatalf("%+v, %v", res, err)
	}
	if d, ok := authz.FromContext(res.Context); !ok || d.Allow || d.Status != http.StatusServiceUnavailable {
		t.Errorf("decision %+v, want a refusal with status 503", d)
	}
	lines := logLines(t, &logs)
	if len(lines) != 2 || lines[0]["level"] != "ERROR" || lines[0]["request_id"] != "req-1" || lines[1]["msg"] != "authorize" || lines[1]["request_id"] != "req-1" {
		t.Errorf("logged %v; want the error and the request line, each with the request id", lines)
	}
	if strings.Contains(logs.String(), "ZGV2L3JlYWRlcjpzM2NyM3Q=") || strings.Contains(logs.String(), "s3cr3t") {
		t.Errorf("the log holds the credentials: %s", logs.String())
	}
}

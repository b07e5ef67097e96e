package authfn

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/authz"
)

// TestAuthorizerReadsTheKMSKeyOnFirstUse: with a KMS signing key the
// authorizer and the token function start without calling KMS (a cold
// start waits on no network), and read the key when an invocation needs
// it — here from an endpoint that refuses, so the invocation answers
// 503, and so does the next: they try again rather than keep the
// failure.
func TestAuthorizerReadsTheKMSKeyOnFirstUse(t *testing.T) {
	for k, v := range map[string]string{
		"BERTH_BACKEND": "aws", "BERTH_TABLE": "t", "BERTH_BUCKET": "b", "BERTH_SIGNING_KEY": "",
		"BERTH_SIGNING_KEY_ID": "arn:aws:kms:us-east-1:111122223333:key/k", "BERTH_LOG_LEVEL": "error",
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:1", "AWS_MAX_ATTEMPTS": "1",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	} {
		t.Setenv(k, v)
	}
	h, err := Authorizer(context.Background())
	if err != nil {
		t.Fatalf("Authorizer at init: %v (it must not need KMS yet)", err)
	}
	res, err := h(context.Background(), events.APIGatewayV2CustomAuthorizerV2Request{RouteKey: "GET /v2", RawPath: "/v2/"})
	if err != nil || !res.IsAuthorized {
		t.Fatalf("invocation with KMS unreachable: %+v, %v; want a decision in the context", res, err)
	}
	if d, ok := authz.FromContext(res.Context); !ok || d.Status != http.StatusServiceUnavailable {
		t.Errorf("invocation with KMS unreachable: decision %+v, want 503", d)
	}
	env, st, err := open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l := &lazy{env: env, st: st}
	for i := range 2 {
		if _, err := l.Decide(context.Background(), authz.Request{Method: "GET", Path: "/v2/"}); err == nil || !strings.Contains(err.Error(), "GetPublicKey") {
			t.Errorf("decision %d with KMS unreachable: %v, want the GetPublicKey error", i+1, err)
		}
	}
	if l.a != nil {
		t.Error("a failed key read was kept")
	}
	tok, err := Token(context.Background())
	if err != nil {
		t.Fatalf("Token at init: %v (it must not need KMS yet)", err)
	}
	ev := events.APIGatewayV2HTTPRequest{RouteKey: "GET /token", RawPath: "/token"}
	ev.RequestContext.HTTP.Method = "GET"
	ev.RequestContext.RequestID = "req-kms"
	for i := range 2 {
		res, err := tok(context.Background(), ev)
		if err != nil || res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(res.Body, `"UNAVAILABLE"`) || !strings.Contains(res.Body, "req-kms") {
			t.Errorf("token request %d with KMS unreachable: %d %s %v, want 503 UNAVAILABLE naming the request id", i+1, res.StatusCode, res.Body, err)
		}
	}
}

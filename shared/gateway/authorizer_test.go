package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/gateway"
)

// authorizer is a fake Lambda authorizer answering with a simple response
// (or failing with err); it counts its calls and keeps the last event.
type authorizer struct {
	res   events.APIGatewayV2CustomAuthorizerSimpleResponse
	err   error
	calls int
	last  events.APIGatewayV2CustomAuthorizerV2Request
}

func (a *authorizer) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	a.calls++
	if err := json.Unmarshal(payload, &a.last); err != nil {
		return nil, err
	}
	if a.err != nil {
		return nil, a.err
	}
	return json.Marshal(a.res)
}

func TestAuthorizerRunsBeforeFunctions(t *testing.T) {
	allow := events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: map[string]any{"principal": "dev/admin"}}
	tests := []struct {
		name         string
		auth         *authorizer
		target       string
		wantStatus   int
		wantBody     string
		wantInvoked  bool
		wantAuthCall bool
	}{
		{"allow passes the context to the function", &authorizer{res: allow}, "/v2/app/tags/list", 200, "", true, true},
		{"deny → API Gateway's 403", &authorizer{}, "/v2/app/tags/list", 403, `{"message":"Forbidden"}`, false, true},
		{"authorizer failure → API Gateway's 500", &authorizer{err: errors.New("boom")}, "/v2/", 500, `{"message":"Internal Server Error"}`, false, true},
		{"/token is served without the authorizer", &authorizer{}, "/token?service=x", 200, "", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ev events.APIGatewayV2HTTPRequest
			g := newGateway(t, gateway.AWSLimits(), capture(t, &ev), nil)
			g.Authorizer = tc.auth
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.target, nil))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantBody != "" && rec.Body.String() != tc.wantBody {
				t.Errorf("body %q, want %q", rec.Body, tc.wantBody)
			}
			if invoked := ev.Version != ""; invoked != tc.wantInvoked {
				t.Errorf("function invoked = %v, want %v", invoked, tc.wantInvoked)
			}
			if called := tc.auth.calls > 0; called != tc.wantAuthCall {
				t.Errorf("authorizer called = %v, want %v", called, tc.wantAuthCall)
			}
			if tc.wantAuthCall {
				a := tc.auth.last
				if a.Version != "2.0" || a.Type != "REQUEST" || a.RawPath == "" || a.RouteKey == "" {
					t.Errorf("authorizer event version %q type %q rawPath %q routeKey %q, want a 2.0 REQUEST event for the route",
						a.Version, a.Type, a.RawPath, a.RouteKey)
				}
			}
			if tc.wantInvoked && tc.wantAuthCall {
				az := ev.RequestContext.Authorizer
				if az == nil || az.Lambda["principal"] != "dev/admin" {
					t.Errorf("requestContext.authorizer = %+v, want lambda context principal dev/admin", az)
				}
			}
		})
	}
}

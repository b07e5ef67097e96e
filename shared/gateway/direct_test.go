package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestPayloadBoundIsAnUpperBound: the bound the in-process path checks
// Lambda's payload limit with is never below the event's JSON size, so
// an event over the limit is never let through: with an authorizer
// context of every kind of value, with escapes and non-ASCII text.
func TestPayloadBoundIsAnUpperBound(t *testing.T) {
	odd := "quote\" back\\slash <tag> & é \x01 " + strings.Repeat("ü", 2000) // past the envelope's slack
	for name, ev := range map[string]events.APIGatewayV2HTTPRequest{
		"no authorizer": {RawPath: "/v2/" + odd, Headers: map[string]string{"a": odd}, Body: odd},
		"decision context": {RawPath: "/v2/x", RequestContext: events.APIGatewayV2HTTPRequestContext{
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{
				"allow": true, "status": 403, "user": odd, "groups": odd + "," + odd, "ratio": -1.2345678901234567e-300,
				"big": int64(-9223372036854775808), "nil": nil, "list": []string{odd, odd},
			}},
		}},
		"jwt authorizer": {RequestContext: events.APIGatewayV2HTTPRequestContext{
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": odd}, Scopes: []string{odd}},
			},
		}},
	} {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := payloadBound(&ev); got < len(b) {
			t.Errorf("%s: bound %d below the encoded size %d", name, got, len(b))
		}
	}
}

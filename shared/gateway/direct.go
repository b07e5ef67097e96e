package gateway

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
)

// HTTPFunc is a payload-2.0 Lambda handler the gateway runs in-process.
// Its Invoke takes and returns JSON like any Invoker; the gateway also
// calls it with the event value directly: the payload-2.0 types survive
// a JSON round trip unchanged, so encoding the event only to decode it
// again would hand the handler the same values at several times the CPU
// cost of the request itself. What the round trip also gave — the size
// Lambda counts — is still enforced, from a bound (payloadBound) that is
// exact where it matters (base64 bodies) and conservative elsewhere; near
// the limit the event is encoded to count it exactly.
type HTTPFunc func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Invoke implements Invoker.
func (f HTTPFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	res, err := f(ctx, ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

// AuthorizerFunc is an HTTP API REQUEST authorizer (payload 2.0, simple
// responses) the gateway runs in-process, directly like HTTPFunc.
type AuthorizerFunc func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)

// Invoke implements Invoker.
func (f AuthorizerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2CustomAuthorizerV2Request
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	res, err := f(ctx, ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

// strBound is the most bytes a string can take as a JSON string: every
// byte escaped as \u00XX, plus quotes.
func strBound(s string) int { return 6*len(s) + 2 }

func mapBound(m map[string]string) int {
	n := 2
	for k, v := range m {
		n += strBound(k) + strBound(v) + 2
	}
	return n
}

func listBound(l []string) int {
	n := 2
	for _, s := range l {
		n += strBound(s) + 1
	}
	return n
}

// envelopeBound covers the field names, numbers and fixed strings of an
// event or response.
const envelopeBound = 4096

// payloadBound is an upper bound of the JSON size of an event.
func payloadBound(ev *events.APIGatewayV2HTTPRequest) int {
	n := envelopeBound + mapBound(ev.Headers) + mapBound(ev.QueryStringParameters) +
		mapBound(ev.PathParameters) + listBound(ev.Cookies) +
		strBound(ev.RawPath) + strBound(ev.RawQueryString) + 2*strBound(ev.RouteKey)
	rc := ev.RequestContext
	for _, s := range []string{rc.DomainName, rc.DomainPrefix, rc.RequestID, rc.HTTP.Path, rc.HTTP.Method, rc.HTTP.Protocol, rc.HTTP.SourceIP, rc.HTTP.UserAgent, rc.Time, rc.Stage, rc.APIID, rc.AccountID} {
		n += strBound(s)
	}
	if a := rc.Authorizer; a != nil {
		n += authorizerBound(a)
	}
	return n + bodyBound(ev.Body, ev.IsBase64Encoded)
}

// authorizerBound bounds the authorizer's part of an event: a simple
// response's context holds strings, booleans and numbers, which are
// bounded without encoding them; anything else is encoded to count it.
func authorizerBound(a *events.APIGatewayV2HTTPRequestContextAuthorizerDescription) int {
	if a.JWT != nil || a.IAM != nil {
		b, _ := json.Marshal(a)
		return len(b)
	}
	n := 64 // "authorizer":{"lambda":{...}} and the separators
	for k, v := range a.Lambda {
		n += strBound(k) + 2
		switch v := v.(type) {
		case string:
			n += strBound(v)
		case bool, nil:
			n += len("false")
		case int, int64, float64:
			n += 24 // the longest JSON number Go writes for them
		default:
			b, _ := json.Marshal(v)
			n += len(b)
		}
	}
	return n
}

// responseBound is an upper bound of the JSON size of a response.
func responseBound(res *events.APIGatewayV2HTTPResponse) int {
	return envelopeBound + mapBound(res.Headers) + listBound(res.Cookies) + bodyBound(res.Body, res.IsBase64Encoded)
}

// bodyBound: base64 needs no escaping, so its size is exact.
func bodyBound(body string, b64 bool) int {
	if b64 {
		return len(body) + 2
	}
	return strBound(body)
}

// eventSize is the event's size as Lambda counts it: bounded cheaply,
// encoded exactly only when the bound reaches max.
func eventSize(ev *events.APIGatewayV2HTTPRequest, max int) (int, error) {
	if b := payloadBound(ev); b <= max {
		return b, nil
	}
	p, err := json.Marshal(ev)
	return len(p), err
}

// responseSize is eventSize for a function's response.
func responseSize(res *events.APIGatewayV2HTTPResponse, max int) (int, error) {
	if b := responseBound(res); b <= max {
		return b, nil
	}
	p, err := json.Marshal(res)
	return len(p), err
}

// Note: gateway.HTTPFunc and AuthorizerFunc are safe for concurrent
// invocations. aws-lambda-go's lambda.NewHandler is not (v1.55.1: its
// Invoke returns the bytes of a pooled buffer after putting the buffer
// back, so a concurrent invocation can overwrite a response before the
// caller reads it); Lambda never invokes one instance concurrently, the
// local gateway does — so the local gateway never uses it.

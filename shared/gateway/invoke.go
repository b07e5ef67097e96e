package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	simdbase64 "github.com/segmentio/asm/base64"

	"github.com/berth-registry/berth/shared/errcode"
)

// invoke runs a function through Lambda's JSON interface, under the
// integration timeout and the response limit.
func (g *Gateway) invoke(ctx context.Context, fn Invoker, payload []byte) (events.APIGatewayV2HTTPResponse, error) {
	var out []byte
	err := g.withTimeout(ctx, func(ctx context.Context) (err error) {
		out, err = fn.Invoke(ctx, payload)
		return err
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if max := g.limits.MaxResponsePayload; max > 0 && len(out) > max {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("function response of %d bytes is over Lambda's %d-byte limit", len(out), max)
	}
	return decodeResponse(out)
}

// invokeDirect runs an in-process function with the event value, under
// the same timeout and response limit as invoke.
func (g *Gateway) invokeDirect(ctx context.Context, fn HTTPFunc, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	var res events.APIGatewayV2HTTPResponse
	err := g.withTimeout(ctx, func(ctx context.Context) (err error) {
		res, err = fn(ctx, ev)
		return err
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if max := g.limits.MaxResponsePayload; max > 0 {
		n, err := responseSize(&res, max)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		if n > max {
			return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("function response of %d bytes is over Lambda's %d-byte limit", n, max)
		}
	}
	return res, nil
}

// withTimeout runs call on a worker and answers at the integration
// timeout whatever the function does, as API Gateway would. A function
// that gives up because the deadline passed (it honours ctx) timed out
// just as one that never answers does. The variables call sets are read
// only after it returned.
func (g *Gateway) withTimeout(ctx context.Context, call func(context.Context) error) error {
	if g.limits.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.limits.Timeout)
		defer cancel()
	}
	done := make(chan error, 1)
	g.workers.run(func() { done <- call(ctx) })
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errcode.New(errcode.Unavailable,
			"the function did not answer within API Gateway's %s integration timeout; for large layers use `berth push` or `berth proxy`", g.limits.Timeout)
	}
	if err != nil {
		return fmt.Errorf("function failed: %w", err)
	}
	return nil
}

// statusCodeFirst begins a JSON object whose first key is statusCode.
var statusCodeFirst = []byte(`{"statusCode":`)

// decodeResponse reads a function's output as API Gateway does for
// payload 2.0: a JSON object with statusCode is a full response; any
// other valid JSON is the body of a 200 application/json response (the
// inferred format; a JSON string is the body itself), and anything else
// is an error (docs/gateway-facts.md §4).
func decodeResponse(out []byte) (events.APIGatewayV2HTTPResponse, error) {
	// Fast path: aws-lambda-go encodes a full response with statusCode as
	// the first key; one decode settles it. Any other output, or one that
	// does not decode, takes the general path below.
	if bytes.HasPrefix(out, statusCodeFirst) {
		var res events.APIGatewayV2HTTPResponse
		if json.Unmarshal(out, &res) == nil {
			return res, nil
		}
	}
	var res events.APIGatewayV2HTTPResponse
	var fields map[string]json.RawMessage
	if json.Unmarshal(out, &fields) == nil && fields["statusCode"] != nil {
		if err := json.Unmarshal(out, &res); err != nil {
			return res, fmt.Errorf("function response is not a payload-2.0 response: %w", err)
		}
		return res, nil
	}
	var body bytes.Buffer
	if err := json.Compact(&body, out); err != nil {
		return res, fmt.Errorf("function response is not JSON: %w", err)
	}
	res = events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK,
		Headers: map[string]string{"content-type": "application/json"}, Body: body.String()}
	var s string
	if json.Unmarshal(out, &s) == nil {
		res.Body = s
	}
	return res, nil
}

// write writes a function's response; it fails (writing nothing) on a
// body that is not the base64 it claims to be.
func (g *Gateway) write(w http.ResponseWriter, r *http.Request, res events.APIGatewayV2HTTPResponse) error {
	body := []byte(res.Body)
	if res.IsBase64Encoded {
		b, err := simdbase64.StdEncoding.DecodeString(res.Body)
		if err != nil {
			return fmt.Errorf("function returned invalid base64: %w", err)
		}
		body = b
	}
	h := w.Header()
	// As h.Set(k, v) for each header, with the one-value slices cut from
	// one array (capped, so an Add reallocates, as after Set).
	vals := make([]string, 0, len(res.Headers))
	for k, v := range res.Headers {
		vals = append(vals, v)
		n := len(vals)
		h[http.CanonicalHeaderKey(k)] = vals[n-1 : n : n]
	}
	for _, c := range res.Cookies {
		h.Add("Set-Cookie", c)
	}
	if r.Method != http.MethodHead || h.Get("Content-Length") == "" {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	status := res.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}

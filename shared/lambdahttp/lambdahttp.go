// Package lambdahttp adapts an http.Handler to an API Gateway HTTP API
// (payload format 2.0) Lambda handler. It is the same few steps as
// aws-lambda-go-api-proxy's httpadapter, kept here so that we control
// what matters to a registry: HEAD responses keep their Content-Length,
// binary bodies round-trip as base64, and the route API Gateway chose
// (route key and path parameters) reaches the handler.
package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	berthevents "github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/route"
)

// HandlerFunc is a payload-2.0 Lambda handler.
type HandlerFunc func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

type requestIDKey struct{}

type authorizerKey struct{}

// AuthorizerContext returns the Lambda authorizer's context that API
// Gateway passed with the request (requestContext.authorizer.lambda), or
// nil.
func AuthorizerContext(ctx context.Context) map[string]any {
	m, _ := ctx.Value(authorizerKey{}).(map[string]any)
	return m
}

// WithAuthorizerContext returns ctx carrying an authorizer context (for
// handlers served outside Lambda).
func WithAuthorizerContext(ctx context.Context, c map[string]any) context.Context {
	return context.WithValue(ctx, authorizerKey{}, c)
}

// RequestID returns the API Gateway request id of the request in ctx.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey{}).(string)
	return s
}

// Handler returns a Lambda handler that serves each event with h.
func Handler(h http.Handler) HandlerFunc {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		r, err := Request(ctx, ev)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest, Body: `{"errors":[{"code":"UNKNOWN","message":"malformed request"}]}`}, nil
		}
		rec := newRecorder()
		h.ServeHTTP(rec, r)
		return rec.response(), nil
	}
}

// Request builds the http.Request an event describes.
func Request(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	var body []byte
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, err
		}
		body = b
	} else {
		body = []byte(ev.Body)
	}
	// rawPath reaches Lambda percent-decoded (docs/gateway-facts.md §3);
	// re-escape it so URL.Path and URL.EscapedPath agree.
	u := &url.URL{Path: ev.RawPath, RawQuery: ev.RawQueryString}
	uri := u.RequestURI()
	method := ev.RequestContext.HTTP.Method
	// The context is complete before the request is made, which spares
	// copying the request with WithContext.
	ctx = context.WithValue(ctx, requestIDKey{}, ev.RequestContext.RequestID)
	ctx = berthevents.WithRequestID(ctx, ev.RequestContext.RequestID) // for the events the request makes
	if a := ev.RequestContext.Authorizer; a != nil && a.Lambda != nil {
		ctx = WithAuthorizerContext(ctx, a.Lambda)
	}
	if m, ok := route.FromEvent(ev.RouteKey, ev.PathParameters, method, ev.RawPath); ok {
		ctx = route.WithMatch(ctx, m)
	}
	r, err := http.NewRequestWithContext(ctx, method, uri, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	// As r.Header.Set(k, v) for each header, with the one-value slices
	// cut from one array (capped, so an Add reallocates, as after Set).
	vals := make([]string, 0, len(ev.Headers))
	for k, v := range ev.Headers {
		vals = append(vals, v)
		n := len(vals)
		r.Header[http.CanonicalHeaderKey(k)] = vals[n-1 : n : n]
	}
	if len(ev.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	r.ContentLength = int64(len(body))
	r.Host = ev.Headers["host"]
	if r.Host == "" {
		r.Host = ev.RequestContext.DomainName
	}
	r.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	r.RequestURI = uri
	return r, nil
}

// recorder captures a handler's response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// textual reports whether a body of this content type travels as plain
// text rather than base64.
func textual(contentType string, body []byte) bool {
	ct := strings.ToLower(contentType)
	isText := strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "xml") || strings.Contains(ct, "javascript")
	return isText && utf8.Valid(body)
}

func (w *recorder) response() events.APIGatewayV2HTTPResponse {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	res := events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: map[string]string{}}
	for k, vs := range w.header {
		if http.CanonicalHeaderKey(k) == "Set-Cookie" {
			res.Cookies = append(res.Cookies, vs...)
			continue
		}
		res.Headers[k] = strings.Join(vs, ",")
	}
	b := w.body.Bytes()
	if cl := w.header.Get("Content-Length"); cl != "" && len(b) == 0 {
		// A HEAD answer's length, repeated under a name no front door
		// rewrites, so an edge function can restore Content-Length if
		// the gateway drops it (docs/doctor.md).
		res.Headers["X-Berth-Content-Length"] = cl
	}
	if len(b) > 0 {
		if textual(w.header.Get("Content-Type"), b) {
			res.Body = string(b)
		} else {
			res.Body = base64.StdEncoding.EncodeToString(b)
			res.IsBase64Encoded = true
		}
	}
	return res
}

// Package lambdahttp is the Lambda edge of Berth's functions: it turns
// API Gateway HTTP API events (payload format 2.0) into http.Requests for
// a function's http.Handler and its response back into the event API
// Gateway expects, through aws-lambda-go-api-proxy's httpadapter, and
// adapts the authorizer (authorizer.go). Both write one structured log
// line per request. The function mains, the local gateway's in-process
// path and Lambda mode all run this code.
//
// The library does the conversion; this package adds only what a
// registry needs that it does not do, each pinned by a test that fails
// without it (lambdahttp_test.go):
//   - the route API Gateway chose (route key and path parameters), the
//     request id and the authorizer's context reach the handler through
//     context values the domain packages read (route, reqinfo, authz),
//     which import no Lambda types;
//   - rawPath, which API Gateway passes percent-decoded, is escaped
//     before the library parses it as a URL (a "?" or "%" in it would
//     otherwise become a query or fail the request);
//   - a handler that writes nothing answers 200 and the first
//     WriteHeader wins, as with net/http (the library fails the first
//     and lets the last status win);
//   - an empty answer that states its Content-Length (a HEAD) repeats it
//     as X-Berth-Content-Length, a name no front door rewrites
//     (docs/doctor.md).
package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	simdbase64 "github.com/segmentio/asm/base64"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/reqinfo"
	"github.com/berth-registry/berth/shared/route"
)

// HandlerFunc is a payload-2.0 Lambda handler.
type HandlerFunc func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Handler returns the Lambda handler that serves each event with h and
// logs one line per request to log.
//
// It runs the steps of httpadapter.HandlerAdapterV2.ProxyWithContext
// with the library's own converters (core.RequestAccessorV2,
// core.ProxyResponseWriterV2), but gives the request its context once:
// ProxyWithContext also stores a copy of the whole request context in
// it, which nothing here reads, at an allocation per request on the
// local gateway's in-process path.
func Handler(h http.Handler, log *slog.Logger) HandlerFunc {
	var conv core.RequestAccessorV2
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		start := time.Now()
		info := &reqinfo.Info{ID: ev.RequestContext.RequestID}
		rctx := reqinfo.With(ctx, info)
		method := ev.RequestContext.HTTP.Method
		m, routed := route.FromEvent(ev.RouteKey, ev.PathParameters, method, ev.RawPath)
		if routed {
			rctx = route.WithMatch(rctx, m)
		}
		if a := ev.RequestContext.Authorizer; a != nil && a.Lambda != nil {
			rctx = authz.WithAuthorizerContext(rctx, a.Lambda)
		}
		path := ev.RawPath
		ev.RawPath = escapePath(path)
		res, err := serve(conv, h, rctx, ev)
		if err == nil && res.Body == "" {
			if cl := res.Headers["Content-Length"]; cl != "" {
				res.Headers["X-Berth-Content-Length"] = cl
			}
		}
		if log.Enabled(ctx, slog.LevelInfo) {
			attrs := make([]slog.Attr, 0, 13)
			attrs = append(attrs,
				slog.String("request_id", info.ID),
				slog.String("route", ev.RouteKey),
				slog.String("method", method),
				slog.String("path", path),
				slog.String("function", m.Route.Function),
				slog.String("repository", m.Name()),
				slog.String("principal", info.Principal),
				slog.Int("status", res.StatusCode),
				slog.Int("bytes_in", bodyLen(ev.Body, ev.IsBase64Encoded)),
				slog.Int("bytes_out", bodyLen(res.Body, res.IsBase64Encoded)),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			)
			if lc, ok := lambdacontext.FromContext(ctx); ok {
				attrs = append(attrs, slog.String("lambda_request_id", lc.AwsRequestID))
			}
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
			// Logged with the caller's context, which carries no request
			// info: request_id is here once, whatever the log handler adds.
			log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
		}
		return res, err
	}
}

// serve converts ev, serves it with h and converts the answer, as
// ProxyWithContext does (its errors are its own: an event that is no
// request, an answer that is none), logged in the request's line.
func serve(conv core.RequestAccessorV2, h http.Handler, ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	// The body is decoded and attached here, not by the library: it
	// copies the event's body whole, then decodes base64 with the
	// standard decoder, which for a 4 MiB layer chunk costs 3.4× the SIMD
	// decoder's time (amd64 and arm64 both) — 5 ms of billed CPU per
	// chunk — and hands the handler a reader it must copy from again.
	var body []byte
	if ev.IsBase64Encoded {
		var err error
		if body, err = simdbase64.StdEncoding.DecodeString(ev.Body); err != nil {
			return core.GatewayTimeoutV2(), fmt.Errorf("the event is no HTTP request: its base64 body: %w", err)
		}
	} else if ev.Body != "" {
		body = []byte(ev.Body)
	}
	ev.Body, ev.IsBase64Encoded = "", false
	r, err := conv.EventToRequest(ev)
	if err != nil {
		return core.GatewayTimeoutV2(), fmt.Errorf("the event is no HTTP request: %w", err)
	}
	if len(body) > 0 {
		r.Body, r.ContentLength = newMemoryBody(body), int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return newMemoryBody(body), nil }
	}
	w := core.NewProxyResponseWriterV2()
	sw := &statusWriter{ResponseWriter: w}
	h.ServeHTTP(sw, r.WithContext(ctx))
	if sw.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	res, err := w.GetProxyResponse()
	if err != nil {
		return core.GatewayTimeoutV2(), fmt.Errorf("the handler's answer is no HTTP response: %w", err)
	}
	return res, nil
}

// escapePath escapes a percent-decoded rawPath for the library, which
// appends it to a URL it parses; the handler sees it decoded again in
// URL.Path. Paths that need no escaping (every valid registry path) are
// returned as they are, without allocating.
func escapePath(p string) string {
	u := url.URL{Path: p}
	return u.EscapedPath()
}

// bodyLen is the length of an event or response body as bytes.
func bodyLen(body string, b64 bool) int {
	if b64 {
		return base64.StdEncoding.DecodedLen(len(body)) - padding(body)
	}
	return len(body)
}

func padding(s string) int {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '='; i-- {
		n++
	}
	return n
}

// statusWriter keeps net/http's rules the library's writer does not:
// the first WriteHeader wins, and a body written first means 200.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// MemoryBody is a request body the adapter holds in memory whole (the
// event's, decoded). It reads as any body does; Bytes gives a handler
// that wants the whole body the unread bytes themselves, without the
// copy reading them out would make (a layer chunk is megabytes).
type MemoryBody struct {
	*bytes.Reader
	b []byte
}

func newMemoryBody(b []byte) *MemoryBody { return &MemoryBody{Reader: bytes.NewReader(b), b: b} }

// Bytes returns the bytes not read yet. The caller must not change them.
func (m *MemoryBody) Bytes() []byte { return m.b[len(m.b)-m.Len():] }

// Close implements io.Closer.
func (m *MemoryBody) Close() error { return nil }

// Package gateway is the local stand-in for API Gateway (HTTP API,
// payload 2.0) in front of Lambda: it matches the route table, builds the
// event API Gateway would send, invokes the function's handler with the
// event's JSON, and writes the function's response back — enforcing the
// same limits, so what fails on AWS fails locally too. It also serves the
// embedded store's signed object URLs, standing in for S3.
package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/reqinfo"
	"github.com/berth-registry/berth/shared/route"
)

// Invoker runs a function with a JSON payload, as Lambda's Invoke API
// does (aws-lambda-go's lambda.Handler has this method).
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Gateway serves HTTP by invoking functions.
type Gateway struct {
	router    *route.Router
	functions map[string]Invoker
	limits    Limits
	log       *slog.Logger
	// Objects serves signed object URLs (the embedded store's S3
	// stand-in); nil when storage is S3.
	Objects http.Handler
	// ObjectPrefix is the path under which Objects serves.
	ObjectPrefix string
	workers      *workers
	// Authorizer, when set, runs before every route but the NoAuth ones,
	// as an HTTP API Lambda authorizer (payload 2.0, simple responses,
	// no identity sources, so it runs on every request).
	Authorizer Invoker
}

// New returns a gateway dispatching the route table to functions by name.
func New(functions map[string]Invoker, limits Limits, log *slog.Logger) *Gateway {
	return &Gateway{router: route.NewRouter(route.Table()), functions: functions, limits: limits, log: log, workers: newWorkers()}
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// countingWriter records the status of an object request for its log
// line.
type countingWriter struct {
	http.ResponseWriter
	status int
}

func (w *countingWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP implements http.Handler. Every answer carries the request
// id in apigw-requestid, as API Gateway's do. A request a function
// served is logged by the function (shared/lambdahttp's one line per
// request, as on AWS); the gateway logs only what it answered itself —
// no route, the authorizer's refusal or failure, a limit, a function
// that failed or timed out — and the object URLs it serves in S3's
// place.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newRequestID()
	w.Header().Set("Apigw-Requestid", id)
	if g.Objects != nil && strings.HasPrefix(r.URL.Path, g.ObjectPrefix) {
		cw := &countingWriter{ResponseWriter: w}
		g.Objects.ServeHTTP(cw, r)
		g.logAnswer(r, id, start, "", cw.status, "object")
		return
	}
	if status, routeKey, why := g.serve(w, r, id); why != "" {
		g.logAnswer(r, id, start, routeKey, status, why)
	}
}

// logAnswer logs a request the gateway answered itself.
func (g *Gateway) logAnswer(r *http.Request, id string, start time.Time, routeKey string, status int, why string) {
	// Info would drop the line anyway; checking first spares building
	// its attributes. (Info asks Enabled with context.Background(), so
	// this asks the same question.)
	if !g.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	g.log.Info("gateway", "request_id", id, "method", r.Method, "path", r.URL.Path, "route", routeKey,
		"status", status, "answered", why, "latency_ms", float64(time.Since(start).Microseconds())/1000)
}

// serve routes, authorizes and invokes. When the gateway answers
// itself it returns the status, the route key and why; when a function
// answered, why is "".
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, id string) (status int, routeKey, why string) {
	if g.limits.MaxHeaderBytes > 0 {
		if n := headerBytes(r); n > g.limits.MaxHeaderBytes {
			return g.fail(w, r, id, errcode.New(errcode.Unsupported,
				"the request line and headers are %d bytes; API Gateway HTTP APIs accept at most %d", n, g.limits.MaxHeaderBytes).
				WithStatus(http.StatusRequestHeaderFieldsTooLarge)), "", "limit"
		}
	}
	buf, err := g.readBody(r)
	if err != nil {
		return g.fail(w, r, id, err), "", "limit"
	}
	// The body is in the event once buildEvent has encoded (or copied)
	// it; its buffer goes back to the pool then.
	defer putBody(buf)
	body := buf.Bytes()
	// Match on the path as sent: an encoded "%2F" is not a separator
	// (the parameters are decoded once, in Find).
	m, ok := g.router.Find(r.Method, r.URL.EscapedPath())
	if !ok {
		// What API Gateway answers when no route matches.
		return gatewayAnswer(w, http.StatusNotFound, `{"message":"Not Found"}`), "", "no route"
	}
	fn, ok := g.functions[m.Route.Function]
	if !ok {
		return g.fail(w, r, id, fmt.Errorf("no function %q is loaded", m.Route.Function)), m.Route.Key(), "no function"
	}
	scratch := encodePool.Get().(*[]byte)
	ev := buildEvent(r, m, body, scratch, id, time.Now())
	routeKey = ev.RouteKey
	if g.Authorizer != nil && !m.Route.NoAuth {
		lambdaCtx, status := g.authorize(r.Context(), ev)
		switch status {
		case 0:
		case http.StatusForbidden:
			// What API Gateway answers itself when the authorizer says
			// no (403) or fails (500).
			return gatewayAnswer(w, status, `{"message":"Forbidden"}`), routeKey, "authorizer refused"
		default:
			return gatewayAnswer(w, status, `{"message":"Internal Server Error"}`), routeKey, "authorizer failed"
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
	}
	direct, isDirect := fn.(HTTPFunc)
	var payload []byte
	size := 0
	if isDirect {
		max := g.limits.MaxRequestPayload
		if max <= 0 {
			max = int(^uint(0) >> 1)
		}
		if size, err = eventSize(&ev, max); err != nil {
			return g.fail(w, r, id, err), routeKey, "event"
		}
	} else {
		if payload, err = json.Marshal(ev); err != nil {
			return g.fail(w, r, id, err), routeKey, "event"
		}
		size = len(payload)
	}
	if max := g.limits.MaxRequestPayload; max > 0 && size > max {
		return g.fail(w, r, id, tooLarge(fmt.Sprintf("the request (%d body bytes) makes a %d-byte Lambda event after base64 encoding, over Lambda's %d-byte invoke payload limit", len(body), size, max))), routeKey, "limit"
	}
	var res events.APIGatewayV2HTTPResponse
	if isDirect {
		res, err = g.invokeDirect(r.Context(), direct, ev)
	} else {
		res, err = g.invoke(r.Context(), fn, payload)
	}
	if err != nil {
		// A function that timed out may still hold the event: its
		// scratch is not reused.
		return g.fail(w, r, id, err), routeKey, "function failed"
	}
	encodePool.Put(scratch)
	if err := g.write(w, r, res); err != nil {
		return g.fail(w, r, id, err), routeKey, "function failed"
	}
	return res.StatusCode, routeKey, ""
}

// gatewayAnswer writes one of API Gateway's own answers.
func gatewayAnswer(w http.ResponseWriter, status int, body string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
	return status
}

// authorize runs the authorizer on the request's event and returns the
// context it grants, or the status API Gateway would answer instead.
func (g *Gateway) authorize(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (map[string]any, int) {
	aev := events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              "arn:aws:execute-api:local:000000000000:local/$default/" + strings.Replace(ev.RouteKey, " ", "", 1),
		RouteKey:              ev.RouteKey,
		RawPath:               ev.RawPath,
		RawQueryString:        ev.RawQueryString,
		Cookies:               ev.Cookies,
		Headers:               ev.Headers,
		QueryStringParameters: ev.QueryStringParameters,
		RequestContext:        ev.RequestContext,
		PathParameters:        ev.PathParameters,
	}
	var res events.APIGatewayV2CustomAuthorizerSimpleResponse
	if f, ok := g.Authorizer.(AuthorizerFunc); ok {
		var err error
		if res, err = f(ctx, aev); err != nil {
			g.log.Error("authorizer failed", "request_id", ev.RequestContext.RequestID, "error", err.Error())
			return nil, http.StatusInternalServerError
		}
	} else {
		payload, err := json.Marshal(aev)
		if err != nil {
			return nil, http.StatusInternalServerError
		}
		out, err := g.Authorizer.Invoke(ctx, payload)
		if err != nil {
			g.log.Error("authorizer failed", "request_id", ev.RequestContext.RequestID, "error", err.Error())
			return nil, http.StatusInternalServerError
		}
		if err := json.Unmarshal(out, &res); err != nil {
			g.log.Error("authorizer response is not a simple response", "request_id", ev.RequestContext.RequestID, "error", err.Error())
			return nil, http.StatusInternalServerError
		}
	}
	if !res.IsAuthorized {
		return nil, http.StatusForbidden
	}
	return res.Context, 0
}

// tooLarge is the error for a request over a platform limit; it says
// what to do instead. UNSUPPORTED, not SIZE_INVALID: the spec's
// SIZE_INVALID means a blob's bytes did not match its stated size, while
// here the registry does not support a request this large — and docker
// gives up on UNSUPPORTED at once and prints the message, where it
// retries SIZE_INVALID five times (about a minute) before saying anything.
func tooLarge(what string) *errcode.Error {
	return errcode.New(errcode.Unsupported,
		"%s. Send blobs in chunks of at most the OCI-Chunk-Max-Length the upload advertises (PATCH), or push with `berth push` or through `berth proxy`, which upload large layers straight to storage (see README: Large layers)", what).
		WithStatus(http.StatusRequestEntityTooLarge)
}

// readBody reads the whole body (chunked or not), refusing one over
// MaxBody. An over-long body is still read to its end, so the client
// sees the error rather than a reset connection.
func (g *Gateway) readBody(r *http.Request) (*bytes.Buffer, error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if r.Body == nil {
		return buf, nil
	}
	max := g.limits.MaxBody
	var err error
	if max <= 0 {
		_, err = buf.ReadFrom(r.Body)
		return buf, err
	}
	// A body of announced length (within the limit) is read into a
	// buffer of that size; one without (chunked, as clients stream
	// layers) grows a pooled buffer, which keeps its size for the next.
	if n := r.ContentLength; n > 0 && n <= max {
		buf.Grow(int(n) + bytes.MinRead)
	}
	if _, err = buf.ReadFrom(io.LimitReader(r.Body, max+1)); err != nil {
		putBody(buf)
		return nil, errcode.New(errcode.BlobUploadInvalid, "reading the request body failed: %v", err)
	}
	if n := int64(buf.Len()); n > max {
		putBody(buf)
		rest, _ := io.Copy(io.Discard, r.Body)
		return nil, tooLarge(fmt.Sprintf("the request body (%d bytes) is over API Gateway's %d-byte limit", n+rest, max))
	}
	return buf, nil
}

// bodyPool holds request-body buffers between requests: a streamed
// layer chunk would otherwise grow a new buffer from nothing, zeroing
// and copying its megabytes a dozen times.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// encodePool holds the buffers events' base64 bodies are encoded into,
// for the same reason: a fresh 5.6 MB per layer chunk, zeroed and
// faulted in, cost more than encoding it.
var encodePool = sync.Pool{New: func() any { return new([]byte) }}

func putBody(b *bytes.Buffer) { bodyPool.Put(b) }

// fail answers an error the gateway itself hit, as the spec's JSON with
// the request id, and returns the status; an internal one is logged with
// that id.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, id string, err error) int {
	e := errcode.From(err)
	if e.Code == errcode.Unknown {
		g.log.Error("gateway error", "request_id", id, "path", r.URL.Path, "error", err.Error())
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	errcode.Write(w, r.WithContext(reqinfo.With(r.Context(), &reqinfo.Info{ID: id})), err)
	return e.HTTPStatus()
}

// headerBytes counts what the HTTP API quota counts: the request line and
// the header values ("total combined size of request line and header
// values", docs/gateway-facts.md §5); header names are not counted.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto)
	for _, vs := range r.Header {
		for _, v := range vs {
			n += len(v)
		}
	}
	return n + len(r.Host)
}

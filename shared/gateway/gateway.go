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
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/errcode"
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

// countingWriter records the status and body size for the log line.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
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
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newRequestID()
	w := &countingWriter{ResponseWriter: rw}
	w.Header().Set("Apigw-Requestid", id)
	var m route.Match
	var in int64
	principal := "" // who the authorizer says made the request
	defer func() {
		// Info would drop the line anyway; checking first spares
		// building its attributes on every request. (Info asks Enabled
		// with context.Background(), so this asks the same question.)
		if !g.log.Enabled(context.Background(), slog.LevelInfo) {
			return
		}
		g.log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"route", m.Route.Key(), "function", m.Route.Function, "repository", m.Name(),
			"principal", principal, "status", w.status, "bytes_in", in, "bytes_out", w.bytes,
			"latency_ms", float64(time.Since(start).Microseconds())/1000)
	}()
	if g.Objects != nil && strings.HasPrefix(r.URL.Path, g.ObjectPrefix) {
		m.Route = route.Route{Method: r.Method, Path: g.ObjectPrefix + "{key+}", Function: "objects"}
		g.Objects.ServeHTTP(w, r)
		return
	}
	if g.limits.MaxHeaderBytes > 0 {
		if n := headerBytes(r); n > g.limits.MaxHeaderBytes {
			g.fail(w, r, errcode.New(errcode.Unsupported,
				"the request line and headers are %d bytes; API Gateway HTTP APIs accept at most %d", n, g.limits.MaxHeaderBytes).
				WithStatus(http.StatusRequestHeaderFieldsTooLarge))
			return
		}
	}
	body, err := g.readBody(r)
	in = int64(len(body))
	if err != nil {
		g.fail(w, r, err)
		return
	}
	var ok bool
	// Match on the path as sent: an encoded "%2F" is not a separator
	// (the parameters are decoded once, in Find).
	m, ok = g.router.Find(r.Method, r.URL.EscapedPath())
	if !ok {
		// What API Gateway answers when no route matches.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}`))
		return
	}
	fn, ok := g.functions[m.Route.Function]
	if !ok {
		g.fail(w, r, fmt.Errorf("no function %q is loaded", m.Route.Function))
		return
	}
	ev := buildEvent(r, m, body, id, start)
	if g.Authorizer != nil && !m.Route.NoAuth {
		lambdaCtx, status := g.authorize(r.Context(), ev)
		if status != 0 {
			// What API Gateway answers itself when the authorizer says
			// no (403) or fails (500).
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			msg := `{"message":"Forbidden"}`
			if status != http.StatusForbidden {
				msg = `{"message":"Internal Server Error"}`
			}
			_, _ = w.Write([]byte(msg))
			return
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
		if t, _ := lambdaCtx["tenancy"].(string); t != "" {
			u, _ := lambdaCtx["user"].(string)
			principal = t + "/" + u
		}
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
			g.fail(w, r, err)
			return
		}
	} else {
		if payload, err = json.Marshal(ev); err != nil {
			g.fail(w, r, err)
			return
		}
		size = len(payload)
	}
	if max := g.limits.MaxRequestPayload; max > 0 && size > max {
		g.fail(w, r, tooLarge(fmt.Sprintf("the request (%d body bytes) makes a %d-byte Lambda event after base64 encoding, over Lambda's %d-byte invoke payload limit", len(body), size, max)))
		return
	}
	var res events.APIGatewayV2HTTPResponse
	if isDirect {
		res, err = g.invokeDirect(r.Context(), direct, ev)
	} else {
		res, err = g.invoke(r.Context(), fn, payload)
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	g.write(w, r, res)
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
			g.log.Error("authorizer failed", "error", err.Error())
			return nil, http.StatusInternalServerError
		}
	} else {
		payload, err := json.Marshal(aev)
		if err != nil {
			return nil, http.StatusInternalServerError
		}
		out, err := g.Authorizer.Invoke(ctx, payload)
		if err != nil {
			g.log.Error("authorizer failed", "error", err.Error())
			return nil, http.StatusInternalServerError
		}
		if err := json.Unmarshal(out, &res); err != nil {
			g.log.Error("authorizer response is not a simple response", "error", err.Error())
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
func (g *Gateway) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	max := g.limits.MaxBody
	if max <= 0 {
		return io.ReadAll(r.Body)
	}
	// A body of announced length (within the limit) is read into one
	// buffer of that size: io.ReadAll would grow and copy a layer's
	// megabytes a dozen times.
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= max {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, errcode.New(errcode.BlobUploadInvalid, "reading the request body failed: %v", err)
	}
	body := buf.Bytes()
	if int64(len(body)) > max {
		n, _ := io.Copy(io.Discard, r.Body)
		return nil, tooLarge(fmt.Sprintf("the request body (%d bytes) is over API Gateway's %d-byte limit", int64(len(body))+n, max))
	}
	return body, nil
}

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

func (g *Gateway) write(w http.ResponseWriter, r *http.Request, res events.APIGatewayV2HTTPResponse) {
	body := []byte(res.Body)
	if res.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(res.Body)
		if err != nil {
			g.fail(w, r, fmt.Errorf("function returned invalid base64: %w", err))
			return
		}
		body = b
	}
	h := w.Header()
	for k, v := range res.Headers {
		h.Set(k, v)
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
}

// fail answers an error the gateway itself hit, as the spec's JSON.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, err error) {
	if e := errcode.From(err); e.Code == errcode.Unknown {
		g.log.Error("gateway error", "path", r.URL.Path, "error", err.Error())
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	errcode.Write(w, r, err)
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

// Package gateway is the local stand-in for API Gateway (HTTP API,
// payload 2.0) in front of Lambda: it matches the route table, builds the
// event API Gateway would send, invokes the function's handler with the
// event's JSON, and writes the function's response back — enforcing the
// same limits, so what fails on AWS fails locally too. It also serves the
// embedded store's signed object URLs, standing in for S3.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
}

// New returns a gateway dispatching the route table to functions by name.
func New(functions map[string]Invoker, limits Limits, log *slog.Logger) *Gateway {
	return &Gateway{router: route.NewRouter(route.Table()), functions: functions, limits: limits, log: log}
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
	defer func() {
		g.log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"route", m.Route.Key(), "function", m.Route.Function, "repository", m.Name(),
			"status", w.status, "bytes_in", in, "bytes_out", w.bytes,
			"latency_ms", float64(time.Since(start).Microseconds())/1000)
	}()
	if g.Objects != nil && strings.HasPrefix(r.URL.Path, g.ObjectPrefix) {
		m.Route = route.Route{Method: r.Method, Path: g.ObjectPrefix + "{key+}", Function: "objects"}
		g.Objects.ServeHTTP(w, r)
		return
	}
	if g.limits.MaxHeaderBytes > 0 {
		if n := headerBytes(r); n > g.limits.MaxHeaderBytes {
			g.fail(w, r, errcode.New(errcode.SizeInvalid,
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
	m, ok = g.router.Find(r.Method, r.URL.Path)
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
	payload, err := json.Marshal(ev)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if max := g.limits.MaxRequestPayload; max > 0 && len(payload) > max {
		g.fail(w, r, tooLarge(fmt.Sprintf("the request (%d body bytes) makes a %d-byte Lambda event after base64 encoding, over Lambda's %d-byte invoke payload limit", len(body), len(payload), max)))
		return
	}
	res, err := g.invoke(r.Context(), fn, payload)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	g.write(w, r, res)
}

// tooLarge is the error for a request over a platform limit; it says
// what to do instead.
func tooLarge(what string) *errcode.Error {
	return errcode.New(errcode.SizeInvalid,
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
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, errcode.New(errcode.BlobUploadInvalid, "reading the request body failed: %v", err)
	}
	if int64(len(body)) > max {
		n, _ := io.Copy(io.Discard, r.Body)
		return nil, tooLarge(fmt.Sprintf("the request body (%d bytes) is over API Gateway's %d-byte limit", int64(len(body))+n, max))
	}
	return body, nil
}

// invoke runs the function with the integration timeout.
func (g *Gateway) invoke(ctx context.Context, fn Invoker, payload []byte) (events.APIGatewayV2HTTPResponse, error) {
	var res events.APIGatewayV2HTTPResponse
	if g.limits.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.limits.Timeout)
		defer cancel()
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := fn.Invoke(ctx, payload)
		done <- result{out, err}
	}()
	var out result
	select {
	case out = <-done:
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return res, errcode.New(errcode.Unavailable,
				"the function did not answer within API Gateway's %s integration timeout; for large layers use `berth push` or `berth proxy`", g.limits.Timeout)
		}
		return res, ctx.Err()
	}
	if out.err != nil {
		return res, fmt.Errorf("function failed: %w", out.err)
	}
	if max := g.limits.MaxResponsePayload; max > 0 && len(out.out) > max {
		return res, fmt.Errorf("function response of %d bytes is over Lambda's %d-byte limit", len(out.out), max)
	}
	if err := json.Unmarshal(out.out, &res); err != nil {
		return res, fmt.Errorf("function response is not a payload-2.0 response: %w", err)
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
		h.Set("Content-Length", fmt.Sprint(len(body)))
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

// headerBytes counts the request line and headers as sent.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + len(r.Host) + 8
}

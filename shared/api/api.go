// Package api is the frame of Berth's JSON API under /api — the admin
// API (shared/admin) and retention's (shared/retention), both served by
// the admin function: handlers that return their error, routed with
// http.ServeMux method and path patterns, one place that writes those
// errors (errcode's JSON body, with the request id), and the JSON
// helpers every endpoint uses. The token endpoint answers its JSON with
// the same Reply.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
)

// HandlerFunc is an endpoint: it writes its answer, or returns the error
// the Mux writes.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Mux routes /api requests by ServeMux patterns ("GET
// /api/tenancies/{tenancy}"). Beyond http.ServeMux it answers in the
// API's JSON: a path no pattern names is 404 NOT_FOUND, a method a path
// does not serve 405 UNSUPPORTED with Allow, and an error an endpoint
// returns is written once, here (internal errors logged with the
// request id, never answered).
type Mux struct {
	mux http.ServeMux
	log *slog.Logger
	// methods are the methods of the patterns, sorted; notFound the
	// prefixes NotFound answers for.
	methods  []string
	notFound map[string]bool
}

// NewMux returns an empty Mux logging to log.
func NewMux(log *slog.Logger) *Mux {
	return &Mux{log: log, notFound: map[string]bool{}}
}

// Handle routes pattern ("METHOD /path", as http.ServeMux reads it) to h.
func (m *Mux) Handle(pattern string, h HandlerFunc) {
	method, _, ok := strings.Cut(pattern, " ")
	if !ok || method == "" {
		panic("api: pattern " + pattern + " names no method")
	}
	m.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			m.Fail(w, r, err)
		}
	})
	// A method the path lacks is answered in ServeHTTP (allowed), not by
	// a method-less pattern per path: each ServeMux registration checks
	// for conflicts with those before it, and the admin API's 72
	// patterns took twice as long to register with their 50 method-less
	// twins (docs/lambda-mode.md, cold start).
	if i, found := slices.BinarySearch(m.methods, method); !found {
		m.methods = slices.Insert(m.methods, i, method)
	}
}

// NotFound answers every path under prefix ("/api/") that no pattern
// names with 404 NOT_FOUND, saying where the API is documented.
func (m *Mux) NotFound(prefix, docs string) {
	m.notFound[prefix] = true
	m.mux.HandleFunc(prefix, func(w http.ResponseWriter, r *http.Request) {
		m.Fail(w, r, NotFound("no API endpoint at %s; see %s", r.URL.Path, docs))
	})
}

// ServeHTTP implements http.Handler. A trailing slash is ignored
// ("/api/tenancies/" is "/api/tenancies"); a path with an empty, "." or
// ".." segment names nothing (ServeMux would redirect it).
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if t := strings.TrimSuffix(p, "/"); t != p && t != "" && !strings.HasSuffix(t, "/") {
		r2 := *r
		u := *r.URL
		u.Path, u.RawPath = t, strings.TrimSuffix(r.URL.RawPath, "/")
		r2.URL = &u
		r, p = &r2, t
	}
	for _, s := range strings.Split(p, "/")[1:] {
		if s == "" || s == "." || s == ".." {
			m.Fail(w, r, NotFound("no API endpoint at %s", p))
			return
		}
	}
	if _, pattern := m.mux.Handler(r); pattern == "" || m.notFound[pattern] {
		if allow := m.allowed(r); allow != "" {
			m.Fail(w, r, errcode.New(errcode.Unsupported, "%s is not supported on %s; use %s", r.Method, r.URL.Path, allow).
				WithHeader("Allow", allow))
			return
		}
	}
	m.mux.ServeHTTP(w, r)
}

// allowed lists the methods a pattern serves r's path with, for a
// request no pattern serves with its own method ("" if none).
func (m *Mux) allowed(r *http.Request) string {
	var allow []string
	for _, method := range m.methods {
		r2 := *r
		r2.Method = method
		if _, pattern := m.mux.Handler(&r2); pattern != "" && !m.notFound[pattern] {
			allow = append(allow, method)
		}
	}
	return strings.Join(allow, ", ")
}

// Fail writes err as the API's error answer: errcode's JSON body with
// the request id; an error that is no *errcode.Error is logged (with the
// request id) and answered 500 without its text.
func (m *Mux) Fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *errcode.Error
	if !errors.As(err, &e) {
		m.log.ErrorContext(r.Context(), "API request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	}
	errcode.Write(w, r, err)
}

// Invalid refuses a request whose body or parameters are wrong; the
// message says what to change (400 INVALID).
func Invalid(format string, args ...any) error { return errcode.New(errcode.Invalid, format, args...) }

// NotFound answers for a record that does not exist (404 NOT_FOUND).
func NotFound(format string, args ...any) error {
	return errcode.New(errcode.NotFound, format, args...)
}

// Conflict refuses to create what exists, or delete what is in use (409
// CONFLICT).
func Conflict(format string, args ...any) error {
	return errcode.New(errcode.Conflict, format, args...)
}

// Denied refuses a principal an action (403 DENIED).
func Denied(format string, args ...any) error {
	return errcode.New(errcode.Denied, format, args...)
}

// Missing maps a store's ErrNotFound to a 404 saying what is missing,
// and passes any other error on.
func Missing(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return NotFound(format, args...)
	}
	return err
}

// MaxBody bounds a request body; nothing the API takes comes near it.
const MaxBody = 64 << 10

// Decode reads a JSON body into v, refusing unknown fields (a misspelt
// field is an error rather than silently ignored), a second value, and
// an empty body.
func Decode(r *http.Request, v any) error { return decode(r, v, false) }

// DecodeOptional is Decode for an endpoint whose every field is
// optional: an empty body is {}.
func DecodeOptional(r *http.Request, v any) error { return decode(r, v, true) }

func decode(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return Invalid("could not read the request body")
	}
	if len(body) > MaxBody {
		return Invalid("the request body is over %d bytes", MaxBody)
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return Invalid("the request needs a JSON body")
		}
		return Invalid("the request body is not valid JSON for %s %s: %v", r.Method, r.URL.Path, err)
	}
	if dec.More() {
		return Invalid("the request body holds more than one JSON value")
	}
	return nil
}

// Reply writes v as JSON with the given status, for no cache to keep.
func Reply(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<tenancy>/<name>" reads better unescaped
	if err := enc.Encode(v); err != nil {
		return err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// NoContent answers a successful DELETE.
func NoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// IntParam reads an optional integer query parameter within [1, max].
func IntParam(r *http.Request, name string, def, max int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, Invalid("%s must be a number from 1 to %d, not %q", name, max, s)
	}
	return n, nil
}

// Clip shortens a value quoted in a message.
func Clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Package reqinfo carries what the edge knows of one request through its
// context: the request id the client saw — API Gateway's
// requestContext.requestId, which it also answers in the apigw-requestid
// response header — and the principal a handler resolved. Error bodies,
// error log lines and the one log line the Lambda adapter writes per
// request read them here, so an operator finds a client's failed
// request by the id the client was given.
package reqinfo

import (
	"context"
	"log/slog"
)

// Info is one request's identity as the edge and the handlers know it.
type Info struct {
	// ID is API Gateway's request id ("" outside a gateway).
	ID string
	// Principal is who made the request ("<tenancy>/<user>"), once a
	// handler has established it ("" for anonymous or unknown).
	Principal string
}

type key struct{}

// With returns ctx carrying info, which handlers may complete.
func With(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, key{}, info)
}

// From returns the Info of the request in ctx, or nil.
func From(ctx context.Context) *Info {
	i, _ := ctx.Value(key{}).(*Info)
	return i
}

// ID returns the request id of the request in ctx, or "".
func ID(ctx context.Context) string {
	if i := From(ctx); i != nil {
		return i.ID
	}
	return ""
}

// SetPrincipal records who made the request in ctx, for its log line.
func SetPrincipal(ctx context.Context, principal string) {
	if i := From(ctx); i != nil {
		i.Principal = principal
	}
}

// LogHandler wraps a log handler so that a line logged with a request's
// context (ErrorContext(r.Context(), ...)) carries the request id the
// client saw: an error is logged once, where it is handled, and found by
// that id.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := ID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(as)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }

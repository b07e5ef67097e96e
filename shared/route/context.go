package route

import (
	"context"
	"strings"
)

type ctxKey struct{}

// WithMatch returns ctx carrying the route chosen for its request.
func WithMatch(ctx context.Context, m Match) context.Context {
	return context.WithValue(ctx, ctxKey{}, m)
}

// FromContext returns the route chosen for the request, if the gateway (or
// the Lambda adapter, from API Gateway's event) recorded one.
func FromContext(ctx context.Context) (Match, bool) {
	m, ok := ctx.Value(ctxKey{}).(Match)
	return m, ok
}

// FromEvent rebuilds the Match API Gateway made, from a payload-2.0
// event's route key, path parameters, method and raw path. A request that
// reached the catch-all only for a trailing slash resolves to the route
// it names (see Router.Find).
func FromEvent(routeKey string, params map[string]string, method, rawPath string) (Match, bool) {
	m, ok := FromKey(routeKey, params)
	if ok && m.Route.Path == catchAll && strings.HasSuffix(rawPath, "/") {
		if alt, ok := Find(method, rawPath); ok {
			return alt, true
		}
	}
	return m, ok
}

// FromKey rebuilds a Match from an API Gateway route key and its path
// parameters, as found in a payload-2.0 event.
func FromKey(routeKey string, params map[string]string) (Match, bool) {
	method, path, ok := strings.Cut(routeKey, " ")
	if !ok {
		return Match{}, false
	}
	r, ok := lookup(method, path)
	if !ok {
		return Match{}, false
	}
	return Match{Route: r, Params: params}, true
}

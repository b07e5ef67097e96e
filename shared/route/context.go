package route

import "context"

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

// FromKey rebuilds a Match from an API Gateway route key and its path
// parameters, as found in a payload-2.0 event.
func FromKey(routeKey string, params map[string]string) (Match, bool) {
	for _, r := range defaultRouter.routes {
		if r.Key() == routeKey {
			return Match{Route: r.Route, Params: params}, true
		}
	}
	return Match{}, false
}

// Package registrytest serves a whole registry from one handler for
// tests, dispatching with the route table as the gateway does; it is
// imported by tests only (no function links it).
package registrytest

import (
	"net/http"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/route"
)

// Mux returns one handler serving every registry function of reg.
func Mux(reg *registry.Registry) http.Handler {
	handlers := map[string]http.Handler{}
	for _, f := range route.RegistryFunctions {
		handlers[f] = reg.Handler(f)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, ok := route.Find(r.Method, r.URL.EscapedPath())
		h := handlers[m.Route.Function] // nil for /token and /api: not the registry's
		if !ok || h == nil {
			errcode.Write(w, r, errcode.New(errcode.Unsupported, "no such API endpoint").WithStatus(http.StatusNotFound))
			return
		}
		h.ServeHTTP(w, r.WithContext(route.WithMatch(r.Context(), m)))
	})
}

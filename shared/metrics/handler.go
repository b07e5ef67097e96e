package metrics

import (
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/route"
)

// Handler wraps a function's handler to emit one line per request:
// Requests, Errors (5xx) and Latency by function and route; for the
// registry's routes also Pulls (a manifest GET answered 200), Pushes (a
// manifest PUT answered 201) and BytesUploaded (the bodies the uploads
// function accepted), by tenancy. A nil Emitter returns next.
func Handler(e *Emitter, function string, next http.Handler) http.Handler {
	if e == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		m, ok := route.FromContext(r.Context())
		if !ok {
			m, ok = route.Find(r.Method, r.URL.EscapedPath())
		}
		label := r.Method + " " + r.URL.Path
		if ok {
			label = RouteLabel(r.Method, m.Route)
		}
		errs := 0.0
		if sw.status >= 500 {
			errs = 1
		}
		dims := []string{function, label}
		vals := []Value{
			{Name: Requests, V: 1, Dims: dims},
			{Name: Errors, V: errs, Dims: dims},
			{Name: Latency, V: float64(time.Since(start).Microseconds()) / 1000, Dims: dims},
		}
		if ok && m.Name() != "" {
			tenancy, _, _ := strings.Cut(m.Name(), "/")
			switch {
			case m.Route.Function == route.Manifests && r.Method == http.MethodGet && sw.status == http.StatusOK:
				vals = append(vals, Value{Name: Pulls, V: 1, Dims: []string{tenancy}})
			case m.Route.Function == route.Manifests && r.Method == http.MethodPut && sw.status == http.StatusCreated:
				vals = append(vals, Value{Name: Pushes, V: 1, Dims: []string{tenancy}})
			case m.Route.Function == route.Uploads && r.ContentLength > 0 && sw.status/100 == 2 && r.Method != http.MethodGet:
				vals = append(vals, Value{Name: BytesUploaded, V: float64(r.ContentLength), Dims: []string{tenancy}})
			}
		}
		e.Emit(vals...)
	})
}

// RouteLabel names a route by its shape, whatever the name's depth:
// "PUT /v2/{name}/manifests/{ref}"; a route of any method is labelled
// with the request's.
func RouteLabel(method string, rt route.Route) string {
	p := rt.Path
	if rt.Depth > 0 {
		segs := strings.Split(p, "/")
		// "", "v2", {n1}..{nK}, rest...
		p = strings.Join(append([]string{"", "v2", "{name}"}, segs[2+rt.Depth:]...), "/")
	}
	if rt.Method != route.Any {
		method = rt.Method
	}
	return method + " " + p
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

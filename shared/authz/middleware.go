package authz

import (
	"net/http"
	"strings"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/reqinfo"
)

// Enforce is the enforcement point every function runs: it lets a
// request through only on the authorizer's allow, and otherwise answers
// 401 UNAUTHORIZED with the Docker token-auth challenge, or 403 DENIED.
// A request without a decision is refused (fail closed).
func Enforce(next http.Handler, service string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := FromContext(AuthorizerContext(r.Context()))
		if !ok {
			d = unauthorized("", "no authorization decision reached the function")
		}
		if !d.Principal.Anonymous() {
			reqinfo.SetPrincipal(r.Context(), d.Principal.String())
		}
		if d.Allow {
			next.ServeHTTP(w, r.WithContext(WithDecision(r.Context(), d)))
			return
		}
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		switch d.Status {
		case http.StatusForbidden:
			errcode.Write(w, r, errcode.New(errcode.Denied, "%s", d.Message))
			return
		case http.StatusServiceUnavailable:
			// The authorizer logged why; the client may retry.
			errcode.Write(w, r, errcode.New(errcode.Unavailable, "%s", d.Message).WithHeader("Retry-After", "1"))
			return
		}
		w.Header().Set("WWW-Authenticate", Challenge(r, service, d.Scope))
		errcode.Write(w, r, errcode.New(errcode.Unauthorized, "%s", d.Message))
	})
}

// Challenge is the WWW-Authenticate value pointing clients at the token
// endpoint on the host they called. Every parameter is a quoted-string
// (RFC 9110 §11.2) built by quote, so no value — a Host header, a scope
// — can close its quotes and add a parameter of its own.
func Challenge(r *http.Request, service, scope string) string {
	// API Gateway sets X-Forwarded-Proto (https), as does the local
	// gateway (http); any other value is not a scheme we answer with.
	scheme := "http"
	if p := strings.ToLower(r.Header.Get("X-Forwarded-Proto")); p == "https" || (p == "" && r.TLS != nil) {
		scheme = "https"
	}
	c := "Bearer realm=" + quote(scheme+"://"+r.Host+"/token") + ",service=" + quote(service)
	if scope != "" {
		c += ",scope=" + quote(scope)
	}
	return c
}

// quote makes s a quoted-string: '"' and '\' escaped with a backslash,
// and control characters (which no header value may hold) dropped.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

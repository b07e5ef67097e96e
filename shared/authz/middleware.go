package authz

import (
	"net/http"
	"strings"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/lambdahttp"
)

// Enforce is the enforcement point every function runs: it lets a
// request through only on the authorizer's allow, and otherwise answers
// 401 UNAUTHORIZED with the Docker token-auth challenge, or 403 DENIED.
// A request without a decision is refused (fail closed).
func Enforce(next http.Handler, service string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := FromContext(lambdahttp.AuthorizerContext(r.Context()))
		if !ok {
			d = unauthorized("", "no authorization decision reached the function")
		}
		if d.Allow {
			next.ServeHTTP(w, r.WithContext(WithDecision(r.Context(), d)))
			return
		}
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		if d.Status == http.StatusForbidden {
			errcode.Write(w, r, errcode.New(errcode.Denied, "%s", d.Message))
			return
		}
		w.Header().Set("WWW-Authenticate", Challenge(r, service, d.Scope))
		errcode.Write(w, r, errcode.New(errcode.Unauthorized, "%s", d.Message))
	})
}

// Challenge is the WWW-Authenticate value pointing clients at the token
// endpoint on the host they called.
func Challenge(r *http.Request, service, scope string) string {
	// API Gateway sets X-Forwarded-Proto (https), as does the local
	// gateway (http).
	scheme := "http"
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = strings.ToLower(p)
	} else if r.TLS != nil {
		scheme = "https"
	}
	c := `Bearer realm="` + scheme + "://" + r.Host + `/token",service="` + service + `"`
	if scope != "" {
		c += `,scope="` + scope + `"`
	}
	return c
}

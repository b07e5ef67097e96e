package authz

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// Console sessions (docs/console.md). Signing in (POST /console/sign-in,
// served by the token function, which alone holds the signing key)
// turns a login and auth token into a session token: a registry token
// for the console's audience (auth.ConsoleAudience), granting no
// registry access, kept in a cookie that the browser sends to /console
// paths only. The authorizer reads that cookie on console routes and
// nowhere else, and a registry token verifier refuses the session token
// by its audience, so a session opens nothing under /v2/ or /api/.

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "berth_console"

// WithConsole returns a copy of the Authorizer that accepts console
// sessions verified by v (an auth.Verifier for auth.ConsoleAudience).
func (a *Authorizer) WithConsole(v *auth.Verifier) *Authorizer {
	c := *a
	c.console = v
	return &c
}

// SessionToken returns the session cookie's value among a request's
// cookies ("name=value", as a payload-2.0 event lists them), or "".
func SessionToken(cookies []string) string {
	for _, c := range cookies {
		if name, value, ok := strings.Cut(strings.TrimSpace(c), "="); ok && name == SessionCookie {
			return value
		}
	}
	return ""
}

// decideConsole decides a console route by its session cookie alone
// (an Authorization header is not read: the console is a browser's). A
// valid session is allowed, whoever it is: the console asks policy
// what the principal may see and do, as the admin API does. Without
// one, only the anonymous routes (the sign-in page, static assets) are.
func (a *Authorizer) decideConsole(ctx context.Context, r Request) (Decision, error) {
	if raw := SessionToken(r.Cookies); raw != "" && a.console != nil {
		c, err := a.console.Verify(raw)
		if err == nil {
			live, err := a.sessionLive(ctx, c)
			if err != nil {
				return Decision{}, err
			}
			if live {
				return Decision{Allow: true, Principal: bearerPrincipal(c), Via: "session"}, nil
			}
		}
	}
	if r.Match.Route.Anonymous {
		return Decision{Allow: true, Via: "none"}, nil
	}
	return unauthorized("", "sign in to use the console"), nil
}

// sessionLive reports whether the auth token a session was signed in
// with still holds (not revoked, not expired, its user not deleted),
// cached as a login is: revoking the token ends its sessions within
// credentialTTL.
func (a *Authorizer) sessionLive(ctx context.Context, c *auth.Claims) (bool, error) {
	tenancy, user, ok := auth.SplitLogin(c.Subject)
	if !ok || !auth.ValidTokenID(c.TokenID) {
		return false, nil
	}
	key := "session\x00" + c.Subject + "\x00" + c.TokenID
	if v, ok := a.cache.get(key); ok {
		exp := v.(time.Time)
		return exp.IsZero() || !a.now().After(exp), nil
	}
	t, err := a.ids.GetToken(ctx, tenancy, user, c.TokenID)
	if err == nil && t.Revoked {
		err = store.ErrNotFound
	}
	if err == nil {
		_, err = a.ids.GetUser(ctx, tenancy, user)
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	a.cache.put(key, t.Expires, credentialTTL)
	return t.Expires.IsZero() || !a.now().After(t.Expires), nil
}

// Sessions signs browsers in and out of the console.
type Sessions struct {
	authz   *Authorizer
	issuer  *auth.Issuer
	audit   store.Audit
	log     *slog.Logger
	protect *http.CrossOriginProtection
}

// NewSessions returns the sign-in handler: it checks logins with a and
// signs session tokens with issuer (whose audience is
// auth.ConsoleAudience and whose lifetime is the session's).
func NewSessions(a *Authorizer, issuer *auth.Issuer, audit store.Audit, log *slog.Logger) *Sessions {
	return &Sessions{authz: a, issuer: issuer, audit: audit, log: log, protect: http.NewCrossOriginProtection()}
}

// maxSignInForm bounds the sign-in form: a login and an auth token.
const maxSignInForm = 4 << 10

// ServeHTTP implements POST /console/sign-in. It answers a browser, so
// every outcome is a redirect: to where the user was going, with the
// session cookie set, or back to the sign-in page saying what failed.
// A cross-origin POST (a login CSRF) is refused before any credential
// is read.
func (s *Sessions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "sign in with POST", http.StatusMethodNotAllowed)
		return
	}
	if err := s.protect.Check(r); err != nil {
		http.Error(w, "cross-origin sign-in refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInForm)
	if err := r.ParseForm(); err != nil {
		s.back(w, r, "", "", "invalid")
		return
	}
	login, token := strings.TrimSpace(r.PostForm.Get("login")), strings.TrimSpace(r.PostForm.Get("token"))
	next := LocalConsolePath(r.PostForm.Get("next"))
	c, err := s.authz.Login(r.Context(), login, token)
	var ae *AuthError
	switch {
	case errors.As(err, &ae) || (err == nil && c.Via != "basic"):
		// Keyless logins and registry tokens are for clients, not
		// people: the console takes an auth token.
		s.back(w, r, login, next, "invalid")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "console sign-in: credential check failed", "error", err.Error())
		s.back(w, r, login, next, "unavailable")
		return
	}
	id, _, _ := auth.ParseAuthToken(token)
	expires, err := s.tokenExpiry(r.Context(), c.Principal, id)
	if err != nil {
		s.log.ErrorContext(r.Context(), "console sign-in: token read failed", "error", err.Error())
		s.back(w, r, login, next, "unavailable")
		return
	}
	raw, claims, err := s.issuer.IssueSession(r.Context(), c.Principal.String(), id, expires)
	if err != nil {
		if !errors.Is(err, auth.ErrNoLifetime) {
			s.log.ErrorContext(r.Context(), "console sign-in: could not sign a session", "error", err.Error())
		}
		s.back(w, r, login, next, "unavailable")
		return
	}
	http.SetCookie(w, SessionCookieFor(r, raw, claims.ExpiresAt.Time))
	if s.audit != nil {
		if err := s.audit.AppendAudit(r.Context(), NewAuditEvent(s.authz.now(), c.Principal, "console sign-in", "", "")); err != nil {
			s.log.WarnContext(r.Context(), "audit write failed", "error", err.Error())
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// tokenExpiry is the expiry of the auth token id of p (zero: none),
// which bounds the session's.
func (s *Sessions) tokenExpiry(ctx context.Context, p auth.Principal, id string) (time.Time, error) {
	t, err := s.authz.ids.GetToken(ctx, p.Tenancy, p.User, id)
	return t.Expires, err
}

// back sends the browser back to the sign-in page with what failed
// (a code the page words) and the login it typed.
func (s *Sessions) back(w http.ResponseWriter, r *http.Request, login, next, code string) {
	q := url.Values{"error": {code}}
	if login != "" {
		q.Set("login", login)
	}
	if next != "" && next != route.ConsolePath {
		q.Set("next", next)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, route.SignInPath+"?"+q.Encode(), http.StatusSeeOther)
}

// LocalConsolePath returns p when it is a path inside the console (so
// that a sign-in link cannot send the browser elsewhere), else the
// console's root.
func LocalConsolePath(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || strings.Contains(p, "\\") ||
		!(u.Path == route.ConsolePath || strings.HasPrefix(u.Path, route.ConsolePath+"/")) ||
		strings.Contains(u.Path, "/../") || strings.HasSuffix(u.Path, "/..") || u.Path == route.SignInPath {
		return route.ConsolePath
	}
	return u.RequestURI()
}

// SessionCookieFor is the session cookie carrying value until expires
// (the zero time and an empty value: the cookie that ends a session).
// It is HttpOnly, SameSite=Strict, sent to /console paths only, and
// Secure but on plain http to a loopback host (berth serve, where a
// browser would drop a Secure cookie sent over http).
func SessionCookieFor(r *http.Request, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{
		Name: SessionCookie, Value: value, Path: route.ConsolePath,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: !loopbackHTTP(r),
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	return c
}

// loopbackHTTP reports whether r came over plain http to a loopback
// host. API Gateway and the local gateway say the scheme in
// X-Forwarded-Proto.
func loopbackHTTP(r *http.Request) bool {
	proto := strings.ToLower(r.Header.Get("X-Forwarded-Proto"))
	if proto == "" && r.TLS == nil {
		proto = "http"
	}
	if proto != "http" {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

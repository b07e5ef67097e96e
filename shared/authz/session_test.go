package authz

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// consoleFixture is the fixture's Authorizer accepting console sessions,
// and the sign-in handler that makes them.
type consoleFixture struct {
	*fixture
	sessions *Sessions
}

func newConsoleFixture(t *testing.T) consoleFixture {
	t.Helper()
	f := newFixture(t)
	f.a = f.a.WithConsole(auth.NewVerifier(issuer, auth.ConsoleAudience(service), &f.key.PublicKey))
	si := auth.NewIssuer(auth.KeySigner{Key: f.key}, issuer, auth.ConsoleAudience(service), time.Hour)
	return consoleFixture{fixture: f, sessions: NewSessions(f.a, si, f.meta, quietLog)}
}

// signIn posts the sign-in form as a browser on the registry's own
// origin would, and returns the answer.
func (f consoleFixture) signIn(t *testing.T, login, token, next string) *http.Response {
	t.Helper()
	form := url.Values{"login": {login}, "token": {token}}
	if next != "" {
		form.Set("next", next)
	}
	r := httptest.NewRequest("POST", "http://127.0.0.1:5000/console/sign-in", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("X-Forwarded-Proto", "http")
	w := httptest.NewRecorder()
	f.sessions.ServeHTTP(w, r)
	return w.Result()
}

// session signs in and returns the session cookie's value.
func (f consoleFixture) session(t *testing.T, login string) string {
	t.Helper()
	res := f.signIn(t, login, fixtureSecret(login), "")
	for _, c := range res.Cookies() {
		if c.Name == SessionCookie && c.Value != "" {
			return c.Value
		}
	}
	t.Fatalf("sign-in as %s set no session cookie: %d %v", login, res.StatusCode, res.Header)
	return ""
}

// decideWith decides method target carrying cookies and an
// Authorization header.
func (f consoleFixture) decideWith(t *testing.T, method, target, authorization string, cookies ...string) Decision {
	t.Helper()
	r := request(t, method, target, authorization)
	r.Cookies = cookies
	d, err := f.a.Decide(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSignInSetsASessionCookie(t *testing.T) {
	f := newConsoleFixture(t)
	res := f.signIn(t, "dev/reader", fixtureSecret("dev/reader"), "/console/repositories/dev/app")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/repositories/dev/app" {
		t.Fatalf("sign-in: %d to %q, want 303 to the page asked for", res.StatusCode, res.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, x := range res.Cookies() {
		if x.Name == SessionCookie {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console" || c.Secure {
		t.Fatalf("cookie %+v, want HttpOnly, SameSite=Strict, Path=/console, not Secure on loopback http", c)
	}
	if d := time.Until(c.Expires); d < 59*time.Minute || d > time.Hour+time.Minute {
		t.Errorf("cookie expires in %v, want the session's hour", d)
	}
	es, err := f.meta.ListAudit(context.Background(), "dev", "", 10)
	if err != nil || len(es) == 0 || es[0].Action != "console sign-in" || es[0].Principal != "dev/reader" {
		t.Errorf("audit after sign-in: %+v, %v; want a console sign-in by dev/reader", es, err)
	}
}

func TestSignInRefusals(t *testing.T) {
	f := newConsoleFixture(t)
	revoked := f.putToken(t, "dev/reader", func(tk *store.AuthToken) { tk.Revoked = true })
	tests := []struct {
		name, login, token string
	}{
		{"wrong token", "dev/reader", fixtureSecret("dev/admin")},
		{"revoked token", "dev/reader", revoked},
		{"unknown user", "dev/ghost", fixtureSecret("dev/reader")},
		{"not a login", "reader", fixtureSecret("dev/reader")},
		{"a registry token is not an auth token", "dev/reader", strings.TrimPrefix(f.bearer(t, "dev/reader"), "Bearer ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.signIn(t, tt.login, tt.token, "")
			loc, _ := url.Parse(res.Header.Get("Location"))
			if res.StatusCode != http.StatusSeeOther || loc.Path != route.SignInPath || loc.Query().Get("error") != "invalid" {
				t.Errorf("%d to %q, want 303 back to the sign-in page with error=invalid", res.StatusCode, res.Header.Get("Location"))
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("a refused sign-in set cookies %v", res.Cookies())
			}
		})
	}
}

func TestSignInRefusesCrossSiteForms(t *testing.T) {
	f := newConsoleFixture(t)
	form := url.Values{"login": {"dev/reader"}, "token": {fixtureSecret("dev/reader")}}
	r := httptest.NewRequest("POST", "http://127.0.0.1:5000/console/sign-in", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Origin", "https://evil.example")
	w := httptest.NewRecorder()
	f.sessions.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
		t.Errorf("cross-site sign-in: %d, cookies %v; want 403 and none (a login CSRF)", w.Code, w.Result().Cookies())
	}
}

func TestSessionIsAcceptedOnConsoleRoutesOnly(t *testing.T) {
	f := newConsoleFixture(t)
	s := f.session(t, "dev/admin")
	cookie := SessionCookie + "=" + s
	if d := f.decideWith(t, "GET", "/console/repositories", "", cookie); !d.Allow || d.Principal.String() != "dev/admin" || d.Via != "session" {
		t.Errorf("console page with the session: %+v, want dev/admin allowed via session", d)
	}
	if d := f.decideWith(t, "POST", "/console/repositories/dev/app", "", "other=1", cookie); !d.Allow {
		t.Errorf("console write with the session among other cookies: %+v", d)
	}
	for _, target := range []string{"/v2/", "/v2/dev/app/manifests/v1", "/api/repositories", "/v2/_catalog"} {
		if d := f.decideWith(t, "GET", target, "", cookie); d.Allow && !d.Principal.Anonymous() {
			t.Errorf("GET %s with the session cookie: allowed as %s", target, d.Principal)
		}
		if d := f.decideWith(t, "GET", target, "Bearer "+s); !(d.Status == http.StatusUnauthorized) {
			t.Errorf("GET %s with the session as a Bearer token: %+v, want 401", target, d)
		}
	}
	// The console reads no Authorization header: it is a browser's.
	if d := f.decideWith(t, "GET", "/console/repositories", as("dev/admin")); d.Allow {
		t.Errorf("console page with Basic credentials and no session: allowed")
	}
}

func TestConsoleWithoutASession(t *testing.T) {
	f := newConsoleFixture(t)
	other := newConsoleFixture(t) // another key
	foreign := other.session(t, "dev/admin")
	registry := strings.TrimPrefix(f.bearer(t, "dev/admin"), "Bearer ")
	tests := []struct {
		name, method, target string
		cookies              []string
		allow                bool
	}{
		{"page, no cookie → sign in", "GET", "/console/repositories", nil, false},
		{"page, a session another key signed", "GET", "/console/repositories", []string{SessionCookie + "=" + foreign}, false},
		{"page, a registry token as the cookie", "GET", "/console/repositories", []string{SessionCookie + "=" + registry}, false},
		{"page, garbage", "GET", "/console", []string{SessionCookie + "=x.y.z"}, false},
		{"sign-in page is anonymous", "GET", "/console/sign-in", nil, true},
		{"static assets are anonymous", "GET", "/console/static/console.css", nil, true},
		{"a POST under static is a page", "POST", "/console/static/x", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := f.decideWith(t, tt.method, tt.target, "", tt.cookies...)
			if d.Allow != tt.allow || !d.Principal.Anonymous() {
				t.Errorf("%+v, want allow=%v and no principal", d, tt.allow)
			}
			if !tt.allow && d.Status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401 (the console sends the browser to sign in)", d.Status)
			}
		})
	}
}

func TestRevokingTheAuthTokenEndsItsSessions(t *testing.T) {
	f := newConsoleFixture(t)
	s := f.session(t, "dev/reader")
	cookie := SessionCookie + "=" + s
	if d := f.decideWith(t, "GET", "/console/repositories", "", cookie); !d.Allow {
		t.Fatalf("fresh session refused: %+v", d)
	}
	ctx := context.Background()
	id, _, _ := auth.ParseAuthToken(fixtureSecret("dev/reader"))
	tk, err := f.meta.GetToken(ctx, "dev", "reader", id)
	if err != nil {
		t.Fatal(err)
	}
	tk.Revoked = true
	if err := f.meta.PutToken(ctx, tk); err != nil {
		t.Fatal(err)
	}
	f.age(credentialTTL)
	if d := f.decideWith(t, "GET", "/console/repositories", "", cookie); d.Allow {
		t.Errorf("session of a revoked auth token allowed after the credential cache: %+v", d)
	}
}

func TestLocalConsolePath(t *testing.T) {
	for in, want := range map[string]string{
		"/console/repositories/dev/app?sort=name": "/console/repositories/dev/app?sort=name",
		"/console":                     "/console",
		"":                             "/console",
		"https://evil.example/console": "/console",
		"//evil.example/console":       "/console",
		"/\\evil.example":              "/console",
		"/consoleevil":                 "/console",
		"/console/../api/tenancies":    "/console",
		"/console/sign-in":             "/console",
		"/v2/dev/app/manifests/v1":     "/console",
		"javascript:alert(1)":          "/console",
	} {
		if got := LocalConsolePath(in); got != want {
			t.Errorf("LocalConsolePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionCookieSecurity(t *testing.T) {
	for _, tt := range []struct {
		host, proto string
		secure      bool
	}{
		{"127.0.0.1:5000", "http", false},
		{"localhost:5000", "http", false},
		{"[::1]:5000", "http", false},
		{"registry.example.com", "https", true},
		{"127.0.0.1:5000", "https", true},
		{"registry.example.com", "http", true},
		{"10.0.0.5:5000", "http", true},
	} {
		r := httptest.NewRequest("GET", "http://"+tt.host+"/console", nil)
		r.Host = tt.host
		r.Header.Set("X-Forwarded-Proto", tt.proto)
		if c := SessionCookieFor(r, "v", time.Now().Add(time.Hour)); c.Secure != tt.secure {
			t.Errorf("%s over %s: Secure=%v, want %v", tt.host, tt.proto, c.Secure, tt.secure)
		}
	}
	r := httptest.NewRequest("POST", "http://127.0.0.1:5000/console/sign-out", nil)
	if c := SessionCookieFor(r, "", time.Time{}); c.MaxAge >= 0 || !strings.Contains(c.String(), "Max-Age=0") {
		t.Errorf("the sign-out cookie %q does not end the session", c.String())
	}
}

package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/auth"
)

// tokenReply is a /token response: status, decoded JSON, and the
// verified claims of the token it carries (nil when none).
type tokenReply struct {
	status int
	header http.Header
	body   map[string]any
	claims *auth.Claims
}

func (f *fixture) tokenService() http.Handler {
	return NewTokenService(f.a, f.issuer, f.meta, quietLog)
}

func (f *fixture) serveToken(t *testing.T, r *http.Request) tokenReply {
	t.Helper()
	rec := httptest.NewRecorder()
	f.tokenService().ServeHTTP(rec, r)
	out := tokenReply{status: rec.Code, header: rec.Header()}
	if err := json.Unmarshal(rec.Body.Bytes(), &out.body); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body, err)
	}
	if tok, ok := out.body["access_token"].(string); ok {
		c, err := f.a.verifier.Verify(tok)
		if err != nil {
			t.Fatalf("issued token does not verify: %v", err)
		}
		out.claims = c
	}
	return out
}

// getToken is docker's GET /token?service=...&scope=... with an
// Authorization header ("" for none).
func (f *fixture) getToken(t *testing.T, authorization string, scopes ...string) tokenReply {
	t.Helper()
	q := url.Values{"service": {service}}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	r := httptest.NewRequest("GET", "http://registry.example/token?"+q.Encode(), nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return f.serveToken(t, r)
}

// postToken is containerd's OAuth2 password grant.
func (f *fixture) postToken(t *testing.T, form url.Values) tokenReply {
	t.Helper()
	r := httptest.NewRequest("POST", "http://registry.example/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.serveToken(t, r)
}

func errorCode(body map[string]any) string {
	errs, _ := body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestTokenGrantsScopesIntersectedWithPolicy(t *testing.T) {
	f := newFixture(t)
	catalog := auth.Access{Type: "registry", Name: "catalog", Actions: []string{"*"}}
	tests := []struct {
		name   string
		login  string // "" anonymous
		scopes []string
		want   []auth.Access
	}{
		{"reader asking pull and push gets pull", "dev/reader", []string{"repository:dev/app:pull,push"}, []auth.Access{repoAccess("dev/app", "pull")}},
		{"pusher gets pull and push, not delete", "dev/pusher", []string{"repository:dev/app:pull,push,delete"}, []auth.Access{repoAccess("dev/app", "pull", "push")}},
		{"manager gets delete and *", "dev/manager", []string{"repository:dev/app:delete,*"}, []auth.Access{repoAccess("dev/app", "delete", "*")}},
		{"admin gets everything asked", "dev/admin", []string{"repository:dev/x/y:pull,push,delete"}, []auth.Access{repoAccess("dev/x/y", "pull", "push", "delete")}},
		{"viewer gets nothing on a repository", "dev/viewer", []string{"repository:dev/app:pull"}, nil},
		{"glob statement: matching repository", "dev/team", []string{"repository:dev/team-a/app:pull,push"}, []auth.Access{repoAccess("dev/team-a/app", "pull", "push")}},
		{"glob statement: other repository", "dev/team", []string{"repository:dev/app:pull,push"}, nil},
		{"another tenancy's admin gets nothing", "other/root", []string{"repository:dev/app:pull,push,delete"}, nil},
		{"another tenancy's admin, public repository: pull only", "other/root", []string{"repository:dev/pub:pull,push"}, []auth.Access{repoAccess("dev/pub", "pull")}},
		{"several scope parameters", "dev/reader", []string{"repository:dev/app:pull", "repository:dev/pub:pull"}, []auth.Access{repoAccess("dev/app", "pull"), repoAccess("dev/pub", "pull")}},
		{"several scopes in one parameter", "dev/reader", []string{"repository:dev/app:pull repository:dev/pub:pull"}, []auth.Access{repoAccess("dev/app", "pull"), repoAccess("dev/pub", "pull")}},
		{"repeated actions are granted once", "dev/pusher", []string{"repository:dev/app:pull,pull,push"}, []auth.Access{repoAccess("dev/app", "pull", "push")}},
		{"unknown actions are dropped", "dev/admin", []string{"repository:dev/app:pull,frobnicate"}, []auth.Access{repoAccess("dev/app", "pull")}},
		{"unknown scope types are dropped", "dev/admin", []string{"plugin:x:pull"}, nil},
		{"catalog scope for a user", "dev/nobody", []string{"registry:catalog:*"}, []auth.Access{catalog}},
		{"catalog scope needs *", "dev/admin", []string{"registry:catalog:pull"}, nil},
		{"anonymous: pull on a public repository", "", []string{"repository:dev/pub:pull,push,delete"}, []auth.Access{repoAccess("dev/pub", "pull")}},
		{"anonymous: nothing on a private repository", "", []string{"repository:dev/app:pull"}, nil},
		{"anonymous: no catalog", "", []string{"registry:catalog:*"}, nil},
		{"no scope (docker login)", "dev/reader", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.getToken(t, as(tc.login), tc.scopes...)
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %v", res.status, res.body)
			}
			if !reflect.DeepEqual(nonNil(res.claims.Access), nonNil(tc.want)) {
				t.Errorf("access %+v, want %+v", res.claims.Access, tc.want)
			}
			wantSub := tc.login
			if res.claims.Subject != wantSub {
				t.Errorf("sub %q, want %q", res.claims.Subject, wantSub)
			}
		})
	}
}

func nonNil(a []auth.Access) []auth.Access {
	if a == nil {
		return []auth.Access{}
	}
	return a
}

func TestTokenGETResponse(t *testing.T) {
	f := newFixture(t)
	before := time.Now().Add(-time.Second)
	res := f.getToken(t, as("dev/reader"), "repository:dev/app:pull")
	if res.status != 200 {
		t.Fatalf("status %d: %v", res.status, res.body)
	}
	if res.body["token"] == nil || res.body["token"] != res.body["access_token"] {
		t.Errorf("token %v and access_token %v must both be set and equal (docker reads token)", res.body["token"], res.body["access_token"])
	}
	if res.body["expires_in"] != float64(300) {
		t.Errorf("expires_in %v, want 300", res.body["expires_in"])
	}
	at, err := time.Parse(time.RFC3339, fmt.Sprint(res.body["issued_at"]))
	if err != nil || at.Before(before.Truncate(time.Second)) {
		t.Errorf("issued_at %v: %v", res.body["issued_at"], err)
	}
	if res.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Errorf("headers %v, want Cache-Control no-store and JSON", res.header)
	}
	if res.claims.Audience[0] != service || res.claims.Issuer != issuer {
		t.Errorf("aud %v iss %q", res.claims.Audience, res.claims.Issuer)
	}
}

func TestTokenOAuth2PasswordGrant(t *testing.T) {
	f := newFixture(t)
	form := url.Values{
		"grant_type": {"password"}, "username": {"dev/pusher"}, "password": {fixtureSecret("dev/pusher")},
		"service": {service}, "client_id": {"containerd-client"},
		"scope": {"repository:dev/app:pull,push repository:dev/other:pull"},
	}
	res := f.postToken(t, form)
	if res.status != 200 {
		t.Fatalf("status %d: %v", res.status, res.body)
	}
	want := []auth.Access{repoAccess("dev/app", "pull", "push"), repoAccess("dev/other", "pull")}
	if !reflect.DeepEqual(res.claims.Access, want) || res.claims.Subject != "dev/pusher" {
		t.Errorf("claims %+v, want %+v for dev/pusher", res.claims, want)
	}
	if res.body["scope"] != form.Get("scope") {
		t.Errorf("scope %v, want the asked scope echoed", res.body["scope"])
	}
	if _, ok := res.body["token"]; ok {
		t.Error("the OAuth2 answer carries docker's token field")
	}
}

func TestTokenRefuses(t *testing.T) {
	f := newFixture(t)
	pw := func(edit func(url.Values)) url.Values {
		v := url.Values{"grant_type": {"password"}, "username": {"dev/reader"}, "password": {fixtureSecret("dev/reader")}, "scope": {"repository:dev/app:pull"}}
		edit(v)
		return v
	}
	tooMany := make([]string, maxScopes+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("repository:dev/app%d:pull", i)
	}
	tests := []struct {
		name       string
		do         func() tokenReply
		wantStatus int
		wantCode   string
	}{
		{"GET, wrong secret", func() tokenReply { return f.getToken(t, basic("dev/reader", "bt_x_y")) }, 401, "UNAUTHORIZED"},
		{"GET, unknown user", func() tokenReply { return f.getToken(t, basic("dev/ghost", fixtureSecret("dev/reader"))) }, 401, "UNAUTHORIZED"},
		{"GET, with a registry token instead of credentials", func() tokenReply {
			return f.getToken(t, f.bearer(t, "dev/admin", repoAccess("dev/app", "*")), "repository:dev/app:pull")
		}, 401, "UNAUTHORIZED"},
		{"GET, malformed scope", func() tokenReply { return f.getToken(t, as("dev/reader"), "repository") }, 400, "UNSUPPORTED"},
		{"GET, invalid name in scope", func() tokenReply { return f.getToken(t, as("dev/admin"), "repository:dev/../other/secret:pull") }, 400, "NAME_INVALID"},
		{"GET, too many scope parameters", func() tokenReply { return f.getToken(t, as("dev/admin"), tooMany...) }, 403, "DENIED"},
		{"GET, too many scopes in one parameter", func() tokenReply { return f.getToken(t, as("dev/admin"), strings.Join(tooMany, " ")) }, 403, "DENIED"},
		{"POST, wrong password", func() tokenReply { return f.postToken(t, pw(func(v url.Values) { v.Set("password", "nope") })) }, 401, "UNAUTHORIZED"},
		{"POST, no credentials", func() tokenReply {
			return f.postToken(t, pw(func(v url.Values) { v.Del("username"); v.Del("password") }))
		}, 401, "UNAUTHORIZED"},
		{"POST, refresh_token grant", func() tokenReply {
			return f.postToken(t, pw(func(v url.Values) { v.Set("grant_type", "refresh_token"); v.Set("refresh_token", "x") }))
		}, 400, "UNSUPPORTED"},
		{"POST, too many scopes", func() tokenReply {
			return f.postToken(t, pw(func(v url.Values) { v.Set("scope", strings.Join(tooMany, " ")) }))
		}, 403, "DENIED"},
		{"PUT", func() tokenReply {
			return f.serveToken(t, httptest.NewRequest("PUT", "http://registry.example/token", nil))
		}, 405, "UNSUPPORTED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.do()
			if res.status != tc.wantStatus || errorCode(res.body) != tc.wantCode {
				t.Errorf("status %d code %q, want %d %s", res.status, errorCode(res.body), tc.wantStatus, tc.wantCode)
			}
			if res.claims != nil {
				t.Errorf("a refusal carried a token for %d scopes", len(res.claims.Access))
			}
		})
	}
}

func TestTokenLoginIsAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.getToken(t, as("dev/reader"))                            // docker login: no scope
	f.getToken(t, as("dev/reader"), "repository:dev/app:pull") // a pull: not a login
	f.getToken(t, "")                                          // anonymous: nobody to record
	f.getToken(t, basic("dev/reader", "wrong"))
	events, err := f.meta.ListAudit(ctx, "dev", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Action != "login" || events[0].Principal != "dev/reader" {
		t.Errorf("audit %+v, want exactly one login by dev/reader", events)
	}
}

// TestTokenNeverAnswersWithStorageText: a login the grammar refuses (a
// 5,000-byte user, a 2,100-byte tenancy, NUL) is a bad credential, 401,
// before any storage read; and when storage fails on a good one the
// answer is 503 UNAVAILABLE with a generic message — the store's text
// (table layout, request ids) is logged once, never sent.
func TestTokenNeverAnswersWithStorageText(t *testing.T) {
	f := newFixture(t)
	secret := fixtureSecret("dev/reader")
	for _, login := range []string{"dev/" + strings.Repeat("a", 5000), strings.Repeat("a", 2100) + "/reader", "dev/rea\x00der", "dev/", "/reader"} {
		for _, res := range []tokenReply{
			f.getToken(t, basic(login, secret), "repository:dev/app:pull"),
			f.postToken(t, url.Values{"grant_type": {"password"}, "username": {login}, "password": {secret}}),
		} {
			if res.status != 401 || errorCode(res.body) != "UNAUTHORIZED" || !strings.Contains(fmt.Sprint(res.body), "invalid username or auth token") {
				t.Errorf("login %.30q: %d %v, want 401 UNAUTHORIZED with the one bad-credentials message", login, res.status, res.body)
			}
		}
	}
	if err := f.meta.Close(); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	svc := NewTokenService(f.a, f.issuer, f.meta, slog.New(slog.NewJSONHandler(&logs, nil)))
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "http://registry.example/token?service=berth", nil)
	r.Header.Set("Authorization", basic("dev/reader", secret))
	svc.ServeHTTP(rec, r)
	body := rec.Body.String()
	if rec.Code != 503 || !strings.Contains(body, `"UNAVAILABLE"`) || rec.Header().Get("Retry-After") == "" {
		t.Errorf("with storage down: %d %s, want 503 UNAVAILABLE with Retry-After", rec.Code, body)
	}
	if strings.Contains(body, "database") {
		t.Errorf("the answer carries the store's text: %s", body)
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "database not open") {
		t.Errorf("logged %d lines, want the store's error once:\n%s", n, logs.String())
	}
}

func TestValidAuditID(t *testing.T) {
	for range 20 {
		id := NewAuditEvent(time.Now(), auth.Principal{}, "a", "t", "").ID
		if !ValidAuditID(id) {
			t.Fatalf("ValidAuditID(%q) = false for an id NewAuditEvent made", id)
		}
	}
	for _, s := range []string{
		"",
		"20261203T134700.123456789Z-0a1b2c3",   // one hex digit short
		"20261203T134700.123456789Z-0a1b2c3d4", // one too many
		"20261203T134700.123456789Z-0A1B2C3D",  // upper-case hex
		"2026120xT134700.123456789Z-0a1b2c3d",  // a letter in the date
		"20261203 134700.123456789Z-0a1b2c3d",  // no T
		"20261203T134700,123456789Z-0a1b2c3d",  // comma for the point
		"20261203T134700.123456789Z_0a1b2c3d",  // underscore for the dash
		"20261203T134700.12345678gZ-0a1b2c3d",  // hex in the nanoseconds
	} {
		if ValidAuditID(s) {
			t.Errorf("ValidAuditID(%q) = true", s)
		}
	}
}

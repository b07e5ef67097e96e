package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// env is the admin API behind the enforcement middleware over an
// embedded store holding two tenancies: dev (the bootstrap tenancy:
// admin, alice, bob) and acme (admin, carol).
type env struct {
	t    *testing.T
	meta *local.Metadata
	h    http.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	meta, err := local.OpenMetadata(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	ctx := context.Background()
	now := time.Now().UTC()
	for _, tn := range []string{"dev", "acme"} {
		must(t, meta.CreateTenancy(ctx, store.Tenancy{Name: tn, Created: now}))
		must(t, meta.PutGroup(ctx, store.Group{Tenancy: tn, Name: auth.AdminGroup, Created: now}))
		must(t, meta.PutUser(ctx, store.User{Tenancy: tn, Name: "admin", Groups: []string{auth.AdminGroup}, Created: now}))
	}
	for _, u := range []string{"dev/alice", "dev/bob", "acme/carol"} {
		tn, name, _ := strings.Cut(u, "/")
		must(t, meta.PutUser(ctx, store.User{Tenancy: tn, Name: name, Created: now}))
	}
	api := admin.New(meta, meta, admin.Config{Tenancy: "dev", Stats: meta}, slog.New(slog.DiscardHandler))
	return &env{t: t, meta: meta, h: authz.Enforce(api, "berth")}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// result is one response: status, body, and the body decoded.
type result struct {
	status int
	body   []byte
	header http.Header
}

// json decodes the body into v.
func (r result) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
}

// errorBody is the admin API's error body.
type errorBody struct {
	Errors []struct{ Code, Message string }
}

// as sends a request as the principal "<tenancy>/<user>" (authenticated
// with Basic, groups left for the API to load), or anonymously when as
// is "".
func (e *env) as(as, method, path string, body any) result {
	e.t.Helper()
	return e.send(authz.Decision{Allow: true, Via: "basic", Principal: principal(as)}, method, path, body)
}

func principal(login string) auth.Principal {
	tn, u, _ := strings.Cut(login, "/")
	return auth.Principal{Tenancy: tn, User: u}
}

func (e *env) send(d authz.Decision, method, path string, body any) result {
	e.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	req = req.WithContext(authz.WithAuthorizerContext(req.Context(), d.Context()))
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return result{status: rec.Code, body: rec.Body.Bytes(), header: rec.Header()}
}

// step is one request of a table and what it must answer.
type step struct {
	name   string
	as     string
	method string
	path   string
	body   any
	status int
	code   string // error code, when the status is an error
	has    string // a substring of the body
	lacks  string // a substring the body must not hold
}

// run sends each step in order (later steps see earlier ones' effects).
func (e *env) run(steps []step) {
	e.t.Helper()
	for _, s := range steps {
		res := e.as(s.as, s.method, s.path, s.body)
		e.t.Run(s.name, func(t *testing.T) {
			if res.status != s.status {
				t.Fatalf("%s %s as %s: status %d, want %d; body %s", s.method, s.path, s.as, res.status, s.status, res.body)
			}
			if s.code != "" {
				var eb errorBody
				res.json(t, &eb)
				if len(eb.Errors) != 1 || eb.Errors[0].Code != s.code || eb.Errors[0].Message == "" {
					t.Errorf("body %s, want one error with code %s and a message", res.body, s.code)
				}
			}
			if s.has != "" && !strings.Contains(string(res.body), s.has) {
				t.Errorf("body %s does not contain %q", res.body, s.has)
			}
			if s.lacks != "" && strings.Contains(string(res.body), s.lacks) {
				t.Errorf("body %s contains %q", res.body, s.lacks)
			}
		})
	}
}

// jsonText is s as it appears inside a JSON string.
func jsonText(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	must(t, err)
	return string(b[1 : len(b)-1])
}

// audit returns the actions recorded in a tenancy, oldest first, as
// "action target".
func (e *env) audit(tenancy string) []string {
	e.t.Helper()
	es, err := e.meta.ListAudit(context.Background(), tenancy, "", 1000)
	must(e.t, err)
	var out []string
	for i := len(es) - 1; i >= 0; i-- {
		out = append(out, es[i].Principal+" "+es[i].Action+" "+es[i].Target)
	}
	return out
}

// hasAll fails unless every want is among got.
func hasAll(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("audit trail %q lacks %q", got, w)
		}
	}
}

func TestRequestsWithoutAUserAreRefused(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		d      authz.Decision
		status int
		code   string
	}{
		{"no decision in the context → 401", authz.Decision{}, 401, "UNAUTHORIZED"},
		{"anonymous principal → 401", authz.Decision{Allow: true, Via: "none"}, 401, "UNAUTHORIZED"},
		{"user deleted since the token was issued → 401", authz.Decision{Allow: true, Via: "bearer", Principal: principal("dev/ghost")}, 401, "UNAUTHORIZED"},
		{"bearer principal gets its groups from the store → 200", authz.Decision{Allow: true, Via: "bearer", Principal: principal("dev/admin")}, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var res result
			if c.d.Via == "" {
				req := httptest.NewRequest("GET", "/api/tenancies/dev/users", nil)
				rec := httptest.NewRecorder()
				e.h.ServeHTTP(rec, req)
				res = result{status: rec.Code, body: rec.Body.Bytes()}
			} else {
				res = e.send(c.d, "GET", "/api/tenancies/dev/users", nil)
			}
			if res.status != c.status {
				t.Fatalf("status %d, want %d; body %s", res.status, c.status, res.body)
			}
			if c.code != "" && !strings.Contains(string(res.body), `"code":"`+c.code+`"`) {
				t.Errorf("body %s, want code %s", res.body, c.code)
			}
		})
	}
}

func TestGroupsClaimedInTheDecisionAreNotTrusted(t *testing.T) {
	e := newEnv(t)
	// The store, not the context, says who administers: alice is in no
	// group whatever the context claims.
	d := authz.Decision{Allow: true, Via: "basic", Principal: auth.Principal{Tenancy: "dev", User: "alice", Groups: []string{auth.AdminGroup}}}
	if res := e.send(d, "GET", "/api/tenancies/dev/users", nil); res.status != 403 {
		t.Fatalf("status %d, want 403; body %s", res.status, res.body)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	e.run([]step{
		{name: "unknown path → 404", as: "dev/admin", method: "GET", path: "/api/nothing", status: 404, code: "NOT_FOUND"},
		{name: "unknown path under a tenancy → 404", as: "dev/admin", method: "GET", path: "/api/tenancies/dev/widgets", status: 404, code: "NOT_FOUND"},
		{name: "empty segment → 404", as: "dev/admin", method: "GET", path: "/api/tenancies//users", status: 404, code: "NOT_FOUND"},
		{name: "wrong method → 405 naming the allowed ones", as: "dev/admin", method: "PATCH", path: "/api/tenancies/dev/users", status: 405, code: "UNSUPPORTED", has: "GET, POST"},
		{name: "malformed JSON → 400", as: "dev/admin", method: "POST", path: "/api/tenancies/dev/groups", body: "{", status: 400, code: "INVALID"},
		{name: "misspelt field → 400 naming it", as: "dev/admin", method: "POST", path: "/api/tenancies/dev/groups", body: `{"nmae":"x"}`, status: 400, code: "INVALID", has: "nmae"},
		{name: "missing body → 400", as: "dev/admin", method: "POST", path: "/api/tenancies/dev/groups", status: 400, code: "INVALID", has: "JSON body"},
		{name: "image without digest → 400", as: "dev/admin", method: "GET", path: "/api/images/dev/app", status: 400, code: "INVALID"},
	})
}

func TestTenancies(t *testing.T) {
	e := newEnv(t)
	e.run([]step{
		{name: "bootstrap administrator lists every tenancy", as: "dev/admin", method: "GET", path: "/api/tenancies", status: 200, has: `"acme"`},
		{name: "another tenancy's administrator sees only its own", as: "acme/admin", method: "GET", path: "/api/tenancies", status: 200, has: `{"tenancies":[{"name":"acme"`},
		{name: "a member reads its tenancy", as: "dev/alice", method: "GET", path: "/api/tenancies/dev", status: 200, has: `"name":"dev"`},
		{name: "another tenancy is denied", as: "acme/admin", method: "GET", path: "/api/tenancies/dev", status: 403, code: "DENIED"},
		{name: "only the bootstrap tenancy's administrators create tenancies", as: "acme/admin", method: "POST", path: "/api/tenancies", body: map[string]string{"name": "newco"}, status: 403, code: "DENIED"},
		{name: "a non-administrator of the bootstrap tenancy cannot either", as: "dev/alice", method: "POST", path: "/api/tenancies", body: map[string]string{"name": "newco"}, status: 403, code: "DENIED"},
		{name: "invalid tenancy name → 400", as: "dev/admin", method: "POST", path: "/api/tenancies", body: map[string]string{"name": "New_Co!"}, status: 400, code: "INVALID", has: "a-z"},
		{name: "existing tenancy → 409", as: "dev/admin", method: "POST", path: "/api/tenancies", body: map[string]string{"name": "acme"}, status: 409, code: "CONFLICT"},
		{name: "missing tenancy → 404", as: "dev/admin", method: "GET", path: "/api/tenancies/nowhere", status: 404, code: "NOT_FOUND"},
	})

	res := e.as("dev/admin", "POST", "/api/tenancies", map[string]string{"name": "newco"})
	if res.status != 201 {
		t.Fatalf("create tenancy: %d %s", res.status, res.body)
	}
	var got struct {
		Name, Login string
		Token       struct{ ID, Token string }
	}
	res.json(t, &got)
	if got.Name != "newco" || got.Login != "newco/admin" {
		t.Errorf("created %+v", got)
	}
	id, secret, ok := auth.ParseAuthToken(got.Token.Token)
	if !ok || id != got.Token.ID {
		t.Fatalf("token %q (id %q) is not an auth token", got.Token.Token, got.Token.ID)
	}
	ctx := context.Background()
	tok, err := e.meta.GetToken(ctx, "newco", "admin", id)
	if err != nil || !auth.SecretMatches(tok.Hash, secret) {
		t.Errorf("stored token %+v, %v does not match the secret answered", tok, err)
	}
	u, err := e.meta.GetUser(ctx, "newco", "admin")
	if err != nil || len(u.Groups) != 1 || u.Groups[0] != auth.AdminGroup {
		t.Errorf("newco/admin = %+v, %v; want a member of %s", u, err, auth.AdminGroup)
	}
	// The new tenancy's administrator administers it, and only it.
	e.run([]step{
		{name: "new tenancy's admin lists its users", as: "newco/admin", method: "GET", path: "/api/tenancies/newco/users", status: 200, has: `"login":"newco/admin"`},
		{name: "new tenancy's admin cannot see dev", as: "newco/admin", method: "GET", path: "/api/tenancies/dev/users", status: 403, code: "DENIED"},
	})
	hasAll(t, e.audit("dev"), "dev/admin create tenancy newco")
	hasAll(t, e.audit("newco"), "dev/admin create tenancy newco")
}

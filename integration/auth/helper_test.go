package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/integration/harness"
	berthauth "github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/store"
)

// service is the token audience and the challenge's service.
const service = "berth"

// seededUsers are the logins the registry starts with besides dev/admin
// (the bootstrap administrator), with their groups.
var seededUsers = []struct {
	login  string
	groups []string
}{
	{"dev/viewer", []string{"inspectors"}},
	{"dev/reader", []string{"readers"}},
	{"dev/user", []string{"users"}},
	{"dev/manager", []string{"managers"}},
	{"dev/team", []string{"team"}},
	{"dev/nobody", nil},
	{"other/root", []string{berthauth.AdminGroup}},
}

// devPolicy is tenancy dev's policy: one group per verb, and a group
// with use on the team-* repositories only.
var devPolicy = []string{
	"allow group inspectors to inspect repos in tenancy",
	"allow group readers to read repos in tenancy",
	"allow group users to use repos in tenancy",
	"allow group managers to manage repos in tenancy",
	"allow group team to use repos in tenancy where target.repo.name = /team-*/",
}

// registry is the whole registry with authentication on, listening on a
// random 127.0.0.1 port.
type registry struct {
	t      *testing.T
	base   string // http://127.0.0.1:port
	data   string
	cfg    config.Config
	local  *inprocess.Local
	client *http.Client // follows no redirects
	secret map[string]string
}

// onBackends runs test once on each storage backend, as a subtest named
// for it: the attack suite holds on the aws backend (DynamoDB + S3
// emulators) as on the embedded one.
func onBackends(t *testing.T, test func(t *testing.T, backend string)) {
	for _, b := range harness.Backends {
		t.Run(b, func(t *testing.T) { test(t, b) })
	}
}

// start starts the registry on backend as `make run` would with
// BERTH_AUTH=on, and seeds tenancies dev and other with the users of
// seededUsers.
func start(t *testing.T, backend string, edits ...func(*config.Config)) *registry {
	t.Helper()
	base := config.Config{
		Auth: true, Limits: true,
		PresignTTL: 15 * time.Minute, Service: service, TokenTTL: 15 * time.Minute, Tenancy: "dev",
		// The tests' OIDC issuer (keyless_test.go) serves on 127.0.0.1.
		OIDCLoopback: true,
	}
	for _, edit := range edits {
		edit(&base)
	}
	cfg := harness.OnBackend(t, backend, base)
	host, l := harness.Start(t, cfg)
	r := &registry{
		t: t, base: "http://" + host, data: cfg.Data, cfg: cfg, local: l,
		client: &http.Client{
			Timeout:       time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		secret: map[string]string{"dev/admin": l.AdminToken},
	}
	r.seed()
	return r
}

func (r *registry) seed() {
	ctx, ids, now := context.Background(), r.local.Stores.IDs, time.Now().UTC()
	must := func(err error) {
		if err != nil {
			r.t.Helper()
			r.t.Fatalf("seeding: %v", err)
		}
	}
	must(ids.CreateTenancy(ctx, store.Tenancy{Name: "other", Created: now}))
	for _, u := range seededUsers {
		ten, name, _ := strings.Cut(u.login, "/")
		for _, g := range u.groups {
			must(ids.PutGroup(ctx, store.Group{Tenancy: ten, Name: g, Created: now}))
		}
		must(ids.PutUser(ctx, store.User{Tenancy: ten, Name: name, Groups: u.groups, Created: now}))
		r.secret[u.login] = r.addToken(u.login, nil)
	}
	must(ids.PutPolicy(ctx, store.Policy{Tenancy: "dev", Name: "access", Statements: devPolicy, Updated: now}))
}

// addToken stores a new auth token for login (edit may revoke it or set
// its expiry) and returns the secret a user would be shown.
func (r *registry) addToken(login string, edit func(*store.AuthToken)) string {
	r.t.Helper()
	ten, user, _ := strings.Cut(login, "/")
	id, secret, hash := berthauth.NewAuthToken()
	rec := store.AuthToken{Tenancy: ten, User: user, ID: id, Hash: hash, Created: time.Now().UTC(), Expires: time.Now().Add(time.Hour)}
	if edit != nil {
		edit(&rec)
	}
	if err := r.local.Stores.IDs.PutToken(context.Background(), rec); err != nil {
		r.t.Fatal(err)
	}
	return secret
}

// setRepository creates or changes a repository's record, as an
// administrator would through the admin API. The authorizer caches
// visibility for a few seconds, so tests set it before first use.
func (r *registry) setRepository(name string, edit func(*store.Repository)) {
	r.t.Helper()
	ctx := context.Background()
	rec, err := r.local.Stores.Meta.GetRepository(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		rec = store.Repository{Name: name, Created: time.Now().UTC()}
	} else if err != nil {
		r.t.Fatalf("repository %s: %v", name, err)
	}
	edit(&rec)
	if err := r.local.Stores.Meta.PutRepository(ctx, rec); err != nil {
		r.t.Fatal(err)
	}
}

// response is a finished HTTP exchange.
type response struct {
	Method string
	Status int
	Header http.Header
	Body   []byte
}

// ErrorCode is the first spec error code in the body ("" if none).
func (res *response) ErrorCode() string {
	var b struct{ Errors []struct{ Code string } }
	if json.Unmarshal(res.Body, &b) != nil || len(b.Errors) == 0 {
		return ""
	}
	return b.Errors[0].Code
}

func (res *response) String() string {
	body := string(res.Body)
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return strconv.Itoa(res.Status) + " " + body
}

// send makes one request; target is a path (with query) or a URL.
func (r *registry) send(method, target string, body []byte, header http.Header) *response {
	r.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = r.base + target
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, target, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		r.t.Fatalf("%s %s: reading the body: %v", method, target, err)
	}
	return &response{Method: method, Status: res.StatusCode, Header: res.Header, Body: b}
}

// who is a caller: a login and its auth token, or anonymous (zero).
type who struct{ login, secret string }

func (r *registry) as(login string) who {
	if login == "" {
		return who{}
	}
	s, ok := r.secret[login]
	if !ok {
		r.t.Fatalf("no seeded login %q", login)
	}
	return who{login, s}
}

func (w who) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(w.login+":"+w.secret))
}

// mode is how a client authenticates: Basic on every request, or
// docker's flow (anonymous request, 401 challenge, GET /token with Basic,
// retry with the Bearer token).
type mode string

const (
	basicMode  mode = "basic"
	bearerMode mode = "bearer"
)

// client is a caller in a mode.
type client struct {
	r    *registry
	who  who
	mode mode
}

func (r *registry) admin() client { return client{r, r.as("dev/admin"), basicMode} }

// do sends a request as the client. In bearer mode, a 401 challenge is
// answered as docker does: a token for the challenge's scope (plus
// extra, as docker adds the source of a mount) and one retry.
func (c client) do(method, target string, body []byte, header http.Header, extra ...string) *response {
	c.r.t.Helper()
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if c.mode == basicMode {
		if c.who.login != "" {
			h.Set("Authorization", c.who.basic())
		}
		return c.r.send(method, target, body, h)
	}
	res := c.r.send(method, target, body, h)
	ch, ok := parseChallenge(res.Header.Get("WWW-Authenticate"))
	if res.Status != http.StatusUnauthorized || !ok {
		return res
	}
	var scopes []string
	if ch["scope"] != "" {
		scopes = append(scopes, ch["scope"])
	}
	tok := c.r.token(ch["realm"], c.who, append(scopes, extra...)...)
	h.Set("Authorization", "Bearer "+tok)
	return c.r.send(method, target, body, h)
}

// token gets a registry token from realm as w (anonymous when zero).
func (r *registry) token(realm string, w who, scopes ...string) string {
	r.t.Helper()
	res := r.tokenResponse(realm, w, scopes...)
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &tr) != nil || tr.Token == "" {
		r.t.Fatalf("GET %s as %q for %v: %v", realm, w.login, scopes, res)
	}
	return tr.Token
}

func (r *registry) tokenResponse(realm string, w who, scopes ...string) *response {
	r.t.Helper()
	if realm == "" {
		realm = r.base + "/token"
	}
	q := url.Values{"service": {service}}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	h := http.Header{}
	if w.login != "" {
		h.Set("Authorization", w.basic())
	}
	return r.send("GET", realm+"?"+q.Encode(), nil, h)
}

var challengeParam = regexp.MustCompile(`(\w+)="([^"]*)"`)

// parseChallenge reads a Bearer WWW-Authenticate value.
func parseChallenge(s string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(s, "Bearer ")
	if !ok {
		return nil, false
	}
	m := map[string]string{}
	for _, kv := range challengeParam.FindAllStringSubmatch(rest, -1) {
		m[kv[1]] = kv[2]
	}
	return m, true
}

// checkChallenge reports what is wrong with a 401 that should challenge
// for scope ("" for none) — or "" if nothing is.
func (r *registry) checkChallenge(res *response, scope string) string {
	if res.Status != http.StatusUnauthorized || (res.Method != "HEAD" && res.ErrorCode() != "UNAUTHORIZED") {
		return "want 401 UNAUTHORIZED, got " + res.String()
	}
	want := `Bearer realm="` + r.base + `/token",service="` + service + `"`
	if scope != "" {
		want += `,scope="` + scope + `"`
	}
	if got := res.Header.Get("WWW-Authenticate"); got != want {
		return "WWW-Authenticate " + got + ", want " + want
	}
	return ""
}

// checkDenied reports what is wrong with a response that should be 403
// DENIED, or "".
func checkDenied(res *response) string {
	if res.Status != http.StatusForbidden || (res.Method != "HEAD" && res.ErrorCode() != "DENIED") {
		return "want 403 DENIED, got " + res.String()
	}
	if c := res.Header.Get("WWW-Authenticate"); c != "" {
		return "403 with a challenge: " + c
	}
	return ""
}

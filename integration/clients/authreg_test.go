package clients

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/store"
)

// tenancy is the namespace an auth-on registry bootstraps, as `make run`
// does: user admin in group administrators.
const tenancy = "dev"

// authRegistry is an in-process Berth with authentication on. Its own
// requests (Manifest, AssertImage, ...) are sent as dev/admin.
type authRegistry struct {
	*registry
	local *inprocess.Local
	// Admin is the auth token of dev/admin.
	Admin string
}

// startAuthRegistry starts the registry as `make run` does with
// BERTH_AUTH=on (the default) — embedded backend in a temporary
// directory, tenancy dev bootstrapped — on a random 127.0.0.1 port, and
// stops it when the test ends.
//
// The authorizer caches a tenancy's policies and a repository's
// visibility for 10 seconds, so seed them (AddUser, Allow, MakePublic)
// before the first client request.
func startAuthRegistry(t testing.TB, limits bool, edits ...func(*config.Config)) *authRegistry {
	t.Helper()
	cfg := config.Config{
		Auth:       true,
		Backend:    "embedded",
		Data:       t.TempDir(),
		Limits:     limits,
		PresignTTL: 15 * time.Minute,
		Service:    "berth",
		TokenTTL:   15 * time.Minute,
		Tenancy:    tenancy,
		// keyless_test.go's OIDC issuer serves on 127.0.0.1.
		OIDCLoopback: true,
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	reg, l := serve(t, cfg)
	reg.Authorization = basicAuth(tenancy+"/admin", l.AdminToken)
	return &authRegistry{registry: reg, local: l, Admin: l.AdminToken}
}

// basicAuth is an Authorization header with Basic credentials.
func basicAuth(login, token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+token))
}

// AddUser creates user dev/<name> in groups (created when missing) with
// one auth token, valid for an hour, and returns the token.
func (r *authRegistry) AddUser(t testing.TB, name string, groups ...string) string {
	t.Helper()
	ctx, ids, now := context.Background(), r.local.Stores.IDs, time.Now().UTC()
	for _, g := range groups {
		must(t, ids.PutGroup(ctx, store.Group{Tenancy: tenancy, Name: g, Created: now}))
	}
	must(t, ids.PutUser(ctx, store.User{Tenancy: tenancy, Name: name, Groups: groups, Created: now}))
	id, token, hash := auth.NewAuthToken()
	must(t, ids.PutToken(ctx, store.AuthToken{Tenancy: tenancy, User: name, ID: id, Hash: hash,
		Description: "client tests", Created: now, Expires: now.Add(time.Hour)}))
	return token
}

// Allow writes policy name with statements (each checked to parse).
func (r *authRegistry) Allow(t testing.TB, name string, statements ...string) {
	t.Helper()
	for _, s := range statements {
		if _, err := auth.ParseStatement(s); err != nil {
			t.Fatalf("policy statement %q: %v", s, err)
		}
	}
	must(t, r.local.Stores.IDs.PutPolicy(context.Background(), store.Policy{
		Tenancy: tenancy, Name: name, Statements: statements, Updated: time.Now().UTC()}))
}

// MakePublic creates repository repo as a public one, as
// `berth repos create --public` does.
func (r *authRegistry) MakePublic(t testing.TB, repo string) {
	t.Helper()
	must(t, r.local.Stores.Meta.PutRepository(context.Background(), store.Repository{
		Name: repo, Created: time.Now().UTC(), Public: true}))
}

// Status sends a request with authorization ("" for none) and returns
// the status code and the body.
func (r *authRegistry) Status(t testing.TB, method, path, authorization string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+r.Host+path, nil)
	must(t, err)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	must(t, err)
	return res.StatusCode, string(body)
}

// wrongToken is token with its secret changed: well-formed, so that the
// registry has to check the secret to refuse it.
func wrongToken(token string) string {
	last := "a"
	if strings.HasSuffix(token, "a") {
		last = "b"
	}
	return token[:len(token)-1] + last
}

// newAuthShell is newShell with skopeo's auth file in the test's
// directory too, so that no client finds credentials it was not given.
func newAuthShell(t *testing.T) *shell {
	s := newShell(t)
	s.env = append(s.env[:len(s.env):len(s.env)], "REGISTRY_AUTH_FILE="+s.Path("containers-auth.json"))
	return s
}

// Feed runs a command that must succeed with input on its standard input
// (how secrets are given to `login --password-stdin`) and returns its
// standard output.
func (s *shell) Feed(input, name string, args ...string) string {
	s.t.Helper()
	stdout, stderr, err := s.tryInput(input, name, args...)
	if err != nil {
		s.t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, tail(stdout), tail(stderr))
	}
	return stdout
}

// FeedFail is Feed for a command that must fail; it returns the
// command's standard error and output together.
func (s *shell) FeedFail(input, name string, args ...string) string {
	s.t.Helper()
	stdout, stderr, err := s.tryInput(input, name, args...)
	if err == nil {
		s.t.Fatalf("%s %s succeeded, want an error\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), tail(stdout), tail(stderr))
	}
	return stderr + stdout
}

func (s *shell) tryInput(input, name string, args ...string) (stdout, stderr string, err error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir, cmd.Stdin = s.env, s.dir, strings.NewReader(input)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err = cmd.Run()
	s.t.Logf("$ %s %s < secret  (%.1fs)", name, strings.Join(args, " "), time.Since(start).Seconds())
	return o.String(), e.String(), err
}

// dockerConfig returns the shell's docker config.json ("" when there is
// none), where docker login keeps credentials.
func dockerConfig(s *shell) string {
	s.t.Helper()
	b, err := os.ReadFile(s.Path(".docker", "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	must(s.t, err)
	return string(b)
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/store/local"
)

// registry starts the whole registry in-process (local gateway, auth on)
// and returns its URL and the bootstrap admin's token.
func registry(t *testing.T) (string, string) {
	url, l := localRegistry(t)
	return url, l.AdminToken
}

// localRegistry serves the registry as `make run` does, and returns its
// URL and the Local (its stores and retention).
func localRegistry(t *testing.T) (string, *inprocess.Local) {
	t.Helper()
	cfg := config.Config{Backend: "embedded", Data: t.TempDir(), Auth: true, Service: "berth",
		TokenTTL: 15 * time.Minute, PresignTTL: 15 * time.Minute, Tenancy: "dev", LogLevel: "error"}
	l, err := inprocess.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Gateway)
	t.Cleanup(func() {
		srv.Close()
		l.Close()
	})
	return srv.URL, l
}

// term is a terminal running berth commands with its own config file.
type term struct {
	t        *testing.T
	c        *cli
	config   string
	out, err bytes.Buffer
	// meta is the store behind a retention-only server (retentionTerm).
	meta *local.Metadata
}

func newTerm(t *testing.T) *term {
	tm := &term{t: t, config: filepath.Join(t.TempDir(), "berth", "config.json")}
	tm.c = &cli{stdout: &tm.out, stderr: &tm.err, http: http.DefaultClient,
		getenv: func(k string) string {
			if k == "BERTH_CONFIG" {
				return tm.config
			}
			return ""
		}}
	return tm
}

// run runs one command line with stdin, returning stdout and the error.
func (tm *term) run(stdin string, args ...string) (string, error) {
	tm.t.Helper()
	tm.out.Reset()
	tm.err.Reset()
	tm.c.stdin = strings.NewReader(stdin)
	ok, err := tm.c.run(context.Background(), args)
	if !ok {
		tm.t.Fatalf("berth %s: not a command", strings.Join(args, " "))
	}
	return tm.out.String(), err
}

// must runs a command that must succeed and returns its stdout.
func (tm *term) must(args ...string) string {
	tm.t.Helper()
	out, err := tm.run("", args...)
	if err != nil {
		tm.t.Fatalf("berth %s: %v (stderr %s)", strings.Join(args, " "), err, tm.err.String())
	}
	return out
}

// fails runs a command that must fail with a message holding want.
func (tm *term) fails(want string, args ...string) {
	tm.t.Helper()
	_, err := tm.run("", args...)
	if err == nil || !strings.Contains(err.Error(), want) {
		tm.t.Fatalf("berth %s: error %v, want one containing %q", strings.Join(args, " "), err, want)
	}
}

func (tm *term) login(url, user, token string) error {
	tm.t.Helper()
	_, err := tm.run(token+"\n", "login", url, "-u", user, "--password-stdin")
	return err
}

// dockerToken asks /token for a scope as docker does, with Basic
// credentials, and returns the status and the access granted.
func dockerToken(t *testing.T, url, user, token, scope string) (int, []string) {
	t.Helper()
	req, err := http.NewRequest("GET", url+"/token?service=berth&scope="+scope, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return res.StatusCode, nil
	}
	var body struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(body.Token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Access []struct{ Actions []string } }
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range claims.Access {
		actions = append(actions, a.Actions...)
	}
	return 200, actions
}

// TestCLIGrantsACIRobotReadOnlyAccess: the docs' walk-through, against a
// running registry — an administrator logs in, creates a group, a user in
// it, a read-only policy and a token; docker's token request with that
// token gets pull and not push.
func TestCLIGrantsACIRobotReadOnlyAccess(t *testing.T) {
	url, adminToken := registry(t)
	admin := newTerm(t)

	if err := admin.login(url, "dev/admin", adminToken+"x"); err == nil || !strings.Contains(err.Error(), "invalid username or auth token") {
		t.Fatalf("login with a wrong token: %v", err)
	}
	if _, err := os.Stat(admin.config); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed login saved %s (%v)", admin.config, err)
	}
	if err := admin.login(url, "dev/admin", adminToken); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(admin.config); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file %v, %v; want mode 0600", fi, err)
	}

	admin.must("groups", "create", "readers", "--description", "pull only")
	admin.must("users", "create", "ci")
	if out := admin.must("users", "set-groups", "ci", "readers"); !strings.Contains(out, "dev/ci is in groups: readers") {
		t.Errorf("set-groups said %q", out)
	}
	admin.fails("column 24: unknown verb", "policies", "put", "ci-read", "--statement", "allow group readers to rread repos in tenancy")
	admin.must("policies", "put", "ci-read", "--statement", "allow group readers to read repos in tenancy")
	token := strings.TrimSpace(admin.must("tokens", "create", "--user", "ci", "--description", "ci pipeline", "--expires-in-days", "30"))
	if !strings.HasPrefix(token, "bt_") || !strings.Contains(admin.err.String(), "shown once") {
		t.Fatalf("tokens create printed %q (stderr %q)", token, admin.err.String())
	}

	// docker login, then a push's token request: pull is granted, push not.
	if status, _ := dockerToken(t, url, "dev/ci", token, ""); status != 200 {
		t.Fatalf("docker login as dev/ci: %d", status)
	}
	if status, actions := dockerToken(t, url, "dev/ci", token, "repository:dev/app:pull,push"); status != 200 || !slices.Equal(actions, []string{"pull"}) {
		t.Fatalf("token for dev/app: %d %v, want pull only", status, actions)
	}
	if status, _ := dockerToken(t, url, "dev/ci", token+"x", ""); status != 401 {
		t.Fatalf("docker login with a wrong token: %d, want 401", status)
	}

	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"users", "list"}, []string{"dev/ci", "readers", "dev/admin", "administrators"}},
		{[]string{"users", "get", "ci"}, []string{"dev/ci", "readers"}},
		{[]string{"groups", "list"}, []string{"readers", "pull only"}},
		{[]string{"groups", "get", "readers"}, []string{"Members:     ci"}},
		{[]string{"policies", "list"}, []string{"ci-read", "  allow group readers to read repos in tenancy"}},
		{[]string{"policies", "get", "ci-read"}, []string{"allow group readers to read repos in tenancy\n"}},
		{[]string{"tokens", "list", "--user", "ci"}, []string{"ci pipeline", "active"}},
		{[]string{"users", "list", "--json"}, []string{`"login": "dev/ci"`}},
		{[]string{"tenancies", "list"}, []string{"dev"}},
		{[]string{"audit"}, []string{"dev/admin", "create user", "dev/ci", "put policy", "create token"}},
	} {
		out := admin.must(c.args...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("berth %s printed %q, want %q in it", strings.Join(c.args, " "), out, w)
			}
		}
	}

	// The robot itself may not administer anything.
	robot := newTerm(t)
	if err := robot.login(url, "dev/ci", token); err != nil {
		t.Fatal(err)
	}
	robot.fails("administrators group of tenancy dev (DENIED)", "users", "list")
	robot.fails("needs the manage verb (DENIED)", "repos", "create", "dev/robot")
	if out := robot.must("tokens", "list"); !strings.Contains(out, "ci pipeline") {
		t.Errorf("the robot's own tokens: %q", out)
	}

	// Revoking shows in the list.
	var list struct{ Tokens []struct{ ID string } }
	if err := json.Unmarshal([]byte(admin.must("tokens", "list", "--user", "ci", "--json")), &list); err != nil || len(list.Tokens) != 1 {
		t.Fatalf("tokens list --json: %+v, %v", list, err)
	}
	admin.must("tokens", "revoke", list.Tokens[0].ID, "--user", "ci")
	if out := admin.must("tokens", "list", "--user", "ci"); !strings.Contains(out, "revoked") {
		t.Errorf("after revoke: %q", out)
	}
}

func TestCLIRepositories(t *testing.T) {
	url, adminToken := registry(t)
	tm := newTerm(t)
	if err := tm.login(strings.TrimPrefix(url, "http://"), "dev/admin", adminToken); err != nil {
		t.Fatal(err)
	}
	tm.must("repos", "create", "dev/team/app", "--public")
	tm.fails("(berth repos set) (CONFLICT)", "repos", "create", "dev/team/app")
	tm.fails("tenancy namespace", "repos", "create", "app")
	if out := tm.must("repos", "set", "dev/team/app", "--immutable-tags=true"); !strings.Contains(out, "dev/team/app is public; immutable tags: yes") {
		t.Errorf("set said %q", out)
	}
	_, err := tm.run("", "repos", "set", "dev/team/app")
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Errorf("set without a change: %v, want a usage error", err)
	}
	if out := tm.must("repos", "list"); !strings.Contains(out, "dev/team/app") || !strings.Contains(out, "public") {
		t.Errorf("list printed %q", out)
	}
	if out := tm.must("repos", "get", "dev/team/app"); !strings.Contains(out, "Immutable tags: yes") {
		t.Errorf("get printed %q", out)
	}
	if out := tm.must("repos", "delete", "dev/team/app"); !strings.Contains(out, "Deleted dev/team/app: 0 tags, 0 manifests, 0 blob links") {
		t.Errorf("delete printed %q", out)
	}
	tm.fails("is not known (NAME_UNKNOWN)", "repos", "get", "dev/team/app")

	token := strings.TrimSpace(tm.must("tenancies", "create", "acme"))
	if status, _ := dockerToken(t, url, "acme/admin", token, ""); status != 200 {
		t.Errorf("docker login as acme/admin with the new tenancy's token: %d", status)
	}
	if out := tm.must("users", "list", "--tenancy", "acme"); !strings.Contains(out, "acme/admin") {
		t.Errorf("users of acme: %q", out)
	}
	tm.must("logout")
	tm.fails("not logged in", "repos", "list")
}

// helpTexts runs --help on every command and verb the dispatch table
// holds, failing the test where one does not print its usage, and
// returns every help text printed, the top-level usage first.
func helpTexts(t *testing.T) map[string]string {
	tm := newTerm(t)
	lines := [][]string{{"--help"}}
	for _, g := range groups {
		lines = append(lines, []string{g.name, "--help"})
		for _, v := range g.verbs {
			lines = append(lines, []string{g.name, v.name, "--help"})
		}
	}
	for _, c := range commands {
		lines = append(lines, []string{c.name, "-h"})
	}
	texts := map[string]string{}
	for _, args := range lines {
		out, err := tm.run("", args...)
		if !errors.Is(err, errHelp) || !strings.Contains(out, "berth") {
			t.Errorf("berth %s: %v, printed %q", strings.Join(args, " "), err, out)
		}
		texts["berth "+strings.Join(args, " ")] = out
	}
	return texts
}

// TestEveryVerbHasHelp: --help on every command prints its usage and
// succeeds, without credentials.
func TestEveryVerbHasHelp(t *testing.T) {
	texts := helpTexts(t)
	if u := texts["berth --help"]; u != usage() || !strings.Contains(u, "berth retention   list | set |") {
		t.Errorf("berth --help printed %q, want the generated usage", u)
	}
}

// mention is "berth <command> [<verb>]" in help text.
var mention = regexp.MustCompile(`\bberth ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?`)

// TestHelpNamesOnlyRealCommands walks every command and verb that any
// help text names (usage, group usages, every verb's --help, examples
// included) and runs it: each must be one the table dispatches.
func TestHelpNamesOnlyRealCommands(t *testing.T) {
	tm := newTerm(t)
	seen := map[string]bool{}
	for from, text := range helpTexts(t) {
		for _, m := range mention.FindAllStringSubmatch(text, -1) {
			args := []string{m[1]}
			if slices.ContainsFunc(groups, func(g group) bool { return g.name == m[1] }) {
				if m[2] == "" {
					continue // "berth retention <verb>"
				}
				args = append(args, m[2])
			}
			key := strings.Join(args, " ")
			if seen[key] {
				continue
			}
			seen[key] = true
			ok, err := tm.c.run(context.Background(), append(args, "--help"))
			if !ok || !errors.Is(err, errHelp) {
				t.Errorf("%s names \"berth %s\", which does not run: %v", from, key, err)
			}
		}
	}
	if !seen["retention set"] || !seen["tokens create"] || !seen["doctor"] {
		t.Errorf("the walk missed commands the help names: %v", seen)
	}
}

func TestBootstrapWritesTheStoreOnce(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BERTH_BACKEND", "embedded")
	t.Setenv("BERTH_DATA", dir)
	t.Setenv("BERTH_TENANCY", "ops")
	t.Setenv("BERTH_ADMIN_TOKEN", "")
	tm := newTerm(t)
	first := strings.TrimSpace(tm.must("bootstrap"))
	if !strings.HasPrefix(first, "bt_") || !strings.Contains(tm.err.String(), "ops/admin") {
		t.Fatalf("bootstrap printed %q (stderr %q)", first, tm.err.String())
	}
	if again := strings.TrimSpace(tm.must("bootstrap")); again != first {
		t.Errorf("second bootstrap printed %q, want the same token %q", again, first)
	}
}

func TestParseTakesFlagsAnywhere(t *testing.T) {
	cases := []struct {
		name string
		args []string
		pos  []string
		user string
	}{
		{"flags first", []string{"-u", "dev/a", "url"}, []string{"url"}, "dev/a"},
		{"flags last", []string{"url", "-u", "dev/a"}, []string{"url"}, "dev/a"},
		{"flags between", []string{"a", "--u=dev/a", "b"}, []string{"a", "b"}, "dev/a"},
		{"after -- all is positional", []string{"a", "--", "-u"}, []string{"a", "-u"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm := newTerm(t)
			fs := tm.c.flags("x <a>", "x")
			u := fs.String("u", "", "")
			pos, err := tm.c.parse(fs, c.args, 0, -1)
			if err != nil || !slices.Equal(pos, c.pos) || *u != c.user {
				t.Errorf("parse(%q) = %q, -u %q, %v; want %q, -u %q", c.args, pos, *u, err, c.pos, c.user)
			}
		})
	}
}

func TestRegistryURL(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1:5000":                   "http://127.0.0.1:5000",
		"localhost:5000/":                  "http://localhost:5000",
		"registry.example.com":             "https://registry.example.com",
		"https://abc.execute-api.aws.com/": "https://abc.execute-api.aws.com",
		"http://10.0.0.1:5000":             "http://10.0.0.1:5000",
		"ftp://example.com":                "",
		"https://":                         "",
	}
	for in, want := range cases {
		got, err := registryURL(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("registryURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/oidc/oidctest"
)

// TestCLIFederationRules: an administrator trusts a CI issuer with
// berth federation put; a job's OIDC token then gets a registry token
// for dev/oidc from /token; the rule is listed, shown and deleted.
func TestCLIFederationRules(t *testing.T) {
	cfg := config.Config{Backend: "embedded", Data: t.TempDir(), Auth: true, Service: "berth", TokenTTL: 5 * time.Minute,
		PresignTTL: 15 * time.Minute, Tenancy: "dev", LogLevel: "error", OIDCLoopback: true}
	host, l := harness.Start(t, cfg)
	url := "http://" + host
	gh := oidctest.NewServer(t).Issuer("/github", "RS256")

	admin := newTerm(t)
	if err := admin.login(url, "dev/admin", l.AdminToken); err != nil {
		t.Fatal(err)
	}
	admin.must("groups", "create", "ci")
	admin.must("policies", "put", "ci", "--statement", "allow group ci to use repos in tenancy where target.repo.name = /app*/")
	admin.fails("needs at least one --claim", "federation", "put", "gha", "--issuer", gh.URL, "--audience", url, "--group", "ci")
	admin.fails("must be https", "federation", "put", "gha", "--issuer", "http://ci.example.com", "--audience", url, "--group", "ci", "--claim", "repository=acme/app")
	out := admin.must("federation", "put", "gha", "--issuer", gh.URL, "--audience", url, "--group", "ci",
		"--claim", "repository=acme/app", "--claim", "ref=refs/heads/*", "--max-lifetime", "2m")
	if !strings.Contains(out, "log in as dev/oidc acting as group ci") {
		t.Errorf("put printed %q", out)
	}
	if out := admin.must("federation", "list"); !strings.Contains(out, "gha") || !strings.Contains(out, "ref=refs/heads/* repository=acme/app") || !strings.Contains(out, "2m0s") {
		t.Errorf("list printed %q", out)
	}
	if out := admin.must("federation", "get", "gha"); !strings.Contains(out, "issuer:        "+gh.URL) || !strings.Contains(out, "login:         dev/oidc") {
		t.Errorf("get printed %q", out)
	}

	job := gh.Token(oidctest.GitHub("acme/app", "refs/heads/main", url))
	status, actions := dockerToken(t, url, "dev/oidc", job, "repository:dev/app:pull,push")
	if status != 200 || !slices.Equal(actions, []string{"pull", "push"}) {
		t.Fatalf("the job's token request: %d %v, want 200 pull,push", status, actions)
	}
	fork := gh.Token(oidctest.GitHub("fork/app", "refs/heads/main", url))
	if status, _ := dockerToken(t, url, "dev/oidc", fork, "repository:dev/app:pull"); status != 401 {
		t.Fatalf("another repository's token: %d, want 401", status)
	}

	member := newTerm(t)
	admin.must("users", "create", "dev1")
	tok := strings.TrimSpace(admin.must("tokens", "create", "--user", "dev1"))
	if err := member.login(url, "dev/dev1", tok); err != nil {
		t.Fatal(err)
	}
	member.must("federation", "list")
	member.fails("DENIED", "federation", "delete", "gha")
	admin.must("federation", "delete", "gha")
	if _, err := admin.run("", "federation", "list"); err != nil || !strings.Contains(admin.err.String(), "No federation rules") {
		t.Errorf("list after delete: %v, stderr %q", err, admin.err.String())
	}
}

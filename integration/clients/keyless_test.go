package clients

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/oidc/oidctest"
	"github.com/berth-registry/berth/shared/store"
)

// TestDockerKeylessLogin is docs/keyless.md's CI recipe with the real
// docker CLI: a GitHub Actions-shaped OIDC token as the password of
// dev/oidc, docker login, push, pull; a token from another repository
// is refused at login.
func TestDockerKeylessLogin(t *testing.T) {
	need(t, "docker", "busybox")
	t.Parallel()
	reg := startAuthRegistry(t, true)
	gh := oidctest.NewServer(t).Issuer("/github", "RS256")
	ctx, ids, now := context.Background(), reg.local.Stores.IDs, time.Now().UTC()
	must(t, ids.PutGroup(ctx, store.Group{Tenancy: tenancy, Name: "ci", Created: now}))
	reg.Allow(t, "ci", "allow group ci to manage repos in tenancy where target.repo.name = /acme/*/")
	must(t, ids.PutFederationRule(ctx, store.FederationRule{Tenancy: tenancy, Name: "gha", Issuer: gh.URL,
		Audience: "https://" + reg.Host, Group: "ci", MaxLifetimeSeconds: 900,
		Claims: map[string]string{"repository": "acme/app", "ref": "refs/heads/main"}}))
	const repo = "dev/acme/app"
	ref := reg.Ref(repo, ":1")
	job := newShell(t)

	t.Run("a token of another repository is refused at login", func(t *testing.T) {
		s := job.In(t)
		fork := gh.Token(oidctest.GitHub("fork/app", "refs/heads/main", "https://"+reg.Host))
		out := s.FeedFail(fork, "docker", "login", reg.Host, "-u", tenancy+"/oidc", "--password-stdin")
		if !strings.Contains(out, "claims meet no federation rule of tenancy dev") {
			t.Errorf("docker login printed:\n%s\nwant the refusal", out)
		}
	})
	t.Run("the job's token logs docker in, and the image pushes and pulls", func(t *testing.T) {
		s := job.In(t)
		token := gh.Token(oidctest.GitHub("acme/app", "refs/heads/main", "https://"+reg.Host))
		if out := dockerLogin(s, reg.Host, tenancy+"/oidc", token); !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("docker login printed:\n%s", out)
		}
		digest := pushBase(t, s, ref)
		reg.AssertImage(t, repo, "1", digest)
		removeLocal(s, ref)
		if out := s.Run("docker", "pull", ref); !strings.Contains(out, digest) {
			t.Errorf("docker pull printed:\n%s\nwant %s", out, digest)
		}
	})
	es, err := ids.ListAudit(ctx, tenancy, "", 50)
	must(t, err)
	found := false
	for _, e := range es {
		found = found || (e.Principal == "dev/oidc" && e.Action == "login" && strings.Contains(e.Detail, "subject=repo:acme/app:ref:refs/heads/main"))
	}
	if !found {
		t.Errorf("no audit entry of the keyless docker login: %+v", es)
	}
}

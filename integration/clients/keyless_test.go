package clients

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/credprovider"
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

// TestContainerdPullsWithTheCredentialProvidersAnswer is the Kubernetes
// path of docs/keyless.md with a real containerd: berth-credential-provider
// exchanges a pod's service account token, and containerd pulls with the
// username and password it answers (the kubelet hands them over as it
// would an imagePullSecret's).
func TestContainerdPullsWithTheCredentialProvidersAnswer(t *testing.T) {
	need(t, "ctr", "crane", "busybox")
	t.Parallel()
	reg := startAuthRegistry(t, true)
	cluster := oidctest.NewServer(t).Issuer("/cluster", "ES256")
	ctx, ids, now := context.Background(), reg.local.Stores.IDs, time.Now().UTC()
	must(t, ids.PutGroup(ctx, store.Group{Tenancy: tenancy, Name: "pullers", Created: now}))
	reg.Allow(t, "pull", "allow group pullers to read repos in tenancy where target.repo.name = /team/*/")
	must(t, ids.PutFederationRule(ctx, store.FederationRule{Tenancy: tenancy, Name: "cluster", Issuer: cluster.URL,
		Audience: "berth-pull", Group: "pullers", MaxLifetimeSeconds: 300,
		Claims: map[string]string{"sub": "system:serviceaccount:shop:*"}}))
	s := newAuthShell(t)
	s.Run("crane", "auth", "login", reg.Host, "-u", "dev/admin", "-p", reg.Admin)
	const repo = "dev/team/app"
	ref := reg.Ref(repo, ":1")
	digest, _ := craneImage(t, s, ref)

	req, _ := json.Marshal(credprovider.Request{APIVersion: credprovider.APIVersion, Kind: "CredentialProviderRequest",
		Image: ref, ServiceAccountToken: cluster.Token(oidctest.Kubernetes("shop", "web", "berth-pull"))})
	var out bytes.Buffer
	if err := credprovider.Run(ctx, bytes.NewReader(req), &out, credprovider.Options{}); err != nil {
		t.Fatalf("the provider: %v", err)
	}
	var res credprovider.Response
	must(t, json.Unmarshal(out.Bytes(), &res))
	cred := res.Auth[reg.Host+"/"+repo]
	if cred.Username != "dev/oidc" || cred.Password == "" {
		t.Fatalf("the provider answered %s", out.Bytes())
	}
	s.Cleanup(func(s *shell) { s.Try("ctr", "--namespace", ctrNamespace, "images", "rm", "--sync", ref) })
	mark := reg.Mark()
	pulled := s.Run("ctr", "--namespace", ctrNamespace, "images", "pull", "--plain-http", "--user", cred.Username+":"+cred.Password, ref)
	if !strings.Contains(pulled, digest) {
		t.Errorf("ctr images pull output does not name %s:\n%s", digest, pulled)
	}
	oauth := false
	for _, q := range reg.Since(mark) {
		oauth = oauth || (q.Method == "POST" && q.Path == "/token" && q.Status == 200)
	}
	if !oauth {
		t.Errorf("containerd got no registry token for the provider's credentials at POST /token")
	}
}

package clients

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

// dockerLogin logs the shell's docker in to host as login with token,
// as the README says: the token on standard input.
func dockerLogin(s *shell, host, login, token string) string {
	s.t.Helper()
	return s.Feed(token, "docker", "login", host, "-u", login, "--password-stdin")
}

// TestDockerWithAuth drives docker against a registry with
// authentication on: login, the token flow on push and pull, logout,
// public repositories, and what policy lets a read-only and a use-only
// user do. Each user has its own docker config; the daemon is shared.
func TestDockerWithAuth(t *testing.T) {
	need(t, "docker", "busybox")
	t.Parallel()
	reg := startAuthRegistry(t, true)
	readerToken := reg.AddUser(t, "reader", "readers")
	builderToken := reg.AddUser(t, "builder", "builders")
	reg.Allow(t, "client-tests",
		"allow group readers to read repos in tenancy",
		"allow group builders to use repos in tenancy")
	const private, public = "dev/team/app", "dev/public/tool"
	reg.MakePublic(t, public)
	admin, anon, reader, builder := newShell(t), newShell(t), newShell(t), newShell(t)
	ref, pub := reg.Ref(private, ":1"), reg.Ref(public, ":1")
	var digest, stamp string

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"docker login with a wrong token fails with unauthorized", func(t *testing.T) {
			s := admin.In(t)
			for _, c := range []struct{ login, token string }{
				{"dev/admin", wrongToken(reg.Admin)},
				{"dev/admin", "not-an-auth-token"},
				{"dev/nobody", reg.Admin},
			} {
				out := s.FeedFail(c.token, "docker", "login", reg.Host, "-u", c.login, "--password-stdin")
				if !strings.Contains(out, "unauthorized: invalid username or auth token") {
					t.Errorf("docker login as %s with a wrong token printed:\n%s\nwant unauthorized: invalid username or auth token", c.login, out)
				}
			}
			if cfg := dockerConfig(s); strings.Contains(cfg, reg.Host) {
				t.Errorf("a failed login saved credentials:\n%s", cfg)
			}
		}},
		{"docker login with the right token succeeds", func(t *testing.T) {
			s := admin.In(t)
			if out := dockerLogin(s, reg.Host, "dev/admin", reg.Admin); !strings.Contains(out, "Login Succeeded") {
				t.Errorf("docker login printed:\n%s\nwant Login Succeeded", out)
			}
			saved := base64.StdEncoding.EncodeToString([]byte("dev/admin:" + reg.Admin))
			if cfg := dockerConfig(s); !strings.Contains(cfg, saved) {
				t.Errorf("docker config lacks the login for %s:\n%s", reg.Host, cfg)
			}
		}},
		{"logged in, an image pushes, pulls back and runs", func(t *testing.T) {
			s := admin.In(t)
			digest = pushBase(t, s, ref)
			reg.AssertImage(t, private, "1", digest)
			tokens := 0
			for _, q := range reg.Requests("GET", "/token") {
				if q.Status == 200 {
					tokens++
				}
			}
			if tokens == 0 {
				t.Errorf("docker pushed without fetching a registry token from /token")
			}
			removeLocal(s, ref)
			out := s.Run("docker", "pull", ref)
			if !strings.Contains(out, "Pull complete") || !strings.Contains(out, "Digest: "+digest) {
				t.Errorf("docker pull did not fetch %s:\n%s", digest, out)
			}
			stamp = s.Run("docker", "run", "--rm", "--network", "none", ref, "/bin/cat", "/etc/berth-run")
			if !strings.HasPrefix(stamp, t.Name()+"-") {
				t.Errorf("docker run printed %q, want the file this test wrote", stamp)
			}
		}},
		{"a public repository's image pulls with no login, and nothing else is allowed", func(t *testing.T) {
			s := admin.In(t)
			s.Run("docker", "tag", ref, pub)
			if d := pushDigest(t, s.Run("docker", "push", pub)); d != digest {
				t.Fatalf("push to the public repository: digest %s, want %s", d, digest)
			}
			removeLocal(s, ref, pub)

			a := anon.In(t)
			out := a.Run("docker", "pull", pub)
			if !strings.Contains(out, "Pull complete") || !strings.Contains(out, "Digest: "+digest) {
				t.Errorf("anonymous docker pull of the public image did not fetch %s:\n%s", digest, out)
			}
			if got := a.Run("docker", "run", "--rm", "--network", "none", pub, "/bin/cat", "/etc/berth-run"); got != stamp {
				t.Errorf("the public image printed %q, want %q", got, stamp)
			}
			if out := a.Fail("docker", "pull", ref); !strings.Contains(out, "unauthorized: authentication required to pull "+private) {
				t.Errorf("anonymous pull of the private image printed:\n%s\nwant unauthorized", out)
			}
			a.Run("docker", "tag", pub, reg.Ref(public, ":anonymous"))
			if out := a.Fail("docker", "push", reg.Ref(public, ":anonymous")); !strings.Contains(out, "unauthorized: authentication required to push "+public) {
				t.Errorf("anonymous push to the public repository printed:\n%s\nwant unauthorized", out)
			}
			if got := reg.Tags(t, public); !slices.Equal(got, []string{"1"}) {
				t.Errorf("public repository tags %v, want [1]", got)
			}
		}},
		{"a read-only user pulls but its push is refused", func(t *testing.T) {
			s := reader.In(t)
			dockerLogin(s, reg.Host, "dev/reader", readerToken)
			removeLocal(s, pub, reg.Ref(public, ":anonymous"))
			if out := s.Run("docker", "pull", ref); !strings.Contains(out, "Pull complete") || !strings.Contains(out, "Digest: "+digest) {
				t.Errorf("docker pull as dev/reader did not fetch %s:\n%s", digest, out)
			}
			s.Run("docker", "tag", ref, reg.Ref(private, ":reader"))
			if out := s.Fail("docker", "push", reg.Ref(private, ":reader")); !strings.Contains(out, "unauthorized: dev/reader may not push repository "+private) {
				t.Errorf("docker push as dev/reader printed:\n%s\nwant unauthorized ... push %s", out, private)
			}
			if got := reg.Tags(t, private); !slices.Equal(got, []string{"1"}) {
				t.Errorf("tags after the refused push %v, want [1]", got)
			}
		}},
		{"a use-only user pushes to an existing repository but may not create one", func(t *testing.T) {
			s := builder.In(t)
			dockerLogin(s, reg.Host, "dev/builder", builderToken)
			s.Run("docker", "tag", ref, reg.Ref(private, ":builder"))
			if d := pushDigest(t, s.Run("docker", "push", reg.Ref(private, ":builder"))); d != digest {
				t.Errorf("push as dev/builder: digest %s, want %s", d, digest)
			}
			if got := reg.Tags(t, private); !slices.Equal(got, []string{"1", "builder"}) {
				t.Errorf("tags after dev/builder's push %v, want [1 builder]", got)
			}
			fresh := reg.Ref("dev/fresh/app", ":1")
			s.Run("docker", "tag", ref, fresh)
			out := s.Fail("docker", "push", fresh)
			if want := `denied: repository "dev/fresh/app" does not exist and dev/builder may not create it (creating a repository needs manage)`; !strings.Contains(out, want) {
				t.Errorf("docker push to a new repository as dev/builder printed:\n%s\nwant %s", out, want)
			}
			if code, body := reg.Status(t, "GET", "/v2/dev/fresh/app/tags/list", reg.Authorization); code != 404 || !strings.Contains(body, "NAME_UNKNOWN") {
				t.Errorf("after the refused push, dev/fresh/app answers %d %s, want 404 NAME_UNKNOWN", code, body)
			}
		}},
		{"after docker logout, pulling the private image fails with unauthorized", func(t *testing.T) {
			s := admin.In(t)
			if out := s.Run("docker", "logout", reg.Host); !strings.Contains(out, "Removing login credentials") {
				t.Errorf("docker logout printed:\n%s", out)
			}
			if cfg := dockerConfig(s); strings.Contains(cfg, reg.Host) {
				t.Errorf("docker config still names %s after logout:\n%s", reg.Host, cfg)
			}
			if out := s.Fail("docker", "pull", ref); !strings.Contains(out, "unauthorized: authentication required to pull "+private) {
				t.Errorf("docker pull after logout printed:\n%s\nwant unauthorized", out)
			}
		}},
	}
	for _, step := range steps {
		if !t.Run(step.name, step.run) {
			return
		}
	}
}

// TestDockerWithAuthOffNeedsNoLogin is `BERTH_AUTH=off make run`: every
// request is anonymous, so docker pushes and pulls any namespace with no
// login and is never sent to /token.
func TestDockerWithAuthOffNeedsNoLogin(t *testing.T) {
	need(t, "docker", "busybox")
	t.Parallel()
	s := newShell(t)
	reg := startRegistry(t, true)
	ref := reg.Ref("anyone/app", ":1")
	digest := pushBase(t, s, ref)
	reg.AssertImage(t, "anyone/app", "1", digest)
	removeLocal(s, ref)
	if out := s.Run("docker", "pull", ref); !strings.Contains(out, "Pull complete") || !strings.Contains(out, "Digest: "+digest) {
		t.Errorf("docker pull did not fetch %s:\n%s", digest, out)
	}
	if q := reg.Requests("", "/token"); len(q) != 0 {
		t.Errorf("docker was sent to the token endpoint of an auth-off registry: %v", q)
	}
}

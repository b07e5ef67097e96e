package clients

import (
	"runtime"
	"strings"
	"testing"
)

// craneImage pushes a runnable busybox image to ref with crane (logged
// in already) whose command prints a file unique to the run, and returns
// its digest and what it prints.
func craneImage(t *testing.T, s *shell, ref string) (digest, stamp string) {
	t.Helper()
	stamp = uniq(t.Name()) + "\n"
	fs := rootfs(t, s, "rootfs.tar", file{Name: "etc/berth-run", Body: stamp})
	s.Run("crane", "append", "--oci-empty-base", "-f", fs, "-t", ref)
	s.Run("crane", "mutate", "--set-platform", "linux/"+runtime.GOARCH, "--cmd", "/bin/cat,/etc/berth-run", "-t", ref, ref)
	return strings.TrimSpace(s.Run("crane", "digest", ref)), stamp
}

// TestContainerdPullsWithCredentials does what a Kubernetes node does
// with imagePullSecrets: `ctr images pull --user <ns>/<user>:<token>` of
// a private repository, which works with a read-only robot's token and
// fails without credentials, with a wrong token, or as a user without
// read.
func TestContainerdPullsWithCredentials(t *testing.T) {
	need(t, "ctr", "crane", "busybox")
	t.Parallel()
	reg := startAuthRegistry(t, true)
	k8sToken := reg.AddUser(t, "k8s", "k8s-pull")
	outsiderToken := reg.AddUser(t, "outsider")
	reg.Allow(t, "pull-secrets", "allow group k8s-pull to read repos in tenancy")
	s := newAuthShell(t)
	s.Run("crane", "auth", "login", reg.Host, "-u", "dev/admin", "-p", reg.Admin)
	const repo = "dev/team/app"
	ref := reg.Ref(repo, ":1")
	digest, stamp := craneImage(t, s, ref)
	reg.AssertImage(t, repo, "1", digest)

	ctr := func(args ...string) []string {
		return append([]string{"--namespace", ctrNamespace, "images", "pull", "--plain-http"}, args...)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"without credentials", ctr(ref), "failed with status code [manifests 1]: 401 Unauthorized"},
		{"with a wrong token", ctr("--user", "dev/k8s:"+wrongToken(k8sToken), ref), "failed to fetch oauth token: unexpected status: 401 Unauthorized"},
		{"as a user without read", ctr("--user", "dev/outsider:"+outsiderToken, ref), "401 Unauthorized"},
	} {
		t.Run("ctr images pull "+c.name+" fails", func(t *testing.T) {
			if out := s.In(t).Fail("ctr", c.args...); !strings.Contains(out, c.want) {
				t.Errorf("ctr images pull %s printed:\n%s\nwant %s", c.name, out, c.want)
			}
		})
	}

	t.Run("ctr images pull with the robot's token pulls, unpacks and runs", func(t *testing.T) {
		s := s.In(t)
		s.Cleanup(func(s *shell) { s.Try("ctr", "--namespace", ctrNamespace, "images", "rm", "--sync", ref) })
		mark := reg.Mark()
		if out := s.Run("ctr", ctr("--user", "dev/k8s:"+k8sToken, ref)...); !strings.Contains(out, digest) {
			t.Errorf("ctr images pull output does not name %s:\n%s", digest, out)
		}
		pull := reg.Since(mark)
		if len(pull) == 0 || pull[0].Status != 401 {
			t.Errorf("containerd's first request %v, want it anonymous and answered 401 with the challenge", pull[:min(1, len(pull))])
		}
		oauth := false
		for _, q := range pull {
			if q.Method == "POST" && q.Path == "/token" && q.Status == 200 {
				oauth = true
			}
		}
		if !oauth {
			t.Errorf("containerd got no registry token through the OAuth2 POST to /token")
		}
		var listed string
		for _, line := range strings.Split(s.Run("ctr", "--namespace", ctrNamespace, "images", "ls"), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == ref {
				listed = f[2]
			}
		}
		if listed != digest {
			t.Fatalf("ctr images ls lists %s as %q, want %s", ref, listed, digest)
		}
		if out := s.Run("ctr", "--namespace", ctrNamespace, "images", "check", "name=="+ref); !strings.Contains(out, "complete") {
			t.Errorf("ctr images check does not find %s complete:\n%s", ref, out)
		}
		got := s.Run("ctr", "--namespace", ctrNamespace, "run", "--rm", ref, uniq("berth"))
		if strings.ReplaceAll(got, "\r", "") != stamp {
			t.Errorf("ctr run printed %q, want %q", got, stamp)
		}
	})
}

package clients

import (
	"strings"
	"testing"
)

// ctrNamespace keeps the tests' images apart from anything else the
// containerd serves (dockerd's own images live in "moby").
const ctrNamespace = "berth-test"

// TestContainerdPullsWhatDockerPushed does what a Kubernetes node does
// with an image: containerd pulls it over plain HTTP with the credentials
// of an imagePullSecret, unpacks it and runs it.
func TestContainerdPullsWhatDockerPushed(t *testing.T) {
	need(t, "docker", "ctr", "busybox")
	t.Parallel()
	s := newShell(t)
	reg := startAuthRegistry(t, true)
	dockerLogin(s, reg.Host, "dev/admin", reg.Admin)
	base := reg.Ref("dev/base", ":1")
	pushBase(t, s, base)
	ref := reg.Ref("dev/ns/team/app", ":v1")
	digest := pushApp(t, s, base, ref)

	ctr := func(args ...string) string {
		t.Helper()
		return s.Run("ctr", append([]string{"--namespace", ctrNamespace}, args...)...)
	}
	s.Cleanup(func(s *shell) { s.Try("ctr", "--namespace", ctrNamespace, "images", "rm", "--sync", ref) })
	out := ctr("images", "pull", "--plain-http", "--user", "dev/admin:"+reg.Admin, ref)
	if !strings.Contains(out, digest) {
		t.Errorf("ctr images pull output does not name %s:\n%s", digest, out)
	}

	var listed string
	for _, line := range strings.Split(ctr("images", "ls"), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == ref {
			listed = f[2]
		}
	}
	if listed != digest {
		t.Fatalf("ctr images ls lists %s as %q, want %s", ref, listed, digest)
	}
	if out := ctr("images", "check", "name=="+ref); !strings.Contains(out, "complete") {
		t.Errorf("ctr images check does not find %s complete:\n%s", ref, out)
	}
	id := uniq("berth")
	if got := ctr("run", "--rm", ref, id); strings.ReplaceAll(got, "\r", "") != appOutput {
		t.Errorf("ctr run printed %q, want %q", got, appOutput)
	}
}

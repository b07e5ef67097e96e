package clients

import (
	"runtime"
	"strings"
	"testing"
)

// TestMultiPlatformIndexPullsPerPlatform builds two platform images and
// an index over them with crane, then pulls each platform with crane and
// docker and checks it is that platform's image.
func TestMultiPlatformIndexPullsPerPlatform(t *testing.T) {
	need(t, "crane", "docker", "busybox")
	t.Parallel()
	s := newShell(t)
	reg := startAuthRegistry(t, true)
	dockerLogin(s, reg.Host, "dev/admin", reg.Admin) // crane reads docker's login
	base := rootfs(t, s, "rootfs.tar")
	platforms := []string{"linux/amd64", "linux/arm64"}
	digests := map[string]string{}
	var parts []string
	for _, p := range platforms {
		arch := p[len("linux/"):]
		layer := s.Path(arch + ".tar")
		writeTar(t, layer, []file{{Name: "platform", Body: p + "\n"}})
		ref := reg.Ref("dev/multi/parts", ":"+arch)
		s.Run("crane", "append", "--oci-empty-base", "-f", base, "-f", layer, "-t", ref)
		s.Run("crane", "mutate", "--set-platform", p, "--cmd", "/bin/cat,/platform", "-t", ref, ref)
		digests[p] = strings.TrimSpace(s.Run("crane", "digest", ref))
		parts = append(parts, "-m", ref)
	}
	index := reg.Ref("dev/multi/app", ":1")
	s.Run("crane", append(append([]string{"index", "append"}, parts...), "-t", index)...)

	m, indexDigest := reg.Manifest(t, "dev/multi/app", "1")
	if m.MediaType != "application/vnd.oci.image.index.v1+json" || len(m.Manifests) != 2 {
		t.Fatalf("index is %s with %d manifests, want an OCI index with 2", m.MediaType, len(m.Manifests))
	}
	for _, d := range m.Manifests {
		if d.Platform == nil || digests[d.Platform.OS+"/"+d.Platform.Architecture] != d.Digest {
			t.Errorf("index entry %s for %+v does not match the pushed platform images %v", d.Digest, d.Platform, digests)
		}
	}

	for _, p := range platforms {
		if got := strings.TrimSpace(s.Run("crane", "digest", "--platform", p, index)); got != digests[p] {
			t.Errorf("crane digest --platform %s: %s, want %s", p, got, digests[p])
		}
		got, ok := readTar(t, s.Run("crane", "export", "--platform", p, index, "-"), "platform")
		if !ok || got != p+"\n" {
			t.Errorf("crane export --platform %s: /platform = %q (found %v)", p, got, ok)
		}

		out := s.Run("docker", "pull", "--platform", p, index)
		removeOnCleanup(s, index)
		if !strings.Contains(out, "Digest: "+indexDigest) {
			t.Errorf("docker pull --platform %s output lacks the index digest %s:\n%s", p, indexDigest, out)
		}
		if got := strings.TrimSpace(s.Run("docker", "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", index)); got != p {
			t.Errorf("docker pull --platform %s gave a %s image", p, got)
		}
		if p == "linux/"+runtime.GOARCH {
			if got := s.Run("docker", "run", "--rm", "--network", "none", index); got != p+"\n" {
				t.Errorf("docker run of the %s image printed %q", p, got)
			}
			continue
		}
		cid := strings.TrimSpace(s.Run("docker", "create", "--platform", p, index))
		got, ok = readTar(t, s.Run("docker", "cp", cid+":/platform", "-"), "platform")
		s.Run("docker", "rm", cid)
		if !ok || got != p+"\n" {
			t.Errorf("docker pull --platform %s: /platform = %q (found %v)", p, got, ok)
		}
	}
}

package clients

import (
	"os"
	"strings"
	"testing"
)

// regctl runs regctl with plain HTTP to the registry at host.
func regctl(s *shell, host string, args ...string) string {
	s.t.Helper()
	return s.Run("regctl", append([]string{"--host", "reg=" + host + ",tls=disabled"}, args...)...)
}

// referrers lists the digests and artifact types of ref's referrers as
// regctl sees them, one "digest type" line each.
func referrers(s *shell, host, ref string) []string {
	s.t.Helper()
	out := regctl(s, host, "artifact", "list", ref, "--format", `{{range .Descriptors}}{{.Digest}} {{.ArtifactType}}{{"\n"}}{{end}}`)
	return strings.Split(strings.TrimSpace(out), "\n")
}

func TestRegctl(t *testing.T) {
	need(t, "regctl", "busybox")
	t.Parallel()
	s := newShell(t)
	reg := startAuthRegistry(t, true)
	s.Run("regctl", "registry", "set", "--tls", "disabled", reg.Host)
	s.Feed(reg.Admin, "regctl", "registry", "login", reg.Host, "-u", "dev/admin", "--pass-stdin")
	archive := s.Path("image.tar")
	dockerArchive(t, archive, rootfs(t, s, "rootfs.tar"), "berth.test/regctl:src")
	src, dst := reg.Ref("dev/regctl/src", ":1"), reg.Ref("dev/regctl/copy", ":1")

	regctl(s, reg.Host, "image", "import", src, archive)
	digest := strings.TrimSpace(regctl(s, reg.Host, "image", "digest", src))
	m := reg.AssertImage(t, "dev/regctl/src", "1", digest)

	const sbom = "an SBOM, as text\n"
	const sbomType = "application/vnd.berth.test.sbom"
	must(t, os.WriteFile(s.Path("sbom.txt"), []byte(sbom), 0o644))
	regctl(s, reg.Host, "artifact", "put", "--subject", src, "--artifact-type", sbomType,
		"--file-media-type", "text/plain", "-f", s.Path("sbom.txt"))
	listed := referrers(s, reg.Host, src)
	if len(listed) != 1 || !strings.HasSuffix(listed[0], " "+sbomType) {
		t.Fatalf("regctl artifact list: %q, want one %s", listed, sbomType)
	}
	sbomDigest := strings.Fields(listed[0])[0]
	if sm, _ := reg.Manifest(t, "dev/regctl/src", sbomDigest); sm.Subject == nil || sm.Subject.Digest != digest {
		t.Errorf("SBOM manifest subject %+v, want %s", sm.Subject, digest)
	}

	mark := reg.Mark()
	regctl(s, reg.Host, "image", "copy", "--referrers", src, dst)
	if got := strings.TrimSpace(regctl(s, reg.Host, "image", "digest", dst)); got != digest {
		t.Fatalf("copied image digest %s, want %s", got, digest)
	}
	reg.AssertImage(t, "dev/regctl/copy", "1", digest)
	if got := referrers(s, reg.Host, dst); len(got) != 1 || got[0] != listed[0] {
		t.Errorf("referrers of the copy: %q, want %q", got, listed)
	}
	mounts := 0
	for _, q := range reg.Since(mark) {
		if q.Method == "POST" && strings.Contains(q.Query, "mount=") && q.Status == 201 {
			mounts++
		}
	}
	if want := len(m.Layers) + 1; mounts < want {
		t.Errorf("regctl image copy mounted %d blobs, want at least %d (layers and config)", mounts, want)
	}
}

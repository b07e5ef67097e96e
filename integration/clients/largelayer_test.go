package clients

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand"
	"strings"
	"testing"
)

// bigLayer is the size of the random (incompressible) file in the
// large-layer image: over API Gateway's 10 MB body limit, so one request
// cannot carry the layer.
const bigLayer = 12 << 20

// sizeGuidance is the part of the registry's UNSUPPORTED message that
// tells a user what to do.
var sizeGuidance = []string{"unsupported", "OCI-Chunk-Max-Length", "berth push", "berth proxy", "README: Large layers"}

// bigRootfs writes a rootfs with a bigLayer-byte random file at /big.bin
// and returns its path and the file's sha256.
func bigRootfs(t *testing.T, s *shell) (string, string) {
	t.Helper()
	b := make([]byte, bigLayer)
	rand.New(rand.NewSource(3)).Read(b)
	sum := sha256.Sum256(b)
	return rootfs(t, s, "big.tar", file{Name: "big.bin", Body: string(b)}), hex.EncodeToString(sum[:])
}

// TestDockerPushOfLayerOverRequestLimitPrintsWhatToDo pushes, with AWS's
// limits on, an image whose layer no single request can carry: docker
// must print the registry's guidance. The code is UNSUPPORTED, one of
// those docker gives up on at once (it retries SIZE_INVALID five times).
func TestDockerPushOfLayerOverRequestLimitPrintsWhatToDo(t *testing.T) {
	need(t, "docker", "busybox")
	t.Parallel()
	s := newShell(t)
	reg := startAuthRegistry(t, true)
	dockerLogin(s, reg.Host, "dev/admin", reg.Admin)
	tar, _ := bigRootfs(t, s)
	ref := reg.Ref("dev/big", ":1")
	s.Run("docker", "import", "--change", `CMD ["/bin/sh"]`, tar, ref)
	removeOnCleanup(s, ref)

	out := s.Fail("docker", "push", ref)
	for _, want := range sizeGuidance {
		if !strings.Contains(out, want) {
			t.Errorf("docker push output lacks %q:\n%s", want, out)
		}
	}
	rejected := reg.Requests("PATCH", "/v2/dev/big/blobs/uploads/")
	if len(rejected) == 0 || rejected[0].Status != 413 || rejected[0].Length != -1 {
		t.Errorf("want docker's chunked-encoding PATCH answered 413, got %v", rejected)
	}
}

// TestDockerPushOfLayerOverRequestLimitSucceedsWithLimitsOff pushes the
// same image with limits off (BERTH_LIMITS=off): it pushes, pulls back and
// holds the same bytes.
func TestDockerPushOfLayerOverRequestLimitSucceedsWithLimitsOff(t *testing.T) {
	need(t, "docker", "busybox")
	t.Parallel()
	s := newShell(t)
	reg := startAuthRegistry(t, false)
	dockerLogin(s, reg.Host, "dev/admin", reg.Admin)
	tar, sum := bigRootfs(t, s)
	ref := reg.Ref("dev/big", ":1")
	s.Run("docker", "import", "--change", `CMD ["/bin/sh"]`, tar, ref)
	removeOnCleanup(s, ref)

	digest := pushDigest(t, s.Run("docker", "push", ref))
	reg.AssertImage(t, "dev/big", "1", digest)
	removeLocal(s, ref)
	s.Run("docker", "pull", ref)
	removeOnCleanup(s, ref)
	got := s.Run("docker", "run", "--rm", "--network", "none", ref, "sha256sum", "/big.bin")
	if f := strings.Fields(got); len(f) == 0 || f[0] != sum {
		t.Errorf("sha256sum /big.bin in the pulled image: %q, want %s", got, sum)
	}
}

// TestRegctlFallsBackToChunksForLayerOverRequestLimit copies an image
// with a layer over one request's limit into a registry with AWS's limits
// on: regctl's monolithic PUT is refused with 413, and it then sends the
// layer in PATCH chunks that fit, which the registry accepts.
func TestRegctlFallsBackToChunksForLayerOverRequestLimit(t *testing.T) {
	need(t, "regctl", "busybox")
	t.Parallel()
	s := newShell(t)
	limited, unlimited := startAuthRegistry(t, true), startAuthRegistry(t, false)
	for _, r := range []*authRegistry{limited, unlimited} {
		s.Run("regctl", "registry", "set", "--tls", "disabled", r.Host)
		s.Feed(r.Admin, "regctl", "registry", "login", r.Host, "-u", "dev/admin", "--pass-stdin")
	}
	tar, _ := bigRootfs(t, s)
	archive := s.Path("big-image.tar")
	dockerArchive(t, archive, tar, "berth.test/big:1")
	src, dst := unlimited.Ref("dev/big", ":1"), limited.Ref("dev/big", ":1")
	hosts := []string{"--host", "reg=" + limited.Host + ",tls=disabled", "--host", "reg=" + unlimited.Host + ",tls=disabled"}
	s.Run("regctl", append(hosts, "image", "import", src, archive)...)
	digest := strings.TrimSpace(s.Run("regctl", append(hosts, "image", "digest", src)...))

	s.Run("regctl", append(hosts, "image", "copy", src, dst)...)
	m := limited.AssertImage(t, "dev/big", "1", digest)
	var big descriptor
	for _, l := range m.Layers {
		if l.Size > big.Size {
			big = l
		}
	}
	if big.Size <= 10<<20 {
		t.Fatalf("largest layer is %d bytes; the test needs one over the 10 MB request limit", big.Size)
	}
	var refused, chunks int
	var sent int64
	for _, q := range limited.Requests("", "/v2/dev/big/blobs/uploads/") {
		switch {
		case q.Status == 413:
			refused++
		case q.Method == "PATCH" && q.Status == 202:
			chunks++
			sent += q.Length
			if q.Length < 0 || q.Length > 4<<20 {
				t.Errorf("PATCH of %d bytes, want a Content-Length within OCI-Chunk-Max-Length", q.Length)
			}
		}
	}
	if refused != 1 || sent < big.Size {
		t.Errorf("want one refused monolithic upload, then chunks carrying the %d-byte layer; got %d refused, %d chunks of %d bytes in all",
			big.Size, refused, chunks, sent)
	}
	t.Logf("regctl sent the %d-byte layer in %d PATCH chunks after a 413", big.Size, chunks)
}

package clients

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const (
	bundleType    = "application/vnd.berth.test.bundle"
	signatureType = "application/vnd.berth.test.signature"
)

// orasDigest parses the digest from oras's --format json output.
func orasDigest(t *testing.T, out string) string {
	t.Helper()
	var v struct{ Digest string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Digest == "" {
		t.Fatalf("no digest in oras output (%v):\n%s", err, out)
	}
	return v.Digest
}

func TestOras(t *testing.T) {
	need(t, "oras")
	t.Parallel()
	s := newShell(t)
	reg := startAuthRegistry(t, true)
	s.Feed(reg.Admin, "oras", "login", "--plain-http", reg.Host, "-u", "dev/admin", "--password-stdin")
	ref := reg.Ref("dev/oras/art", ":v1")
	const data, sig = "an artifact, not an image\n", "signed by the tests\n"
	must(t, os.WriteFile(s.Path("data.txt"), []byte(data), 0o644))
	must(t, os.WriteFile(s.Path("sig.txt"), []byte(sig), 0o644))

	digest := orasDigest(t, s.Run("oras", "push", "--plain-http", "--no-tty", "--format", "json",
		"--artifact-type", bundleType, ref, "data.txt:text/plain"))
	m := reg.AssertImage(t, "dev/oras/art", "v1", digest)
	if m.ArtifactType != bundleType || len(m.Layers) != 1 || m.Layers[0].MediaType != "text/plain" {
		t.Fatalf("pushed manifest: artifactType %q, %d layers; want %q with one text/plain layer", m.ArtifactType, len(m.Layers), bundleType)
	}
	if got := string(reg.Blob(t, "dev/oras/art", m.Layers[0].Digest)); got != data {
		t.Errorf("artifact layer holds %q, want %q", got, data)
	}

	s.Run("oras", "pull", "--plain-http", "--no-tty", "-o", s.Path("out"), ref)
	if got, err := os.ReadFile(s.Path("out", "data.txt")); err != nil || string(got) != data {
		t.Errorf("oras pull gave data.txt = %q (%v), want %q", got, err, data)
	}

	mark := reg.Mark()
	sigDigest := orasDigest(t, s.Run("oras", "attach", "--plain-http", "--no-tty", "--format", "json",
		"--artifact-type", signatureType, ref, "sig.txt:text/plain"))
	sm, _ := reg.Manifest(t, "dev/oras/art", sigDigest)
	if sm.Subject == nil || sm.Subject.Digest != digest || sm.ArtifactType != signatureType {
		t.Fatalf("attached manifest: subject %+v, artifactType %q; want subject %s, %q", sm.Subject, sm.ArtifactType, digest, signatureType)
	}
	for _, q := range reg.Since(mark) {
		if q.Method == "PUT" && strings.Contains(q.Path, "/manifests/sha256-") {
			t.Errorf("oras fell back to the referrers tag schema: %s", q)
		}
	}

	var found struct {
		Referrers []struct{ Digest, ArtifactType string }
	}
	must(t, json.Unmarshal([]byte(s.Run("oras", "discover", "--plain-http", "--format", "json", ref)), &found))
	if len(found.Referrers) != 1 || found.Referrers[0].Digest != sigDigest || found.Referrers[0].ArtifactType != signatureType {
		t.Errorf("oras discover found %+v, want one %s referrer %s", found.Referrers, signatureType, sigDigest)
	}
	if len(reg.Requests("GET", "/v2/dev/oras/art/referrers/"+digest)) == 0 {
		t.Errorf("oras discover did not use the referrers API")
	}
	found.Referrers = nil
	must(t, json.Unmarshal([]byte(s.Run("oras", "discover", "--plain-http", "--format", "json",
		"--artifact-type", "application/vnd.berth.test.other", ref)), &found))
	if len(found.Referrers) != 0 {
		t.Errorf("oras discover filtered by another type found %+v, want none", found.Referrers)
	}
}

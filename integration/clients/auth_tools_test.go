package clients

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// startCIRegistry starts an auth-on registry with a robot user dev/ci
// whose group may manage (so create) repositories under tools, and
// returns the registry and the robot's auth token.
func startCIRegistry(t *testing.T) (*authRegistry, string) {
	t.Helper()
	reg := startAuthRegistry(t, true)
	token := reg.AddUser(t, "ci", "ci")
	reg.Allow(t, "ci", "allow group ci to manage repos in tenancy where target.repo.name = /tools*/")
	return reg, token
}

// layerTar writes a one-file layer tarball and returns its path.
func layerTar(t *testing.T, s *shell, name, body string) string {
	t.Helper()
	path := s.Path(name)
	writeTar(t, path, []file{{Name: "etc/berth.txt", Body: body}})
	return path
}

// assertLayout checks that the OCI layout directory holds one manifest,
// digest, with every blob the registry's manifest names.
func assertLayout(t *testing.T, layout, digest string, m manifest) {
	t.Helper()
	var index manifest
	b, err := os.ReadFile(layout + "/index.json")
	must(t, err)
	must(t, json.Unmarshal(b, &index))
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != digest {
		t.Fatalf("OCI layout index %s, want one manifest %s", b, digest)
	}
	want := []string{digest, m.Config.Digest}
	for _, l := range m.Layers {
		want = append(want, l.Digest)
	}
	for _, d := range want {
		blob, err := os.ReadFile(layout + "/blobs/sha256/" + strings.TrimPrefix(d, "sha256:"))
		if err != nil {
			t.Errorf("OCI layout lacks blob %s: %v", d, err)
		} else if got := digestOf(blob); got != d {
			t.Errorf("OCI layout blob %s hashes to %s", d, got)
		}
	}
}

func TestCraneWithCredentials(t *testing.T) {
	need(t, "crane")
	t.Parallel()
	reg, token := startCIRegistry(t)
	s := newAuthShell(t)
	const body = "pushed by dev/ci with crane\n"
	layer := layerTar(t, s, "layer.tar", body)
	ref := reg.Ref("dev/tools/crane", ":1")

	if out := s.Fail("crane", "append", "-f", layer, "-t", ref); !strings.Contains(out, "401 Unauthorized") {
		t.Errorf("crane append without login printed:\n%s\nwant 401 Unauthorized", out)
	}
	s.Run("crane", "auth", "login", reg.Host, "-u", "dev/ci", "-p", token)
	s.Run("crane", "append", "-f", layer, "-t", ref)
	digest := strings.TrimSpace(s.Run("crane", "digest", ref))
	reg.AssertImage(t, "dev/tools/crane", "1", digest)
	if got, ok := readTar(t, s.Run("crane", "export", ref, "-"), "etc/berth.txt"); !ok || got != body {
		t.Errorf("crane export: etc/berth.txt = %q (found %v), want %q", got, ok, body)
	}

	if out := s.Fail("crane", "append", "-f", layer, "-t", reg.Ref("dev/other/app", ":1")); !strings.Contains(out, "401 Unauthorized") {
		t.Errorf("crane append outside the robot's repositories printed:\n%s\nwant 401 Unauthorized", out)
	}
	if code, _ := reg.Status(t, "GET", "/v2/dev/other/app/tags/list", reg.Authorization); code != 404 {
		t.Errorf("dev/other/app answers %d after the refused push, want 404", code)
	}
	s.Run("crane", "auth", "logout", reg.Host)
	if out := s.Fail("crane", "digest", ref); !strings.Contains(out, "UNAUTHORIZED") {
		t.Errorf("crane digest after logout printed:\n%s\nwant UNAUTHORIZED", out)
	}
}

func TestSkopeoWithCredentials(t *testing.T) {
	need(t, "skopeo")
	t.Parallel()
	reg, token := startCIRegistry(t)
	s := newAuthShell(t)
	archive := s.Path("image.tar")
	dockerArchive(t, archive, layerTar(t, s, "layer.tar", "pushed by dev/ci with skopeo\n"), "berth.test/skopeo:src")
	ref := "docker://" + reg.Ref("dev/tools/skopeo", ":1")
	creds := "dev/ci:" + token

	push := []string{"copy", "--dest-tls-verify=false", "--format", "oci", "docker-archive:" + archive, ref}
	if out := s.Fail("skopeo", push...); !strings.Contains(out, "unauthorized: authentication required") {
		t.Errorf("skopeo copy without credentials printed:\n%s\nwant unauthorized", out)
	}
	s.Run("skopeo", append([]string{"copy", "--dest-creds", creds}, push[1:]...)...)
	m, digest := reg.Manifest(t, "dev/tools/skopeo", "1")
	reg.AssertImage(t, "dev/tools/skopeo", "1", digest)

	var info struct{ Digest string }
	must(t, json.Unmarshal([]byte(s.Run("skopeo", "inspect", "--creds", creds, "--tls-verify=false", ref)), &info))
	if info.Digest != digest {
		t.Errorf("skopeo inspect: digest %s, want %s", info.Digest, digest)
	}
	layout := s.Path("layout")
	s.Run("skopeo", "copy", "--src-creds", creds, "--src-tls-verify=false", "--preserve-digests", ref, "oci:"+layout+":1")
	assertLayout(t, layout, digest, m)
}

func TestOrasWithCredentials(t *testing.T) {
	need(t, "oras")
	t.Parallel()
	reg, token := startCIRegistry(t)
	s := newAuthShell(t)
	const data = "an artifact pushed by dev/ci\n"
	must(t, os.WriteFile(s.Path("data.txt"), []byte(data), 0o644))
	ref := reg.Ref("dev/tools/oras", ":v1")
	push := []string{"push", "--plain-http", "--no-tty", "--format", "json", "--artifact-type", bundleType, ref, "data.txt:text/plain"}

	if out := s.Fail("oras", push...); !strings.Contains(out, "401") {
		t.Errorf("oras push without login printed:\n%s\nwant a 401", out)
	}
	if out := s.Feed(token, "oras", "login", "--plain-http", reg.Host, "-u", "dev/ci", "--password-stdin"); !strings.Contains(out, "Login Succeeded") {
		t.Errorf("oras login printed:\n%s\nwant Login Succeeded", out)
	}
	digest := orasDigest(t, s.Run("oras", push...))
	if m := reg.AssertImage(t, "dev/tools/oras", "v1", digest); m.ArtifactType != bundleType {
		t.Errorf("pushed artifact type %q, want %q", m.ArtifactType, bundleType)
	}
	s.Run("oras", "pull", "--plain-http", "--no-tty", "-o", s.Path("out"), ref)
	if got, err := os.ReadFile(s.Path("out", "data.txt")); err != nil || string(got) != data {
		t.Errorf("oras pull gave data.txt = %q (%v), want %q", got, err, data)
	}
}

func TestRegctlWithCredentials(t *testing.T) {
	need(t, "regctl")
	t.Parallel()
	reg, token := startCIRegistry(t)
	s := newAuthShell(t)
	archive := s.Path("image.tar")
	dockerArchive(t, archive, layerTar(t, s, "layer.tar", "pushed by dev/ci with regctl\n"), "berth.test/regctl:src")
	ref := reg.Ref("dev/tools/regctl", ":1")

	s.Run("regctl", "registry", "set", "--tls", "disabled", reg.Host)
	if out := s.Fail("regctl", "image", "import", ref, archive); !strings.Contains(out, "unauthorized") {
		t.Errorf("regctl image import without login printed:\n%s\nwant unauthorized", out)
	}
	s.Feed(token, "regctl", "registry", "login", reg.Host, "-u", "dev/ci", "--pass-stdin")
	s.Run("regctl", "image", "import", ref, archive)
	digest := strings.TrimSpace(s.Run("regctl", "image", "digest", ref))
	m := reg.AssertImage(t, "dev/tools/regctl", "1", digest)
	layout := s.Path("layout")
	s.Run("regctl", "image", "copy", ref, "ocidir://"+layout+":1")
	assertLayout(t, layout, digest, m)
}

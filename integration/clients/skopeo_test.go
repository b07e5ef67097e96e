package clients

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// dockerArchive writes a docker-archive (`docker save` format) of a
// one-layer image made from the layer tarball at layerTar, and returns
// the layer's diff ID.
func dockerArchive(t *testing.T, path, layerTar, tag string) string {
	t.Helper()
	layer, err := tarball.LayerFromFile(layerTar)
	must(t, err)
	img, err := mutate.AppendLayers(empty.Image, layer)
	must(t, err)
	img, err = mutate.Config(img, v1.Config{Cmd: []string{"/bin/sh"}})
	must(t, err)
	ref, err := name.NewTag(tag)
	must(t, err)
	must(t, tarball.WriteToFile(path, ref, img))
	diffID, err := layer.DiffID()
	must(t, err)
	return diffID.String()
}

// TestSkopeoCopiesArchiveToRegistryToOCILayout copies a docker-archive
// into the registry as an OCI image, then out to an OCI layout directory,
// and checks that the digest survives both hops.
func TestSkopeoCopiesArchiveToRegistryToOCILayout(t *testing.T) {
	need(t, "skopeo", "busybox")
	t.Parallel()
	s := newAuthShell(t)
	reg := startAuthRegistry(t, true)
	s.Feed(reg.Admin, "skopeo", "login", "--tls-verify=false", "-u", "dev/admin", "--password-stdin", reg.Host)
	archive := s.Path("image.tar")
	diffID := dockerArchive(t, archive, rootfs(t, s, "rootfs.tar"), "berth.test/skopeo:src")
	ref := "docker://" + reg.Ref("dev/tools/skopeo", ":1")

	s.Run("skopeo", "copy", "--dest-tls-verify=false", "--format", "oci", "docker-archive:"+archive, ref)
	m, digest := reg.Manifest(t, "dev/tools/skopeo", "1")
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || len(m.Layers) != 1 {
		t.Fatalf("pushed manifest is %s with %d layers, want an OCI manifest with 1", m.MediaType, len(m.Layers))
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	must(t, json.Unmarshal(reg.Blob(t, "dev/tools/skopeo", m.Config.Digest), &cfg))
	if !slices.Equal(cfg.RootFS.DiffIDs, []string{diffID}) {
		t.Errorf("pushed config's diff_ids %v, want the archive's [%s]", cfg.RootFS.DiffIDs, diffID)
	}
	reg.AssertImage(t, "dev/tools/skopeo", "1", digest)

	var info struct {
		Digest string
		Layers []string
	}
	must(t, json.Unmarshal([]byte(s.Run("skopeo", "inspect", "--tls-verify=false", ref)), &info))
	if info.Digest != digest || !slices.Equal(info.Layers, []string{m.Layers[0].Digest}) {
		t.Errorf("skopeo inspect: digest %s, layers %v; want %s, [%s]", info.Digest, info.Layers, digest, m.Layers[0].Digest)
	}
	raw, _ := reg.get(t, "/v2/dev/tools/skopeo/manifests/1", acceptAll)
	if got := s.Run("skopeo", "inspect", "--raw", "--tls-verify=false", ref); got != string(raw) {
		t.Errorf("skopeo inspect --raw printed\n%s\nthe registry serves\n%s", got, raw)
	}

	layout := s.Path("layout")
	s.Run("skopeo", "copy", "--src-tls-verify=false", "--preserve-digests", ref, "oci:"+layout+":1")
	var index manifest
	b, err := os.ReadFile(layout + "/index.json")
	must(t, err)
	must(t, json.Unmarshal(b, &index))
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != digest {
		t.Fatalf("OCI layout index %s, want one manifest %s", b, digest)
	}
	for _, d := range []string{digest, m.Config.Digest, m.Layers[0].Digest} {
		blob, err := os.ReadFile(layout + "/blobs/sha256/" + d[len("sha256:"):])
		if err != nil {
			t.Errorf("OCI layout lacks blob %s: %v", d, err)
		} else if got := digestOf(blob); got != d {
			t.Errorf("OCI layout blob %s hashes to %s", d, got)
		}
	}
}

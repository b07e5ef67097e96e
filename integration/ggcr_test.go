package integration

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// sizeInvalidAdvice is the part of the gateway's UNSUPPORTED message
// that tells a client what to do with a request over the limit.
const sizeInvalidAdvice = "Send blobs in chunks of at most the OCI-Chunk-Max-Length"

// testImages are multi-layer images with layers from a few KiB up to
// 3 MiB, each of which fits one request through the gateway.
var testImages = []struct {
	tag   string
	seed  int64
	sizes []int64
}{
	{"small", 1, []int64{4 * kib, 6 * kib, 8 * kib}},
	{"medium", 2, []int64{64 * kib, 512 * kib}},
	{"large", 3, []int64{3 * mib, 1 * mib, 16 * kib}},
}

func tagRef(t testing.TB, host, repo, tag string) name.Tag {
	t.Helper()
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatalf("tag reference: %v", err)
	}
	return ref
}

func digestRef(t testing.TB, host, repo string, d v1.Hash) name.Digest {
	t.Helper()
	ref, err := name.NewDigest(host+"/"+repo+"@"+d.String(), name.Insecure)
	if err != nil {
		t.Fatalf("digest reference: %v", err)
	}
	return ref
}

// pushImages pushes testImages to repo and returns them by tag.
func pushImages(t testing.TB, host, repo string) map[string]v1.Image {
	t.Helper()
	pushed := map[string]v1.Image{}
	for _, ti := range testImages {
		img := randomImage(t, ti.seed, ti.sizes...)
		if err := remote.Write(tagRef(t, host, repo, ti.tag), img); err != nil {
			t.Fatalf("push %s: %v", ti.tag, err)
		}
		pushed[ti.tag] = img
	}
	return pushed
}

// assertPullsBack pulls every image by tag and by digest and compares
// it with what was pushed.
func assertPullsBack(t *testing.T, host, repo string, pushed map[string]v1.Image) {
	t.Helper()
	for tag, img := range pushed {
		refs := map[string]name.Reference{
			tag + " by tag":    tagRef(t, host, repo, tag),
			tag + " by digest": digestRef(t, host, repo, mustDigest(t, img.Digest)),
		}
		for how, ref := range refs {
			t.Run(how, func(t *testing.T) {
				got, err := remote.Image(ref)
				if err != nil {
					t.Fatalf("pull %s: %v", ref, err)
				}
				assertSameImage(t, img, got)
			})
		}
	}
}

// assertManifestUnknown checks that err is the registry's 404
// MANIFEST_UNKNOWN.
func assertManifestUnknown(t testing.TB, err error) {
	t.Helper()
	var te *transport.Error
	if !errors.As(err, &te) {
		t.Fatalf("got error %v, want a registry error 404 MANIFEST_UNKNOWN", err)
	}
	if te.StatusCode != http.StatusNotFound {
		t.Errorf("status: got %d, want 404 (%v)", te.StatusCode, err)
	}
	if len(te.Errors) == 0 || te.Errors[0].Code != transport.ManifestUnknownErrorCode {
		t.Errorf("got %v, want code MANIFEST_UNKNOWN", err)
	}
}

func TestPushedImagesPullBackByTagAndDigest(t *testing.T) {
	host := startRegistry(t)
	pushed := pushImages(t, host, "dev/images")
	assertPullsBack(t, host, "dev/images", pushed)
}

func TestMultiPlatformIndexPullsBackWithEveryChild(t *testing.T) {
	host := startRegistry(t)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	platformImages := map[string]v1.Image{
		"amd64": randomImage(t, 10, 8*kib, 300*kib),
		"arm64": randomImage(t, 11, 12*kib, 200*kib),
	}
	multiPlatform := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: platformImages["amd64"], Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: platformImages["arm64"], Descriptor: v1.Descriptor{Platform: &arm64}},
	)
	randomIndex, err := random.Index(16*kib, 2, 3)
	if err != nil {
		t.Fatalf("random index: %v", err)
	}
	for _, tc := range []struct {
		name string
		idx  v1.ImageIndex
	}{{"platforms", multiPlatform}, {"random", randomIndex}} {
		t.Run(tc.name, func(t *testing.T) {
			repo := "dev/index/" + tc.name
			if err := remote.WriteIndex(tagRef(t, host, repo, "v1"), tc.idx); err != nil {
				t.Fatalf("push index: %v", err)
			}
			d := mustDigest(t, tc.idx.Digest)
			for _, ref := range []name.Reference{tagRef(t, host, repo, "v1"), digestRef(t, host, repo, d)} {
				got, err := remote.Index(ref)
				if err != nil {
					t.Fatalf("pull index %s: %v", ref, err)
				}
				assertSameIndex(t, tc.idx, got)
			}
		})
	}
	t.Run("platform selection", func(t *testing.T) {
		ref := tagRef(t, host, "dev/index/platforms", "v1")
		for arch, p := range map[string]v1.Platform{"amd64": amd64, "arm64": arm64} {
			got, err := remote.Image(ref, remote.WithPlatform(p))
			if err != nil {
				t.Fatalf("pull %s for %s: %v", ref, arch, err)
			}
			assertSameImage(t, platformImages[arch], got)
		}
	})
}

// assertSameIndex compares a pulled index with the one pushed, and each
// child image in full.
func assertSameIndex(t *testing.T, want, got v1.ImageIndex) {
	t.Helper()
	if w, g := mustDigest(t, want.Digest), mustDigest(t, got.Digest); w != g {
		t.Fatalf("index digest: got %s, want %s", g, w)
	}
	wm, err := want.IndexManifest()
	if err != nil {
		t.Fatalf("pushed index manifest: %v", err)
	}
	gm, err := got.IndexManifest()
	if err != nil {
		t.Fatalf("pulled index manifest: %v", err)
	}
	if len(gm.Manifests) != len(wm.Manifests) {
		t.Fatalf("index has %d children, want %d", len(gm.Manifests), len(wm.Manifests))
	}
	for _, desc := range wm.Manifests {
		wi, err := want.Image(desc.Digest)
		if err != nil {
			t.Fatalf("pushed child %s: %v", desc.Digest, err)
		}
		gi, err := got.Image(desc.Digest)
		if err != nil {
			t.Fatalf("pull child %s: %v", desc.Digest, err)
		}
		assertSameImage(t, wi, gi)
	}
}

func TestTagsAndCatalogListWhatWasPushed(t *testing.T) {
	host := startRegistry(t)
	img := randomImage(t, 20, 4*kib)
	pushes := map[string][]string{
		"dev/app":              {"v2", "latest", "v1"},
		"dev/team/service/api": {"1.0.0"},
	}
	for repo, tags := range pushes {
		for _, tag := range tags {
			if err := remote.Write(tagRef(t, host, repo, tag), img); err != nil {
				t.Fatalf("push %s:%s: %v", repo, tag, err)
			}
		}
	}
	for repo, tags := range pushes {
		r, err := name.NewRepository(host+"/"+repo, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.List(r)
		if err != nil {
			t.Fatalf("list %s: %v", repo, err)
		}
		want := slices.Sorted(slices.Values(tags))
		if !slices.Equal(got, want) {
			t.Errorf("tags of %s: got %v, want %v", repo, got, want)
		}
	}
	reg, err := name.NewRegistry(host, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Catalog(context.Background(), reg)
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	if want := []string{"dev/app", "dev/team/service/api"}; !slices.Equal(got, want) {
		t.Errorf("catalog: got %v, want %v", got, want)
	}
}

func TestDeleteByDigestMakesPullsFail404ManifestUnknown(t *testing.T) {
	host := startRegistry(t)
	const repo = "dev/deletes"
	pushed := pushImages(t, host, repo)
	gone := pushed["medium"]
	delete(pushed, "medium")
	d := mustDigest(t, gone.Digest)

	if err := remote.Delete(digestRef(t, host, repo, d)); err != nil {
		t.Fatalf("delete %s: %v", d, err)
	}
	t.Run("by digest", func(t *testing.T) {
		_, err := remote.Image(digestRef(t, host, repo, d))
		assertManifestUnknown(t, err)
	})
	t.Run("by its tag", func(t *testing.T) {
		_, err := remote.Image(tagRef(t, host, repo, "medium"))
		assertManifestUnknown(t, err)
	})
	t.Run("tag list drops it", func(t *testing.T) {
		r, _ := name.NewRepository(host+"/"+repo, name.Insecure)
		got, err := remote.List(r)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if want := []string{"large", "small"}; !slices.Equal(got, want) {
			t.Errorf("tags: got %v, want %v", got, want)
		}
	})
	t.Run("others still pull", func(t *testing.T) {
		assertPullsBack(t, host, repo, pushed)
	})
}

func TestCrossRepositoryCopyMountsLayers(t *testing.T) {
	host := startRegistry(t)
	img := randomImage(t, 30, 40*kib, 700*kib, 2*mib)
	if err := remote.Write(tagRef(t, host, "dev/source", "v1"), img); err != nil {
		t.Fatalf("push source: %v", err)
	}
	src, err := remote.Image(tagRef(t, host, "dev/source", "v1"))
	if err != nil {
		t.Fatalf("pull source: %v", err)
	}
	rec := &recorder{}
	if err := remote.Write(tagRef(t, host, "dev/copy", "v1"), src, remote.WithTransport(rec)); err != nil {
		t.Fatalf("copy to dev/copy: %v", err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	// Every blob, the config included, is mounted: none is uploaded again.
	blobs := len(layers) + 1
	mounted := 0
	for _, c := range rec.find(http.MethodPost, "mount=") {
		if c.status == http.StatusCreated {
			mounted++
		}
	}
	if mounted != blobs {
		t.Errorf("%d of %d blobs were mounted from dev/source (201 to POST ?mount=&from=); calls: %+v", mounted, blobs, rec.calls)
	}
	if patches := rec.find(http.MethodPatch, "/v2/dev/copy/"); len(patches) > 0 {
		t.Errorf("copy uploaded %d blobs instead of mounting them: %+v", len(patches), patches)
	}
	got, err := remote.Image(tagRef(t, host, "dev/copy", "v1"))
	if err != nil {
		t.Fatalf("pull copy: %v", err)
	}
	assertSameImage(t, img, got)
}

func TestLayerOverRequestLimitFailsWithUnsupported(t *testing.T) {
	host := startRegistry(t)
	const repo = "dev/limits"
	pushed := pushImages(t, host, repo)

	// 5 MiB of random bytes base64-encode to about 7 MB, over Lambda's
	// 6 MB invoke payload.
	big := randomImage(t, 40, 8*kib, 5*mib)
	err := remote.Write(tagRef(t, host, repo, "too-big"), big)
	if err == nil {
		t.Fatal("pushing a 5 MiB layer in one request succeeded; want UNSUPPORTED")
	}
	for _, want := range []string{"UNSUPPORTED", sizeInvalidAdvice} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("got %v, want a registry error with status 413", err)
	}
	t.Run("no manifest was written", func(t *testing.T) {
		_, err := remote.Image(tagRef(t, host, repo, "too-big"))
		assertManifestUnknown(t, err)
	})
	t.Run("earlier images are intact", func(t *testing.T) {
		assertPullsBack(t, host, repo, pushed)
	})
}

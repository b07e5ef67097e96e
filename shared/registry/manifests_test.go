package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
)

// TestManifests covers distribution-spec "Pulling manifests", "Pushing
// Manifests" and "Deleting Manifests" as Berth implements them.
func TestManifests(t *testing.T) {
	e := newEnv(t)
	const repo = "foo/bar"
	ctOCI := map[string]string{"Content-Type": oci.MediaTypeImageManifest}
	ctIndex := map[string]string{"Content-Type": oci.MediaTypeImageIndex}

	img := e.image(t, repo, 1)
	m1 := mustJSON(t, img)
	d1 := digest.FromBytes(m1)

	img.Annotations = map[string]string{"v": "2"}
	m2 := mustJSON(t, img) // pushed by its sha512 digest
	d2 := digest.SHA512.FromBytes(m2)

	img.Annotations = map[string]string{"v": "3"}
	m3 := mustJSON(t, img) // pushed by digest with ?tag=
	d3 := digest.FromBytes(m3)

	missing := oci.Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: digest.FromString("never pushed"), Size: 12}
	withMissingLayer := img
	withMissingLayer.Annotations = nil
	withMissingLayer.Layers = []oci.Descriptor{missing}

	// Config and layer are in foo/bar only; "other/repo" has neither.
	e.pushBlob(t, "other/repo", []byte("something else"))

	foreign := img
	foreign.Annotations = map[string]string{"v": "foreign"}
	foreign.Layers = []oci.Descriptor{{
		MediaType: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		Digest:    digest.FromString("foreign layer"), Size: 13, URLs: []string{"https://example.com/layer"},
	}}

	emptyCfg := e.pushBlob(t, repo, []byte("{}"))
	referrer := mustJSON(t, oci.Manifest{
		SchemaVersion: 2, MediaType: oci.MediaTypeImageManifest, ArtifactType: "application/vnd.example.sbom",
		Config:  &oci.Descriptor{MediaType: oci.MediaTypeEmptyJSON, Digest: emptyCfg, Size: 2},
		Layers:  []oci.Descriptor{{MediaType: oci.MediaTypeEmptyJSON, Digest: emptyCfg, Size: 2}},
		Subject: &oci.Descriptor{MediaType: oci.MediaTypeImageManifest, Digest: d1, Size: int64(len(m1))},
	})

	index := mustJSON(t, oci.Manifest{SchemaVersion: 2, MediaType: oci.MediaTypeImageIndex,
		Manifests: []oci.Descriptor{{MediaType: oci.MediaTypeImageManifest, Digest: d1, Size: int64(len(m1))}}})
	badIndex := mustJSON(t, oci.Manifest{SchemaVersion: 2, MediaType: oci.MediaTypeImageIndex,
		Manifests: []oci.Descriptor{{MediaType: oci.MediaTypeImageManifest, Digest: digest.FromString("no such manifest"), Size: 3}}})

	// A manifest over InlineManifestMax (64 KiB) is stored out of line.
	large := img
	large.Annotations = map[string]string{"pad": strings.Repeat("x", 100<<10)}
	mLarge := mustJSON(t, large)
	dLarge := digest.FromBytes(mLarge)
	// And one over the spec's 4 MiB is refused.
	huge := img
	huge.Annotations = map[string]string{"pad": strings.Repeat("x", oci.MaxManifestSize)}
	mHuge := mustJSON(t, huge)

	docker := img
	docker.MediaType = oci.MediaTypeDockerManifest
	docker.Annotations = map[string]string{"v": "docker"}
	mDocker := mustJSON(t, docker)

	url := func(ref any) string { return fmt.Sprintf("/v2/%s/manifests/%v", repo, ref) }
	e.run(t, []Case{
		{Description: "PUT manifest by tag → 201 with Location and Docker-Content-Digest",
			Method: "PUT", URL: url("latest"), Body: m1, Header: ctOCI, Code: 201,
			WantHeader: map[string]string{"Location": url(d1), "Docker-Content-Digest": d1.String(), "OCI-Subject": absent}},
		{Description: "GET manifest by tag → 200 with the body, its media type and digest",
			Method: "GET", URL: url("latest"), Code: 200, WantBody: string(m1),
			WantHeader: map[string]string{"Content-Type": oci.MediaTypeImageManifest, "Docker-Content-Digest": d1.String()}},
		{Description: "HEAD manifest by tag → 200 with Content-Length and digest",
			Method: "HEAD", URL: url("latest"), Code: 200,
			WantHeader: map[string]string{"Content-Length": strconv.Itoa(len(m1)), "Docker-Content-Digest": d1.String(), "Content-Type": oci.MediaTypeImageManifest}},
		{Description: "GET manifest by sha256 digest → 200", Method: "GET", URL: url(d1), Code: 200, WantBody: string(m1)},
		{Description: "HEAD manifest by sha256 digest → 200", Method: "HEAD", URL: url(d1), Code: 200,
			WantHeader: map[string]string{"Docker-Content-Digest": d1.String()}},
		{Description: "PUT manifest by sha512 digest → 201 with the sha512 digest",
			Method: "PUT", URL: url(d2), Body: m2, Header: ctOCI, Code: 201,
			WantHeader: map[string]string{"Docker-Content-Digest": d2.String(), "Location": url(d2)}},
		{Description: "GET manifest by sha512 digest → 200", Method: "GET", URL: url(d2), Code: 200, WantBody: string(m2),
			WantHeader: map[string]string{"Docker-Content-Digest": d2.String()}},
		{Description: "HEAD manifest by sha512 digest → 200", Method: "HEAD", URL: url(d2), Code: 200,
			WantHeader: map[string]string{"Content-Length": strconv.Itoa(len(m2))}},
		{Description: "PUT manifest whose body does not match the digest reference → 400 DIGEST_INVALID",
			Method: "PUT", URL: url(d1), Body: m3, Header: ctOCI, Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "PUT manifest by digest with ?tag= → 201 with one OCI-Tag per tag",
			Method: "PUT", URL: url(d3) + "?tag=a&tag=b", Body: m3, Header: ctOCI, Code: 201,
			WantHeader: map[string]string{"OCI-Tag": "a,b", "Docker-Content-Digest": d3.String()}},
		{Description: "GET manifest by a tag given with ?tag= → 200", Method: "GET", URL: url("b"), Code: 200, WantBody: string(m3)},
		{Description: "PUT manifest with an invalid ?tag= → 400 TAG_INVALID",
			Method: "PUT", URL: url(d3) + "?tag=-bad", Body: m3, Header: ctOCI, Code: 400, WantErrCode: errcode.TagInvalid},
		{Description: "PUT Docker schema 2 manifest → 201 and GET keeps its media type",
			Method: "PUT", URL: url("docker"), Body: mDocker, Header: map[string]string{"Content-Type": oci.MediaTypeDockerManifest}, Code: 201},
		{Description: "GET Docker schema 2 manifest → its Content-Type", Method: "GET", URL: url("docker"), Code: 200,
			WantHeader: map[string]string{"Content-Type": oci.MediaTypeDockerManifest}},
		{Description: "PUT Docker schema 1 manifest → 400 MANIFEST_INVALID",
			Method: "PUT", URL: url("old"), Body: []byte(`{"schemaVersion":1,"name":"foo/bar","tag":"old","fsLayers":[]}`),
			Header: map[string]string{"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"}, Code: 400, WantErrCode: errcode.ManifestInvalid},
		{Description: "PUT manifest of an unknown media type → 400 MANIFEST_INVALID",
			Method: "PUT", URL: url("odd"), Body: []byte(`{"schemaVersion":2,"mediaType":"application/vnd.example.thing+json"}`),
			Header: map[string]string{"Content-Type": "application/vnd.example.thing+json"}, Code: 400, WantErrCode: errcode.ManifestInvalid},
		{Description: "PUT manifest whose mediaType contradicts Content-Type → 400 MANIFEST_INVALID",
			Method: "PUT", URL: url("mismatch"), Body: m1, Header: ctIndex, Code: 400, WantErrCode: errcode.ManifestInvalid},
		{Description: "PUT manifest that is not JSON → 400 MANIFEST_INVALID",
			Method: "PUT", URL: url("junk"), Body: []byte("not json"), Header: ctOCI, Code: 400, WantErrCode: errcode.ManifestInvalid},
		{Description: "PUT manifest referencing a blob never pushed → 400 MANIFEST_BLOB_UNKNOWN",
			Method: "PUT", URL: url("missing"), Body: mustJSON(t, withMissingLayer), Header: ctOCI, Code: 400, WantErrCode: errcode.ManifestBlobUnknown,
			Check: func(t *testing.T, body []byte) {
				if !strings.Contains(string(body), missing.Digest.String()) {
					t.Errorf("error does not name the missing blob: %s", body)
				}
			}},
		{Description: "PUT manifest whose blobs are only in another repository → 400 MANIFEST_BLOB_UNKNOWN",
			Method: "PUT", URL: "/v2/other/repo/manifests/latest", Body: m1, Header: ctOCI, Code: 400, WantErrCode: errcode.ManifestBlobUnknown},
		{Description: "PUT index whose child manifest is missing → 400 MANIFEST_BLOB_UNKNOWN",
			Method: "PUT", URL: url("badindex"), Body: badIndex, Header: ctIndex, Code: 400, WantErrCode: errcode.ManifestBlobUnknown},
		{Description: "PUT index whose child manifests exist → 201",
			Method: "PUT", URL: url("index"), Body: index, Header: ctIndex, Code: 201,
			WantHeader: map[string]string{"Docker-Content-Digest": digest.FromBytes(index).String()}},
		{Description: "PUT manifest with a non-distributable layer never pushed → 201",
			Method: "PUT", URL: url("foreign"), Body: mustJSON(t, foreign), Header: ctOCI, Code: 201},
		{Description: "PUT manifest with a subject → 201 with OCI-Subject",
			Method: "PUT", URL: url(digest.FromBytes(referrer)), Body: referrer, Header: ctOCI, Code: 201,
			WantHeader: map[string]string{"OCI-Subject": d1.String()}},
		{Description: "PUT manifest over 4 MiB → 413 SIZE_INVALID",
			Method: "PUT", URL: url("huge"), Body: mHuge, Header: ctOCI, Code: 413, WantErrCode: errcode.SizeInvalid},
		{Description: "GET manifest refused for size → 404 MANIFEST_UNKNOWN",
			Method: "GET", URL: url("huge"), Code: 404, WantErrCode: errcode.ManifestUnknown},
		{Description: "PUT manifest over 64 KiB → 201 (stored out of line)",
			Method: "PUT", URL: url("large"), Body: mLarge, Header: ctOCI, Code: 201,
			WantHeader: map[string]string{"Docker-Content-Digest": dLarge.String()}},
		{Description: "GET manifest stored out of line → 200 with the exact body",
			Method: "GET", URL: url("large"), Code: 200, WantBody: string(mLarge),
			WantHeader: map[string]string{"Content-Length": strconv.Itoa(len(mLarge))}},
		{Description: "HEAD manifest stored out of line → 200 with its Content-Length",
			Method: "HEAD", URL: url(dLarge), Code: 200, WantHeader: map[string]string{"Content-Length": strconv.Itoa(len(mLarge))}},
		{Description: "GET manifest with a malformed digest → 400 DIGEST_INVALID",
			Method: "GET", URL: url("sha256:xyz"), Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "GET manifest with an unsupported digest algorithm → 400 DIGEST_INVALID",
			Method: "GET", URL: url("md5:d41d8cd98f00b204e9800998ecf8427e"), Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "PUT manifest with a malformed digest → 400 DIGEST_INVALID",
			Method: "PUT", URL: url("sha256:xyz"), Body: m1, Header: ctOCI, Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "GET manifest with an invalid tag → 400 TAG_INVALID",
			Method: "GET", URL: url("-bad"), Code: 400, WantErrCode: errcode.TagInvalid},
		{Description: "PUT manifest with a tag over 128 characters → 400 TAG_INVALID",
			Method: "PUT", URL: url(strings.Repeat("t", 129)), Body: m1, Header: ctOCI, Code: 400, WantErrCode: errcode.TagInvalid},
		{Description: "GET manifest with an invalid name → 400 NAME_INVALID",
			Method: "GET", URL: "/v2/Foo/manifests/latest", Code: 400, WantErrCode: errcode.NameInvalid},
		{Description: "PUT manifest with an invalid name → 400 NAME_INVALID",
			Method: "PUT", URL: "/v2/foo/-bar/manifests/latest", Body: m1, Header: ctOCI, Code: 400, WantErrCode: errcode.NameInvalid},
		{Description: "GET unknown tag → 404 MANIFEST_UNKNOWN",
			Method: "GET", URL: url("nope"), Code: 404, WantErrCode: errcode.ManifestUnknown},
		{Description: "HEAD unknown digest → 404 without a body",
			Method: "HEAD", URL: url(digest.FromString("nope")), Code: 404},
		{Description: "GET manifest from another repository → 404 MANIFEST_UNKNOWN",
			Method: "GET", URL: "/v2/other/repo/manifests/" + d1.String(), Code: 404, WantErrCode: errcode.ManifestUnknown},
		{Description: "DELETE tag → 202", Method: "DELETE", URL: url("a"), Code: 202},
		{Description: "GET deleted tag → 404 MANIFEST_UNKNOWN", Method: "GET", URL: url("a"), Code: 404, WantErrCode: errcode.ManifestUnknown},
		{Description: "GET other tag of a manifest whose tag was deleted → 200", Method: "GET", URL: url("b"), Code: 200},
		{Description: "GET manifest by digest after its tag was deleted → 200", Method: "GET", URL: url(d3), Code: 200},
		{Description: "DELETE unknown tag → 404 MANIFEST_UNKNOWN", Method: "DELETE", URL: url("a"), Code: 404, WantErrCode: errcode.ManifestUnknown},
		{Description: "DELETE manifest by digest → 202", Method: "DELETE", URL: url(d3), Code: 202},
		{Description: "GET deleted manifest → 404 MANIFEST_UNKNOWN", Method: "GET", URL: url(d3), Code: 404, WantErrCode: errcode.ManifestUnknown},
		{Description: "GET tag of a deleted manifest → 404 MANIFEST_UNKNOWN", Method: "GET", URL: url("b"), Code: 404, WantErrCode: errcode.ManifestUnknown},
		{Description: "DELETE manifest by sha512 digest → 202", Method: "DELETE", URL: url(d2), Code: 202},
		{Description: "HEAD manifest deleted by sha512 digest → 404", Method: "HEAD", URL: url(d2), Code: 404},
		{Description: "DELETE unknown manifest → 404 MANIFEST_UNKNOWN", Method: "DELETE", URL: url(d3), Code: 404, WantErrCode: errcode.ManifestUnknown},
		{Description: "DELETE manifest with a malformed digest → 400 DIGEST_INVALID",
			Method: "DELETE", URL: url("sha256:xyz"), Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "DELETE manifest with an invalid tag → 400 TAG_INVALID",
			Method: "DELETE", URL: url("-bad"), Code: 400, WantErrCode: errcode.TagInvalid},
		{Description: "GET manifest tagged before other tags were deleted → 200", Method: "GET", URL: url("latest"), Code: 200, WantBody: string(m1)},
	})

	// The large manifest is in object storage, not inline in metadata.
	man, err := e.meta.GetManifest(context.Background(), repo, dLarge)
	if err != nil {
		t.Fatal(err)
	}
	if man.BodyKey == "" || len(man.Body) != 0 {
		t.Errorf("large manifest stored inline (BodyKey %q, %d inline bytes)", man.BodyKey, len(man.Body))
	}
	if n, err := e.objs.Stat(context.Background(), man.BodyKey); err != nil || n != int64(len(mLarge)) {
		t.Errorf("large manifest object: size %d, err %v", n, err)
	}
}

// TestManifestUntypedBody: a PUT without a media type in the header takes
// the one in the body, and GET answers with it.
func TestManifestUntypedBody(t *testing.T) {
	e := newEnv(t)
	m := mustJSON(t, e.image(t, "r", 7))
	e.run(t, []Case{
		{Description: "PUT manifest with Content-Type application/json → 201",
			Method: "PUT", URL: "/v2/r/manifests/t", Body: m, Header: map[string]string{"Content-Type": "application/json"}, Code: 201},
		{Description: "GET it → the body's mediaType as Content-Type",
			Method: "GET", URL: "/v2/r/manifests/t", Code: 200, WantBody: string(m),
			WantHeader: map[string]string{"Content-Type": oci.MediaTypeImageManifest}},
		{Description: "GET it through the blobs endpoint → 200 with the manifest",
			Method: "GET", URL: "/v2/r/blobs/" + digest.FromBytes(m).String(), Code: 200, WantBody: string(m)},
		{Description: "PUT /v2/<name>/manifests/ with no reference → 404 UNSUPPORTED",
			Method: http.MethodPut, URL: "/v2/r/manifests/", Body: m, Code: 404, WantErrCode: errcode.Unsupported},
	})
}

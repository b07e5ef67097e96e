package registry_test

import (
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
)

// TestTagsAndCatalog covers "Listing Tags" and the catalog extension,
// with n/last pagination and the Link header.
func TestTagsAndCatalog(t *testing.T) {
	e := newEnv(t)
	m := mustJSON(t, e.image(t, "lib/app", 1))
	for _, tag := range []string{"v2", "latest", "v1", "v3"} {
		e.putManifest(t, "lib/app", tag, oci.MediaTypeImageManifest, m)
	}
	e.pushBlob(t, "a", []byte("a"))
	e.pushBlob(t, "z/last", []byte("z"))
	e.pushBlob(t, "lib/empty", []byte("e"))

	e.run(t, []Case{
		{Description: "GET tags/list → every tag in lexical order",
			Method: "GET", URL: "/v2/lib/app/tags/list", Code: 200,
			WantBody:   `{"name":"lib/app","tags":["latest","v1","v2","v3"]}`,
			WantHeader: map[string]string{"Content-Type": "application/json", "Link": absent}},
		{Description: "GET tags/list?n=2 → first page with a Link to the next",
			Method: "GET", URL: "/v2/lib/app/tags/list?n=2", Code: 200,
			WantBody:   `{"name":"lib/app","tags":["latest","v1"]}`,
			WantHeader: map[string]string{"Link": `</v2/lib/app/tags/list?last=v1&n=2>; rel="next"`}},
		{Description: "GET tags/list?n=2&last=v1 → last page without a Link",
			Method: "GET", URL: "/v2/lib/app/tags/list?n=2&last=v1", Code: 200,
			WantBody:   `{"name":"lib/app","tags":["v2","v3"]}`,
			WantHeader: map[string]string{"Link": absent}},
		{Description: "GET tags/list?last=v2 → tags after v2",
			Method: "GET", URL: "/v2/lib/app/tags/list?last=v2", Code: 200,
			WantBody: `{"name":"lib/app","tags":["v3"]}`},
		{Description: "GET tags/list?n=4 → all four, no Link",
			Method: "GET", URL: "/v2/lib/app/tags/list?n=4", Code: 200,
			WantBody:   `{"name":"lib/app","tags":["latest","v1","v2","v3"]}`,
			WantHeader: map[string]string{"Link": absent}},
		{Description: "GET tags/list?n=0 → empty list",
			Method: "GET", URL: "/v2/lib/app/tags/list?n=0", Code: 200, WantBody: `{"name":"lib/app","tags":[]}`},
		{Description: "GET tags/list with n not a number → 400",
			Method: "GET", URL: "/v2/lib/app/tags/list?n=x", Code: 400},
		{Description: "GET tags of a repository without tags → empty list",
			Method: "GET", URL: "/v2/lib/empty/tags/list", Code: 200, WantBody: `{"name":"lib/empty","tags":[]}`},
		{Description: "GET tags of an unknown repository → 404 NAME_UNKNOWN",
			Method: "GET", URL: "/v2/lib/nope/tags/list", Code: 404, WantErrCode: errcode.NameUnknown},
		{Description: "GET tags of a name that is a prefix of a repository → 404 NAME_UNKNOWN",
			Method: "GET", URL: "/v2/lib/tags/list", Code: 404, WantErrCode: errcode.NameUnknown},
		{Description: "GET tags with an invalid name → 400 NAME_INVALID",
			Method: "GET", URL: "/v2/lib/App/tags/list", Code: 400, WantErrCode: errcode.NameInvalid},
		{Description: "GET _catalog → every repository in lexical order",
			Method: "GET", URL: "/v2/_catalog", Code: 200,
			WantBody:   `{"repositories":["a","lib/app","lib/empty","z/last"]}`,
			WantHeader: map[string]string{"Link": absent}},
		{Description: "GET _catalog?n=1 → first page with a Link",
			Method: "GET", URL: "/v2/_catalog?n=1", Code: 200,
			WantBody:   `{"repositories":["a"]}`,
			WantHeader: map[string]string{"Link": `</v2/_catalog?last=a&n=1>; rel="next"`}},
		{Description: "GET _catalog?n=2&last=a → middle page with a Link",
			Method: "GET", URL: "/v2/_catalog?n=2&last=a", Code: 200,
			WantBody:   `{"repositories":["lib/app","lib/empty"]}`,
			WantHeader: map[string]string{"Link": `</v2/_catalog?last=lib%2Fempty&n=2>; rel="next"`}},
		{Description: "GET _catalog?n=2&last=lib/empty → last page without a Link",
			Method: "GET", URL: "/v2/_catalog?n=2&last=lib%2Fempty", Code: 200,
			WantBody:   `{"repositories":["z/last"]}`,
			WantHeader: map[string]string{"Link": absent}},
		{Description: "GET _catalog?n=0 → empty list",
			Method: "GET", URL: "/v2/_catalog?n=0", Code: 200, WantBody: `{"repositories":[]}`},
		{Description: "GET _catalog with a negative n → 400",
			Method: "GET", URL: "/v2/_catalog?n=-1", Code: 400},
	})
}

// referrersIndex decodes a referrers response.
type referrersIndex struct {
	SchemaVersion int              `json:"schemaVersion"`
	MediaType     string           `json:"mediaType"`
	Manifests     []oci.Descriptor `json:"manifests"`
}

// wantReferrers returns a Check that the body is an image index listing
// exactly the given digests, with their artifact types.
func wantReferrers(want map[digest.Digest]string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatal(err)
		}
		if string(raw["manifests"]) == "null" || raw["manifests"] == nil {
			t.Fatalf(`body %s lacks "manifests": []`, body)
		}
		var idx referrersIndex
		if err := json.Unmarshal(body, &idx); err != nil {
			t.Fatal(err)
		}
		if idx.SchemaVersion != 2 || idx.MediaType != oci.MediaTypeImageIndex {
			t.Errorf("not an image index: %s", body)
		}
		got := map[digest.Digest]string{}
		for _, d := range idx.Manifests {
			got[d.Digest] = d.ArtifactType
			if d.MediaType != oci.MediaTypeImageManifest || d.Size <= 0 {
				t.Errorf("descriptor %+v lacks media type or size", d)
			}
		}
		if len(got) != len(want) || len(idx.Manifests) != len(want) {
			t.Fatalf("referrers %v, want %v", got, want)
		}
		for d, at := range want {
			if got[d] != at {
				t.Errorf("referrer %s: artifactType %q, want %q", d, got[d], at)
			}
		}
	}
}

// TestReferrers covers "Listing Referrers" with and without the
// artifactType filter.
func TestReferrers(t *testing.T) {
	e := newEnv(t)
	const repo = "app"
	m := mustJSON(t, e.image(t, repo, 1))
	subject := e.putManifest(t, repo, "latest", oci.MediaTypeImageManifest, m)
	empty := e.pushBlob(t, repo, []byte("{}"))
	referrer := func(artifactType string, annotations map[string]string) digest.Digest {
		body := mustJSON(t, oci.Manifest{
			SchemaVersion: 2, MediaType: oci.MediaTypeImageManifest, ArtifactType: artifactType,
			Config:      &oci.Descriptor{MediaType: oci.MediaTypeEmptyJSON, Digest: empty, Size: 2},
			Layers:      []oci.Descriptor{{MediaType: oci.MediaTypeEmptyJSON, Digest: empty, Size: 2}},
			Subject:     &oci.Descriptor{MediaType: oci.MediaTypeImageManifest, Digest: subject, Size: int64(len(m))},
			Annotations: annotations,
		})
		return e.putManifest(t, repo, digest.FromBytes(body).String(), oci.MediaTypeImageManifest, body)
	}
	sbom := referrer("application/vnd.example.sbom", map[string]string{"n": "1"})
	sig := referrer("application/vnd.example.sig", nil)
	// A referrer whose subject was never pushed is accepted and listed.
	ghost := digest.FromString("ghost subject")
	ghostBody := mustJSON(t, oci.Manifest{
		SchemaVersion: 2, MediaType: oci.MediaTypeImageManifest,
		Config:  &oci.Descriptor{MediaType: "application/vnd.example.cfg", Digest: empty, Size: 2},
		Subject: &oci.Descriptor{MediaType: oci.MediaTypeImageManifest, Digest: ghost, Size: 1},
	})
	ghostRef := e.putManifest(t, repo, "ghostref", oci.MediaTypeImageManifest, ghostBody)

	url := "/v2/" + repo + "/referrers/"
	e.run(t, []Case{
		{Description: "GET referrers → 200 image index of every referrer",
			Method: "GET", URL: url + subject.String(), Code: 200,
			WantHeader: map[string]string{"Content-Type": oci.MediaTypeImageIndex, "OCI-Filters-Applied": absent},
			Check:      wantReferrers(map[digest.Digest]string{sbom: "application/vnd.example.sbom", sig: "application/vnd.example.sig"})},
		{Description: "GET referrers?artifactType= → only that type, with OCI-Filters-Applied",
			Method: "GET", URL: url + subject.String() + "?artifactType=application/vnd.example.sbom", Code: 200,
			WantHeader: map[string]string{"OCI-Filters-Applied": "artifactType"},
			Check:      wantReferrers(map[digest.Digest]string{sbom: "application/vnd.example.sbom"})},
		{Description: "GET referrers?artifactType= matching none → empty index, with OCI-Filters-Applied",
			Method: "GET", URL: url + subject.String() + "?artifactType=application/vnd.example.none", Code: 200,
			WantHeader: map[string]string{"OCI-Filters-Applied": "artifactType"},
			Check:      wantReferrers(nil)},
		{Description: "GET referrers of a subject never pushed → its referrers, artifactType from config",
			Method: "GET", URL: url + ghost.String(), Code: 200,
			Check: wantReferrers(map[digest.Digest]string{ghostRef: "application/vnd.example.cfg"})},
		{Description: `GET referrers of an unknown subject → 200 with "manifests": []`,
			Method: "GET", URL: url + digest.FromString("unknown").String(), Code: 200,
			WantHeader: map[string]string{"Content-Type": oci.MediaTypeImageIndex},
			WantBody:   `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`},
		{Description: "GET referrers in another repository → 200 empty",
			Method: "GET", URL: "/v2/other/referrers/" + subject.String(), Code: 200, Check: wantReferrers(nil)},
		{Description: "GET referrers with a malformed digest → 400 DIGEST_INVALID",
			Method: "GET", URL: url + "sha256:xyz", Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "GET referrers with a tag instead of a digest → 400 DIGEST_INVALID",
			Method: "GET", URL: url + "latest", Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "GET referrers with an invalid name → 400 NAME_INVALID",
			Method: "GET", URL: "/v2/APP/referrers/" + subject.String(), Code: 400, WantErrCode: errcode.NameInvalid},
		{Description: "DELETE a referrer → 202", Method: "DELETE", URL: "/v2/" + repo + "/manifests/" + sig.String(), Code: 202},
		{Description: "GET referrers after deleting one → the rest",
			Method: "GET", URL: url + subject.String(), Code: 200,
			Check: wantReferrers(map[digest.Digest]string{sbom: "application/vnd.example.sbom"})},
	})
}

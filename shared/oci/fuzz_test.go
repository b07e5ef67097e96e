package oci

import (
	"regexp"
	"strings"
	"testing"
)

// reference is the distribution-spec's repository name grammar, written
// out whole, as an oracle for ValidName.
var reference = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)

// FuzzValidName checks ValidName against the spec's grammar plus
// Berth's limits (255 bytes, MaxComponents components): it accepts
// exactly those names, and never panics.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"dev/app", "a", "dev//app", "dev/app/", "/dev", "dev/App", "dev/a..b", "dev/a__b", "dev/a---b",
		"dev/a/b/c/d/e/f/g", "dev/a/b/c/d/e/f/g/h", strings.Repeat("a", 255), strings.Repeat("a", 256), "dev/é", "dev/a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := reference.MatchString(name) && len(name) <= MaxNameLength && strings.Count(name, "/") < MaxComponents
		if got := ValidName(name) == nil; got != want {
			t.Fatalf("ValidName(%q) ok = %v, want %v", name, got, want)
		}
	})
}

// tagReference is the spec's tag grammar, as an oracle for ValidTag.
var tagReference = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// FuzzValidTag checks ValidTag against the spec's tag grammar.
func FuzzValidTag(f *testing.F) {
	for _, s := range []string{"v1", "latest", "_x", ".x", "-x", "a.b-c_d", strings.Repeat("a", 128), strings.Repeat("a", 129), "a:b", "é", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		if got, want := ValidTag(tag), tagReference.MatchString(tag); got != want {
			t.Fatalf("ValidTag(%q) = %v, want %v", tag, got, want)
		}
	})
}

// FuzzParseManifest checks the manifest and index parser on any body and
// Content-Type: it never panics, and whatever it accepts is a schema 2
// manifest of a supported media type whose every reference is a valid
// digest, with an image's config present and an index's config and
// layers absent.
func FuzzParseManifest(f *testing.F) {
	const d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	for _, s := range []struct{ ct, body string }{
		{MediaTypeImageManifest, `{"schemaVersion":2,"mediaType":"` + MediaTypeImageManifest + `","config":{"mediaType":"a","digest":"` + d + `","size":0},"layers":[{"mediaType":"b","digest":"` + d + `","size":0}]}`},
		{MediaTypeImageIndex, `{"schemaVersion":2,"manifests":[{"mediaType":"` + MediaTypeImageManifest + `","digest":"` + d + `","size":1}]}`},
		{"", `{"schemaVersion":2,"config":{"digest":"` + d + `"},"subject":{"digest":"` + d + `"}}`},
		{"application/json", `{"schemaVersion":2,"manifests":[]}`},
		{MediaTypeDockerManifest, `{"schemaVersion":2,"config":{"digest":"sha256:zz"}}`},
		{"application/vnd.docker.distribution.manifest.v1+prettyjws", `{}`},
		{MediaTypeImageIndex, `{"schemaVersion":2,"config":{"digest":"` + d + `"},"manifests":[]}`},
		{MediaTypeImageManifest, `[`},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		m, mt, err := ParseManifest(contentType, body)
		if err != nil {
			if m != nil || mt != "" {
				t.Fatalf("refused with a result: %v", err)
			}
			return
		}
		if m.SchemaVersion != 2 {
			t.Fatalf("accepted schemaVersion %d", m.SchemaVersion)
		}
		switch mt {
		case MediaTypeImageManifest, MediaTypeDockerManifest:
			if m.Config == nil || m.Manifests != nil {
				t.Fatalf("accepted an image manifest without config or with manifests: %s", body)
			}
		case MediaTypeImageIndex, MediaTypeDockerList:
			if m.Config != nil || m.Layers != nil {
				t.Fatalf("accepted an index with config or layers: %s", body)
			}
		default:
			t.Fatalf("accepted media type %q", mt)
		}
		for _, r := range m.References() {
			if err := r.Digest.Validate(); err != nil || r.Size < 0 {
				t.Fatalf("accepted reference %q of size %d: %v", r.Digest, r.Size, err)
			}
		}
		if m.Subject != nil && m.Subject.Digest.Validate() != nil {
			t.Fatalf("accepted subject %q", m.Subject.Digest)
		}
	})
}

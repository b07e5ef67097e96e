package oci

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"dev/app", true}, {"a", true}, {"a/b/c-d/e_f/g.h/i__j", true}, {"x/y--z", true},
		{"", false}, {"Dev/app", false}, {"dev/../app", false}, {"dev//app", false}, {"dev/app/", false},
		{"-dev", false}, {"dev_", false}, {"dev%2fapp", false}, {strings.Repeat("a", 256), false},
	} {
		if err := ValidName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestValidTagAndDigest(t *testing.T) {
	if !ValidTag("v1.0_rc-1") || ValidTag(".hidden") || ValidTag(strings.Repeat("t", 129)) || ValidTag("a:b") {
		t.Error("tag grammar")
	}
	sha256 := "sha256:" + strings.Repeat("a", 64)
	sha512 := "sha512:" + strings.Repeat("b", 128)
	for _, s := range []string{sha256, sha512} {
		if _, err := ParseDigest(s); err != nil {
			t.Errorf("ParseDigest(%s): %v", s, err)
		}
	}
	for _, s := range []string{"sha256:abc", "md5:" + strings.Repeat("a", 32), "sha384:" + strings.Repeat("c", 96), "sha256:" + strings.Repeat("A", 64)} {
		if _, err := ParseDigest(s); err == nil {
			t.Errorf("ParseDigest(%s) accepted", s)
		}
	}
}

func TestParseManifest(t *testing.T) {
	cfg := `{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2}`
	img := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + cfg + `,"layers":[]}`
	for _, tc := range []struct {
		name, ct, body, wantType, wantErr string
	}{
		{"OCI manifest", MediaTypeImageManifest, img, MediaTypeImageManifest, ""},
		{"type from the body when the header is generic", "application/json", img, MediaTypeImageManifest, ""},
		{"header and body disagree", MediaTypeDockerManifest, img, "", "does not match"},
		{"schema 1", "application/vnd.docker.distribution.manifest.v1+prettyjws", `{}`, "", "schema 1"},
		{"unknown type", "application/x-thing", `{"schemaVersion":2}`, "", "not supported"},
		{"index with layers", MediaTypeImageIndex, `{"schemaVersion":2,"layers":[]}`, "", "must not carry"},
		{"not JSON", MediaTypeImageManifest, `{`, "", "not valid JSON"},
		{"bad descriptor digest", MediaTypeImageManifest, strings.Replace(img, "sha256:", "sha256:zz", 1), "", "digest"},
		{"schemaVersion 1", MediaTypeImageManifest, strings.Replace(img, `"schemaVersion":2`, `"schemaVersion":1`, 1), "", "schemaVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, mt, err := ParseManifest(tc.ct, []byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || mt != tc.wantType || m.Config == nil {
				t.Fatalf("got %v %q %v", m, mt, err)
			}
		})
	}
}

func TestNonDistributable(t *testing.T) {
	if !NonDistributable("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip") ||
		!NonDistributable("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip") ||
		NonDistributable("application/vnd.oci.image.layer.v1.tar+gzip") {
		t.Fatal("non-distributable media types")
	}
}

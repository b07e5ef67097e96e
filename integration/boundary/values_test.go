package boundary

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
)

// value is one boundary value for a slot.
type value struct {
	label string
	raw   string // unescaped
	// valid says the registry's grammar allows it (so the answer is
	// about existence, not grammar).
	valid bool
	// esc, when set, is how the value is written in a path (instead of
	// escaping raw segment by segment).
	esc string
}

func a(n int) string { return strings.Repeat("a", n) }

func hex(n int) string { return strings.Repeat("0", n) }

// The boundary values of each slot: empty, the longest valid, one byte
// more, a value past each of DynamoDB's key limits where it matters
// (1,024 bytes for a sort key, 2,048 for a partition key), 5,000 bytes,
// non-ASCII and NUL.
var (
	repoNames = []value{
		{"dev/app (exists)", "dev/app", true, ""},
		{"255 bytes (max)", "dev/" + a(251), true, ""},
		{"256 bytes", "dev/" + a(252), false, ""},
		{"1,100 bytes", "dev/" + a(1096), false, ""},
		{"2,100-byte tenancy", a(2100) + "/app", false, ""},
		{"5,000 bytes", "dev/" + a(4996), false, ""},
		{"an empty component", "dev//app", false, ""},
		{"non-ASCII", "dev/é", false, ""},
		{"NUL", "dev/a\x00b", false, ""},
		{"upper case", "dev/UPPER", false, ""},
		{"two dots", "dev/not..valid", false, ""},
		{"9 components", "dev/a/b/c/d/e/f/g/h", false, ""},
		{"a quoted challenge parameter", `dev/a",realm="http://evil.example/token",x="`, false, "dev/" + url.PathEscape(`a",realm="http://evil.example/token",x="`)},
	}
	tags = []value{
		{"v1 (exists)", "v1", true, ""},
		{"128 bytes (max)", a(128), true, ""},
		{"129 bytes", a(129), false, ""},
		{"1,100 bytes", a(1100), false, ""},
		{"5,000 bytes", a(5000), false, ""},
		{"non-ASCII", "é", false, ""},
		{"NUL", "a\x00", false, ""},
		{"a leading dot", ".a", false, ""},
	}
	digests = []value{
		{"sha256 (unknown)", "sha256:" + hex(64), true, ""},
		{"sha512 (max)", "sha512:" + hex(128), true, ""},
		{"65 hex digits", "sha256:" + hex(65), false, ""},
		{"1,100 bytes", "sha256:" + hex(1093), false, ""},
		{"2,100 bytes", "sha256:" + hex(2093), false, ""},
		{"5,000 bytes", "sha256:" + hex(4993), false, ""},
		{"non-ASCII", "sha256:é", false, ""},
		{"NUL", "sha256:\x00", false, ""},
		{"an unknown algorithm", "md5:d41d8cd98f00b204e9800998ecf8427e", false, ""},
	}
	uploadIDs = []value{
		{"32 hex (unknown)", hex(32), true, ""},
		{"33 bytes", hex(33), false, ""},
		{"1,100 bytes", hex(1100), false, ""},
		{"2,100 bytes", hex(2100), false, ""},
		{"5,000 bytes", hex(5000), false, ""},
		{"non-ASCII", "é", false, ""},
		{"NUL", "\x00", false, ""},
	}
	numbers = []value{
		{"0", "0", false, ""},
		{"-1", "-1", false, ""},
		{"10^9", "1000000000", false, ""},
		{"not a number", "abc", false, ""},
		{"5,000 digits", strings.Repeat("9", 5000), false, ""},
		{"NUL", "1\x00", false, ""},
	}
	tenancies = []value{
		{"dev (exists)", "dev", true, ""},
		{"63 bytes (max)", a(63), true, ""},
		{"64 bytes", a(64), false, ""},
		{"1,100 bytes", a(1100), false, ""},
		{"2,100 bytes", a(2100), false, ""},
		{"5,000 bytes", a(5000), false, ""},
		{"non-ASCII", "dév", false, ""},
		{"NUL", "d\x00v", false, ""},
	}
	users = []value{
		{"64 bytes (max)", a(64), true, ""},
		{"65 bytes", a(65), false, ""},
		{"1,021 bytes", a(1021), false, ""},
		{"1,100 bytes", a(1100), false, ""},
		{"5,000 bytes", a(5000), false, ""},
		{"non-ASCII", "é", false, ""},
		{"NUL", "a\x00", false, ""},
	}
	groupNames = []value{
		{"100 bytes (max)", a(100), true, ""},
		{"101 bytes", a(101), false, ""},
		{"1,100 bytes", a(1100), false, ""},
		{"2,000 bytes", a(2000), false, ""},
		{"5,000 bytes", a(5000), false, ""},
		{"non-ASCII", "é", false, ""},
		{"NUL", "a\x00", false, ""},
	}
	policyNames = groupNames
	tokenIDs    = []value{
		{"16 bytes (unknown)", a(16), true, ""},
		{"17 bytes", a(17), false, ""},
		{"1,100 bytes", a(1100), false, ""},
		{"5,000 bytes", a(5000), false, ""},
		{"non-ASCII", "é", false, ""},
		{"NUL", "a\x00", false, ""},
	}
	// cursors are the values of last=, before= and after=.
	cursors = []value{
		{"64 bytes", a(64), true, ""},
		{"1,100 bytes", a(1100), false, ""},
		{"2,100 bytes", a(2100), false, ""},
		{"5,000 bytes", a(5000), false, ""},
		{"non-ASCII", "é", false, ""},
		{"NUL", "a\x00", false, ""},
	}
)

// seg escapes one path segment; name escapes a repository name's
// segments, keeping its slashes.
func seg(s string) string { return url.PathEscape(s) }

func name(v value) string {
	if v.esc != "" {
		return v.esc
	}
	parts := strings.Split(v.raw, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func nameOf(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func q(s string) string { return url.QueryEscape(s) }

// The image seeded as dev/app:v1.
const manifestType = "application/vnd.oci.image.manifest.v1+json"

var (
	appConfig   = []byte(`{"architecture":"amd64","os":"linux"}`)
	appLayer    = []byte("boundary layer")
	appManifest = func() []byte {
		b, _ := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": manifestType,
			"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digestOf(appConfig), "size": len(appConfig)},
			"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digestOf(appLayer), "size": len(appLayer)}},
		})
		return b
	}()
	appDigest = digestOf(appManifest)
)

func digestOf(b []byte) string { return digest.NewDigestFromBytes(digest.SHA256, sha(b)).String() }

func sha(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func label(slot string, v value) string { return fmt.Sprintf("%s=%s", slot, v.label) }
